"""GetDocument: who may read, what they get, and that the unreadable looks like the missing."""

from __future__ import annotations

import pytest

from docbus.core.values import OrgRole
from tests.unit.conftest import ADA, ALICE, BOB, CAROL, DAVE, MALLORY, NOBODY, World


async def test_a_reader_gets_the_document_with_its_versions_oldest_first(world: World) -> None:
    await world.upload("d1", name="v1.pdf")
    world.clock.advance(10)
    await world.upload("d1", name="v2.pdf")
    world.clock.advance(10)
    await world.upload("d1", name="v3.pdf")
    reply = await world.get("d1", ALICE)
    assert reply["ok"]
    doc = reply["data"]
    assert (doc["version"], doc["name"]) == (3, "v3.pdf")
    assert [v["version"] for v in doc["versions"]] == [1, 2, 3]
    assert [v["name"] for v in doc["versions"]] == ["v1.pdf", "v2.pdf", "v3.pdf"]
    times = [v["uploaded_at"][11:19] for v in doc["versions"]]
    assert times == ["10:00:00", "10:00:10", "10:00:20"]


@pytest.mark.parametrize("reader", [ALICE, BOB, CAROL, ADA])
async def test_every_role_and_the_admin_can_read(shared_doc: World, reader: str) -> None:
    reply = await shared_doc.get("d1", reader)
    assert reply["ok"]
    assert reply["data"]["doc_id"] == "d1"


async def test_the_get_reply_matches_the_upload_reply_plus_versions(world: World) -> None:
    uploaded = (await world.upload("d1")).decoded["data"]
    got = (await world.get("d1", ALICE))["data"]
    assert {k: v for k, v in got.items() if k != "versions"} == uploaded


@pytest.mark.parametrize("reader", [DAVE, NOBODY, MALLORY])
async def test_a_reader_without_read_gets_exactly_the_reply_for_a_missing_document(
    shared_doc: World, reader: str
) -> None:
    missing = await World().get("d1", reader)  # the same world, but d1 was never uploaded
    assert missing["ok"] is False
    assert missing["error"]["code"] == "not_found"
    assert await shared_doc.get("d1", reader) == missing


async def test_an_admin_reads_every_document_of_the_org(world: World) -> None:
    for i, uploader in enumerate((ALICE, BOB, CAROL)):
        await world.upload(f"d{i}", by=uploader)
    for i in range(3):
        assert (await world.get(f"d{i}", ADA))["ok"]


async def test_an_admin_of_another_org_reads_nothing_here(shared_doc: World) -> None:
    shared_doc.member("globex", MALLORY, OrgRole.ADMIN)
    reply = await shared_doc.get("d1", MALLORY)
    assert reply["error"]["code"] == "not_found"


async def test_a_share_on_a_document_of_an_org_one_left_gives_nothing(shared_doc: World) -> None:
    del shared_doc.db.state.memberships[("acme", CAROL)]
    reply = await shared_doc.get("d1", CAROL)
    assert reply["error"]["code"] == "not_found"


async def test_a_second_get_is_served_from_the_cache(shared_doc: World) -> None:
    first = await shared_doc.get("d1", CAROL)
    second = await shared_doc.get("d1", CAROL)
    assert second == first
    assert shared_doc.cache.hits == 1


async def test_readers_do_not_share_cached_replies(shared_doc: World) -> None:
    assert (await shared_doc.get("d1", ALICE))["ok"]
    assert (await shared_doc.get("d1", DAVE))["error"]["code"] == "not_found"
