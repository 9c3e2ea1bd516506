"""ShareDocument through the bus."""

from __future__ import annotations

import pytest

from docbus.core.policies import Access
from docbus.core.values import Capability, OrgRole, Role
from tests.unit.conftest import ADA, ALICE, BOB, CAROL, DAVE, MALLORY, NOBODY, World, error_code


async def test_an_owner_shares_and_gets_the_share_back(shared_doc: World) -> None:
    outcome = await shared_doc.share("d1", DAVE, Role.VIEWER)
    assert outcome.decoded == {
        "ok": True, "data": {"doc_id": "d1", "user_id": DAVE, "role": "viewer", "expires_at": None},
    }
    assert shared_doc.role("d1", DAVE) is Role.VIEWER


@pytest.mark.parametrize("role", list(Role))
async def test_the_stored_role_is_the_role_itself_not_a_capability(
    world: World, role: Role
) -> None:
    await world.upload("d1")
    await world.share("d1", BOB, role)
    stored = world.role("d1", BOB)
    assert stored is role
    assert Access(BOB, OrgRole.MEMBER, stored).capabilities == role.capabilities


@pytest.mark.parametrize("role", list(Role))
async def test_a_share_is_published_under_its_roles_routing_key(world: World, role: Role) -> None:
    await world.upload("d1")
    world.clock.advance(5)
    await world.share("d1", BOB, role)
    assert world.routing_keys[-1] == f"document.shared.{role.value}"
    event = world.events[-1]
    assert {k: v for k, v in event.items() if k not in {"event_id"}} == {
        "type": "DocumentShared", "org_id": "acme", "occurred_at": "2026-11-24T10:00:05.000000Z",
        "document_id": "d1", "shared_with": BOB, "shared_by": ALICE, "role": role.value,
        "expires_at": None, "at": "2026-11-24T10:00:05.000000Z",
    }


async def test_an_editor_cannot_share(shared_doc: World) -> None:
    outcome = await shared_doc.share("d1", DAVE, Role.VIEWER, by=BOB)
    assert error_code(outcome.reply) == "forbidden"
    assert shared_doc.role("d1", DAVE) is None
    assert shared_doc.events == []


async def test_a_viewer_cannot_share(shared_doc: World) -> None:
    outcome = await shared_doc.share("d1", CAROL, Role.OWNER, by=CAROL)
    assert error_code(outcome.reply) == "forbidden"
    assert shared_doc.role("d1", CAROL) is Role.VIEWER


@pytest.mark.parametrize("sharer", [DAVE, NOBODY, MALLORY])
async def test_a_sharer_who_cannot_read_is_told_the_document_does_not_exist(
    shared_doc: World, sharer: str
) -> None:
    outcome = await shared_doc.share("d1", sharer, Role.OWNER, by=sharer)
    assert error_code(outcome.reply) == "not_found"
    assert outcome.decoded["error"]["message"] == "document d1 not found"
    assert shared_doc.role("d1", sharer) is None


async def test_sharing_a_missing_document_is_not_found(world: World) -> None:
    outcome = await world.share("ghost", BOB, Role.VIEWER)
    assert error_code(outcome.reply) == "not_found"


async def test_an_admin_without_a_role_can_share(shared_doc: World) -> None:
    outcome = await shared_doc.share("d1", DAVE, Role.EDITOR, by=ADA)
    assert outcome.decoded["ok"]
    assert shared_doc.events[-1]["shared_by"] == ADA


@pytest.mark.parametrize("target", [NOBODY, MALLORY])
async def test_sharing_with_a_non_member_of_the_org_is_forbidden(
    shared_doc: World, target: str
) -> None:
    outcome = await shared_doc.share("d1", target, Role.VIEWER)
    assert error_code(outcome.reply) == "forbidden"
    assert shared_doc.role("d1", target) is None
    assert shared_doc.events == []


async def test_sharing_the_role_already_held_changes_nothing_and_emits_nothing(
    shared_doc: World,
) -> None:
    first = await shared_doc.share("d1", DAVE, Role.EDITOR)
    second = await shared_doc.share("d1", DAVE, Role.EDITOR)
    assert second.reply == first.reply
    assert shared_doc.routing_keys == ["document.shared.editor"]


async def test_sharing_again_replaces_the_role(shared_doc: World) -> None:
    outcome = await shared_doc.share("d1", BOB, Role.VIEWER)
    assert outcome.decoded["data"]["role"] == "viewer"
    assert shared_doc.role("d1", BOB) is Role.VIEWER
    assert shared_doc.routing_keys == ["document.shared.viewer"]


async def test_demoting_the_last_owner_is_a_conflict(shared_doc: World) -> None:
    outcome = await shared_doc.share("d1", ALICE, Role.EDITOR)
    assert error_code(outcome.reply) == "conflict"
    assert shared_doc.role("d1", ALICE) is Role.OWNER
    assert shared_doc.events == []


async def test_an_admin_cannot_demote_the_last_owner_either(shared_doc: World) -> None:
    outcome = await shared_doc.share("d1", ALICE, Role.VIEWER, by=ADA)
    assert error_code(outcome.reply) == "conflict"


async def test_a_second_owner_allows_demoting_the_first(shared_doc: World) -> None:
    await shared_doc.share("d1", BOB, Role.OWNER)
    outcome = await shared_doc.share("d1", ALICE, Role.VIEWER, by=BOB)
    assert outcome.decoded["ok"]
    assert (shared_doc.role("d1", ALICE), shared_doc.role("d1", BOB)) == (Role.VIEWER, Role.OWNER)
    assert shared_doc.routing_keys == ["document.shared.owner", "document.shared.viewer"]


async def test_a_promoted_owner_gains_share_and_a_demoted_one_loses_it(
    shared_doc: World,
) -> None:
    await shared_doc.share("d1", BOB, Role.OWNER)
    assert (await shared_doc.share("d1", DAVE, Role.VIEWER, by=BOB)).decoded["ok"]
    await shared_doc.share("d1", BOB, Role.EDITOR)
    outcome = await shared_doc.share("d1", DAVE, Role.EDITOR, by=BOB)
    assert error_code(outcome.reply) == "forbidden"


async def test_a_shared_editor_can_then_write(shared_doc: World) -> None:
    outcome = await shared_doc.upload("d1", by=BOB)
    assert outcome.decoded["data"]["version"] == 2
    assert Access(BOB, OrgRole.MEMBER, shared_doc.role("d1", BOB)).can(Capability.WRITE)
