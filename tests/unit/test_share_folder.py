"""folder.share and folder.unshare through the bus, and expiring document shares
(contract v2, sections 1-2): inherited access, expiry at decision time (cached replies
included), no-op rules, events and denials across tenants."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from docbus.core.errors import InvalidCommand
from docbus.core.values import Role
from docbus.handlers.create_folder import CreateFolder
from docbus.handlers.share_document import ShareDocument
from docbus.handlers.share_folder import (
    ShareFolder,
    ShareFolderHandler,
    UnshareFolder,
    UnshareFolderHandler,
)
from tests.unit.conftest import ADA, ALICE, BOB, CAROL, MALLORY, NOBODY, ORG, World, error_code


@pytest.fixture
async def tree(world: World) -> World:
    """alice creates /projects/x (owner of both); d1 in x, uploaded by carol; bob holds
    nothing yet. Outbox emptied; the cache judges expiry by the world's clock."""
    world.use_cases[ShareFolder] = ShareFolderHandler(world.clock, world.ids)
    world.use_cases[UnshareFolder] = UnshareFolderHandler(world.clock, world.ids)
    world.cache.clock = world.clock.now
    await world.run(CreateFolder("f-projects", ORG, None, "projects", ALICE))
    await world.run(CreateFolder("f-x", ORG, "f-projects", "x", ALICE))
    await world.upload("d1", by=CAROL, folder_id="f-x")
    world.db.state.outbox.clear()
    return world


def share(
    folder: str, with_: str, role: Role, by: str = ALICE, expires_at: datetime | None = None
) -> ShareFolder:
    return ShareFolder(folder, by, with_, role, expires_at)


async def test_a_folder_share_reaches_every_document_below(tree: World) -> None:
    assert error_code(await tree.get("d1", BOB)) == "not_found"
    outcome = await tree.run(share("f-projects", BOB, Role.VIEWER))
    assert outcome.decoded == {"ok": True, "data": {
        "folder_id": "f-projects", "user_id": BOB, "role": "viewer", "expires_at": None,
    }}
    assert (await tree.get("d1", BOB))["ok"]
    assert await tree.listed(BOB, "f-x") == ["d1"]
    assert tree.routing_keys == ["folder.shared.viewer"]
    event = tree.events[0]
    assert {k: event[k] for k in ("folder_id", "shared_with", "shared_by", "role",
                                  "expires_at")} == {
        "folder_id": "f-projects", "shared_with": BOB, "shared_by": ALICE, "role": "viewer",
        "expires_at": None,
    }


async def test_the_inherited_role_decides_what_a_member_may_do(tree: World) -> None:
    await tree.run(share("f-projects", BOB, Role.VIEWER))
    assert error_code((await tree.share("d1", CAROL, Role.EDITOR, by=BOB)).decoded) == "forbidden"
    await tree.run(share("f-x", BOB, Role.OWNER))
    assert (await tree.share("d1", ADA, Role.EDITOR, by=BOB)).decoded["ok"]


async def test_a_grant_counts_for_nothing_from_its_expiry_cached_replies_included(
    tree: World,
) -> None:
    until = tree.clock.now() + timedelta(seconds=10)
    outcome = await tree.run(share("f-projects", BOB, Role.VIEWER, expires_at=until))
    assert outcome.decoded["data"]["expires_at"] == "2026-11-24T10:00:10.000000Z"
    assert (await tree.get("d1", BOB))["ok"]
    assert await tree.listed(BOB, "f-x") == ["d1"]
    hits = tree.cache.hits
    assert (await tree.get("d1", BOB))["ok"]
    assert tree.cache.hits == hits + 1  # served from the cache while the grant lives
    tree.clock.advance(10)
    assert error_code(await tree.get("d1", BOB)) == "not_found"
    assert await tree.listed(BOB, "f-x") == []


async def test_the_same_grant_again_is_a_no_op_another_expiry_is_a_change(tree: World) -> None:
    await tree.run(share("f-x", BOB, Role.EDITOR))
    await tree.run(share("f-x", BOB, Role.EDITOR))
    assert tree.routing_keys == ["folder.shared.editor"]
    until = tree.clock.now() + timedelta(days=3)
    await tree.run(share("f-x", BOB, Role.EDITOR, expires_at=until))
    await tree.run(share("f-x", BOB, Role.EDITOR, expires_at=until))
    assert tree.routing_keys == ["folder.shared.editor"] * 2
    assert tree.events[-1]["expires_at"] == "2026-11-27T10:00:00.000000Z"


async def test_an_expiry_that_is_not_in_the_future_is_invalid(tree: World) -> None:
    with pytest.raises(InvalidCommand):
        await tree.run(share("f-x", BOB, Role.EDITOR, expires_at=tree.clock.now()))
    with pytest.raises(InvalidCommand):
        await tree.run(ShareDocument("d1", CAROL, BOB, Role.VIEWER, tree.clock.now()))
    assert tree.routing_keys == []


async def test_unsharing_takes_the_subtree_away_once(tree: World) -> None:
    await tree.run(share("f-projects", BOB, Role.VIEWER))
    assert (await tree.get("d1", BOB))["ok"]
    outcome = await tree.run(UnshareFolder("f-projects", ALICE, BOB))
    assert outcome.decoded["data"] == {
        "folder_id": "f-projects", "user_id": BOB, "role": None, "expires_at": None,
    }
    assert error_code(await tree.get("d1", BOB)) == "not_found"
    await tree.run(UnshareFolder("f-projects", ALICE, BOB))
    assert tree.routing_keys == ["folder.shared.viewer", "folder.unshared"]
    assert tree.events[-1]["user_id"] == BOB and tree.events[-1]["revoked_by"] == ALICE


@pytest.mark.parametrize(("actor", "code"), [
    (BOB, "forbidden"),  # a member without share on the folder
    (MALLORY, "not_found"),  # a member of another org
    (NOBODY, "not_found"),  # a member of no org
])
async def test_who_may_not_share_the_folder_changes_nothing(
    tree: World, actor: str, code: str
) -> None:
    assert error_code((await tree.run(share("f-x", CAROL, Role.OWNER, by=actor))).decoded) == code
    unshare = await tree.run(UnshareFolder("f-x", actor, ALICE))
    assert error_code(unshare.decoded) == code
    assert tree.routing_keys == []
    assert (await tree.get("d1", ALICE))["ok"]


async def test_a_folder_cannot_be_shared_with_someone_outside_its_org(tree: World) -> None:
    assert error_code((await tree.run(share("f-x", MALLORY, Role.VIEWER))).decoded) == "forbidden"
    assert error_code(await tree.get("d1", MALLORY)) == "not_found"
    assert tree.routing_keys == []


async def test_an_expiring_document_share_stops_at_its_expiry(tree: World) -> None:
    until = tree.clock.now() + timedelta(seconds=5)
    outcome = await tree.run(ShareDocument("d1", CAROL, BOB, Role.VIEWER, until))
    assert outcome.decoded["data"]["expires_at"] == "2026-11-24T10:00:05.000000Z"
    assert tree.events[-1]["expires_at"] == "2026-11-24T10:00:05.000000Z"
    assert (await tree.get("d1", BOB))["ok"]
    tree.clock.advance(5)
    assert error_code(await tree.get("d1", BOB)) == "not_found"
    again = await tree.run(ShareDocument("d1", CAROL, BOB, Role.VIEWER))
    assert again.decoded["data"]["expires_at"] is None
    assert (await tree.get("d1", BOB))["ok"]
