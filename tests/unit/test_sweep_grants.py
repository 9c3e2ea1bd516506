"""The expiry sweeper on the in-memory adapters (contract v2): expired grants removed in
bounded batches, each expiry published once with expired_at = expires_at."""

from __future__ import annotations

from datetime import timedelta

import pytest

from docbus.core.values import Role
from docbus.handlers.create_folder import CreateFolder
from docbus.handlers.share_document import ShareDocument
from docbus.handlers.share_folder import ShareFolder, ShareFolderHandler
from docbus.handlers.sweep_grants import SweepExpiredGrants
from tests.unit.conftest import ALICE, BOB, CAROL, ORG, World


@pytest.fixture
async def tree(world: World) -> World:
    world.use_cases[ShareFolder] = ShareFolderHandler(world.clock, world.ids)
    await world.run(CreateFolder("f-projects", ORG, None, "projects", ALICE))
    await world.upload("d1", by=ALICE, folder_id="f-projects")
    soon = world.clock.now() + timedelta(seconds=5)
    await world.run(ShareDocument("d1", ALICE, BOB, Role.EDITOR, soon))
    await world.run(ShareFolder("f-projects", ALICE, CAROL, Role.VIEWER, soon))
    await world.run(ShareFolder("f-projects", ALICE, BOB, Role.VIEWER))  # no expiry
    world.db.state.outbox.clear()
    return world


def sweeper(world: World, batch: int = 500) -> SweepExpiredGrants:
    return SweepExpiredGrants(world.uow, world.cache, world.clock, world.ids, batch=batch)


async def test_nothing_is_removed_before_its_expiry(tree: World) -> None:
    tree.clock.advance(4.999)
    assert await sweeper(tree).until_done() == 0
    assert tree.events == []


async def test_each_expired_grant_is_removed_and_published_once(tree: World) -> None:
    tree.clock.advance(5)
    assert await sweeper(tree, batch=1).until_done() == 2
    assert await sweeper(tree).until_done() == 0
    assert sorted(tree.routing_keys) == ["document.share.expired", "folder.share.expired"]
    document, folder = sorted(tree.events, key=lambda e: e["type"])
    assert {k: document[k] for k in ("document_id", "user_id", "role", "expired_at")} == {
        "document_id": "d1", "user_id": BOB, "role": "editor",
        "expired_at": "2026-11-24T10:00:05.000000Z",
    }
    assert {k: folder[k] for k in ("folder_id", "user_id", "role", "expired_at")} == {
        "folder_id": "f-projects", "user_id": CAROL, "role": "viewer",
        "expired_at": "2026-11-24T10:00:05.000000Z",
    }
    assert ("d1", BOB) not in tree.db.state.shares
    assert ("f-projects", CAROL) not in tree.db.state.folder_shares
    assert ("f-projects", BOB) in tree.db.state.folder_shares  # no expiry: kept
    assert (await tree.get("d1", BOB))["ok"]  # through the permanent folder share


async def test_a_grant_replaced_before_its_expiry_does_not_expire(tree: World) -> None:
    later = tree.clock.now() + timedelta(days=1)
    await tree.run(ShareDocument("d1", ALICE, BOB, Role.EDITOR, later))
    tree.clock.advance(5)
    assert await sweeper(tree).until_done() == 1
    assert [k for k in tree.routing_keys if k.endswith(".expired")] == ["folder.share.expired"]
