"""UploadDocument through the bus: version 1, later versions, and who may do either."""

from __future__ import annotations

import asyncio
import json

import pytest

from docbus.core.values import Role
from tests.unit.conftest import (
    ADA,
    ALICE,
    ARCHIVE,
    BOB,
    CAROL,
    DAVE,
    ELSEWHERE,
    MALLORY,
    NOBODY,
    OTHER_ORG,
    REPORTS,
    World,
    error_code,
)


async def test_version_1_makes_the_uploader_creator_and_owner(world: World) -> None:
    outcome = await world.upload("d1", by=BOB)
    data = outcome.decoded["data"]
    assert (data["doc_id"], data["version"], data["owner_id"]) == ("d1", 1, BOB)
    assert (data["org_id"], data["folder_id"]) == ("acme", REPORTS)
    assert world.role("d1", BOB) is Role.OWNER


async def test_the_uploader_of_version_1_can_share_it(world: World) -> None:
    await world.upload("d1", by=BOB)
    outcome = await world.share("d1", CAROL, Role.VIEWER, by=BOB)
    assert outcome.decoded["ok"], outcome.reply
    assert world.role("d1", CAROL) is Role.VIEWER


async def test_an_admin_uploading_version_1_becomes_its_owner_too(world: World) -> None:
    await world.upload("d1", by=ADA)
    assert world.role("d1", ADA) is Role.OWNER


async def test_version_1_emits_document_uploaded_with_the_document(world: World) -> None:
    outcome = await world.upload("d1")
    assert world.routing_keys == ["document.uploaded"]
    [event] = world.events
    assert event["type"] == "DocumentUploaded"
    assert event["org_id"] == "acme"
    assert event["uploaded_by"] == ALICE
    assert event["document"] == outcome.decoded["data"]


async def test_content_fields_are_carried_into_the_document_and_its_versions(
    world: World,
) -> None:
    await world.upload("d1", tags=("a", "b"), size_bytes=7, sha256="f" * 64)
    await world.upload("d1", name="v2.txt", mime_type="text/plain", blob_uri="s3://v2",
                       tags=(), size_bytes=0, sha256=None)
    reply = await world.get("d1", ALICE)
    doc = reply["data"]
    assert (doc["name"], doc["mime_type"], doc["blob_uri"]) == ("v2.txt", "text/plain", "s3://v2")
    assert (doc["tags"], doc["size_bytes"], doc["sha256"]) == ([], 0, None)
    v1, v2 = doc["versions"]
    assert (v1["size_bytes"], v1["sha256"], v1["uploaded_by"]) == (7, "f" * 64, ALICE)
    assert (v2["size_bytes"], v2["sha256"], v2["blob_uri"]) == (0, None, "s3://v2")
    assert [v.content.tags for v in world.db.state.versions["d1"]] == [("a", "b"), ()]


async def test_an_editor_uploads_the_next_version_and_the_creator_stays(world: World) -> None:
    await world.upload("d1")
    await world.share("d1", BOB, Role.EDITOR)
    world.clock.advance(60)
    outcome = await world.upload("d1", by=BOB, name="v2.pdf")
    data = outcome.decoded["data"]
    assert (data["version"], data["owner_id"], data["name"]) == (2, ALICE, "v2.pdf")
    assert data["updated_at"] == "2026-11-24T10:01:00.000000Z"
    assert data["created_at"] == "2026-11-24T10:00:00.000000Z"
    assert world.role("d1", BOB) is Role.EDITOR  # writing a version grants nothing
    assert world.events[-1]["uploaded_by"] == BOB
    assert world.events[-1]["document"]["version"] == 2


async def test_an_admin_without_a_role_uploads_the_next_version(world: World) -> None:
    await world.upload("d1")
    outcome = await world.upload("d1", by=ADA)
    assert outcome.decoded["data"]["version"] == 2
    assert world.role("d1", ADA) is None


async def test_every_version_emits_document_uploaded(world: World) -> None:
    for _ in range(3):
        await world.upload("d1")
    assert world.routing_keys == ["document.uploaded"] * 3
    assert [e["document"]["version"] for e in world.events] == [1, 2, 3]
    assert len({e["event_id"] for e in world.events}) == 3


async def test_a_viewer_cannot_upload_a_new_version(world: World) -> None:
    await world.upload("d1")
    await world.share("d1", CAROL, Role.VIEWER)
    events = len(world.events)
    outcome = await world.upload("d1", by=CAROL)
    assert error_code(outcome.reply) == "forbidden"
    assert world.db.state.documents["d1"].version == 1
    assert len(world.events) == events


async def test_a_member_without_a_role_is_told_the_document_does_not_exist(
    world: World,
) -> None:
    await world.upload("d1")
    outcome = await world.upload("d1", by=DAVE)
    assert error_code(outcome.reply) == "not_found"
    assert outcome.decoded["error"]["message"] == "document d1 not found"
    assert world.db.state.documents["d1"].version == 1


async def test_a_new_version_into_another_folder_is_a_conflict(world: World) -> None:
    await world.upload("d1")
    outcome = await world.upload("d1", folder_id=ARCHIVE)
    assert error_code(outcome.reply) == "conflict"
    assert world.db.state.documents["d1"].folder_id == REPORTS
    assert len(world.db.state.versions["d1"]) == 1


async def test_a_member_without_a_role_uploading_into_another_folder_gets_not_found(
    world: World,
) -> None:
    await world.upload("d1")
    outcome = await world.upload("d1", by=DAVE, folder_id=ARCHIVE)
    assert error_code(outcome.reply) == "not_found"


@pytest.mark.parametrize(("uploader", "org_id"), [(NOBODY, "acme"), (MALLORY, "acme"),
                                                   (ALICE, OTHER_ORG)])
async def test_a_non_member_of_the_org_is_told_the_folder_does_not_exist(
    world: World, uploader: str, org_id: str
) -> None:
    folder_id = REPORTS if org_id == "acme" else ELSEWHERE
    outcome = await world.upload("d1", by=uploader, org_id=org_id, folder_id=folder_id)
    missing = await world.upload("d2", by=uploader, org_id=org_id, folder_id="f-ghost")
    assert json.loads(outcome.reply) == {
        "ok": False,
        "error": {"code": "not_found", "message": f"folder {folder_id} not found", "details": []},
    }
    assert json.loads(missing.reply)["error"] == {
        "code": "not_found", "message": "folder f-ghost not found", "details": []
    }
    assert world.db.state.documents == {}
    assert world.events == []


async def test_a_folder_of_another_org_is_not_found(world: World) -> None:
    outcome = await world.upload("d1", folder_id=ELSEWHERE)
    assert error_code(outcome.reply) == "not_found"
    assert world.db.state.documents == {}


async def test_a_missing_folder_is_not_found(world: World) -> None:
    outcome = await world.upload("d1", folder_id="f-ghost")
    assert error_code(outcome.reply) == "not_found"
    assert world.db.state.documents == {}


async def test_concurrent_uploads_of_one_document_give_consecutive_versions(
    world: World,
) -> None:
    outcomes = await asyncio.gather(*(world.upload("d1", name=f"n{i}.pdf") for i in range(5)))
    assert sorted(o.decoded["data"]["version"] for o in outcomes) == [1, 2, 3, 4, 5]
    assert [v.version for v in world.db.state.versions["d1"]] == [1, 2, 3, 4, 5]
    assert world.role("d1", ALICE) is Role.OWNER
