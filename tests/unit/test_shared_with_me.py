"""shared.with_me on the in-memory adapters (contract v2): grants made to the reader by
someone else, live, not in the trash, newest first, paged; consistent with every share."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from docbus.core.errors import InvalidCommand
from docbus.core.values import Role
from docbus.handlers.create_folder import CreateFolder
from docbus.handlers.share_folder import (
    ShareFolder,
    ShareFolderHandler,
    UnshareFolder,
    UnshareFolderHandler,
)
from docbus.handlers.shared_with_me import SharedWithMe, SharedWithMeHandler
from tests.unit.conftest import ALICE, BOB, CAROL, CURSORS, MALLORY, ORG, OTHER_ORG, World, encode


@pytest.fixture
async def tree(world: World) -> World:
    world.use_cases[ShareFolder] = ShareFolderHandler(world.clock, world.ids)
    world.use_cases[UnshareFolder] = UnshareFolderHandler(world.clock, world.ids)
    await world.run(CreateFolder("f-projects", ORG, None, "projects", ALICE))
    await world.upload("d1", by=CAROL, folder_id="f-projects")
    await world.upload("d2", by=CAROL, folder_id="f-projects")
    return world


async def mine(world: World, user: str, limit: int = 50, cursor: str | None = None) -> Any:
    handler = SharedWithMeHandler(world.uow, encode, CURSORS)
    return json.loads(await handler(SharedWithMe(ORG, user, limit, cursor)))


def listed(reply: Any) -> list[tuple[str, str, str]]:
    return [
        (i["kind"], i["document"]["doc_id"] if "document" in i else i["folder"]["folder_id"],
         i["role"])
        for i in reply["data"]["items"]
    ]


async def test_grants_by_others_newest_first_own_grants_left_out(tree: World) -> None:
    await tree.share("d1", BOB, Role.VIEWER, by=CAROL)
    tree.clock.advance(1)
    until = tree.clock.now() + timedelta(days=1)
    await tree.run(ShareFolder("f-projects", ALICE, BOB, Role.EDITOR, until))
    tree.clock.advance(1)
    await tree.share("d2", BOB, Role.OWNER, by=CAROL)
    reply = await mine(tree, BOB)
    assert listed(reply) == [("document", "d2", "owner"), ("folder", "f-projects", "editor"),
                             ("document", "d1", "viewer")]
    folder_item = reply["data"]["items"][1]
    assert folder_item["shared_by"] == ALICE
    assert folder_item["expires_at"] == "2026-11-25T10:00:01.000000Z"
    assert listed(await mine(tree, CAROL)) == []  # her own owner shares are not "shared with"
    assert listed(await mine(tree, ALICE)) == []


async def test_revoked_expired_and_trashed_grants_disappear(tree: World) -> None:
    await tree.share("d1", BOB, Role.VIEWER, by=CAROL)
    until = tree.clock.now() + timedelta(seconds=5)
    await tree.run(ShareFolder("f-projects", ALICE, BOB, Role.EDITOR, until))
    assert len(listed(await mine(tree, BOB))) == 2
    await tree.revoke("d1", BOB, by=CAROL)
    assert listed(await mine(tree, BOB)) == [("folder", "f-projects", "editor")]
    tree.clock.advance(5)
    assert listed(await mine(tree, BOB)) == []


async def test_pages_follow_the_cursor_and_a_forged_one_is_invalid(tree: World) -> None:
    for doc in ("d1", "d2"):
        tree.clock.advance(1)
        await tree.share(doc, BOB, Role.VIEWER, by=CAROL)
    first = await mine(tree, BOB, limit=1)
    assert listed(first) == [("document", "d2", "viewer")]
    second = await mine(tree, BOB, limit=1, cursor=first["data"]["next_cursor"])
    assert listed(second) == [("document", "d1", "viewer")]
    assert second["data"]["next_cursor"] is None
    with pytest.raises(InvalidCommand):
        await mine(tree, CAROL, limit=1, cursor=first["data"]["next_cursor"])  # not hers


async def test_a_non_member_gets_not_found(tree: World) -> None:
    assert (await mine(tree, MALLORY))["error"]["code"] == "not_found"
    handler = SharedWithMeHandler(tree.uow, encode, CURSORS)
    other = json.loads(await handler(SharedWithMe(OTHER_ORG, BOB)))
    assert other["error"]["code"] == "not_found"
