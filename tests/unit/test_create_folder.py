"""CreateFolder through the bus."""

from __future__ import annotations

from docbus.core.entities import Folder
from docbus.core.values import Role
from docbus.handlers.create_folder import CreateFolder
from tests.unit.conftest import (
    ADA,
    ALICE,
    ELSEWHERE,
    MALLORY,
    NOBODY,
    ORG,
    REPORTS,
    World,
    error_code,
)


async def test_a_member_creates_a_root_folder_at_its_own_path(world: World) -> None:
    outcome = await world.run(CreateFolder("f-new", ORG, None, "contracts", ALICE))
    assert outcome.decoded == {"ok": True, "data": {
        "folder_id": "f-new", "org_id": ORG, "parent_id": None, "name": "contracts",
        "path": "/contracts", "trashed_at": None,
    }}
    assert world.db.state.folders["f-new"] == Folder("f-new", ORG, None, "contracts", "/contracts")
    assert world.db.state.folder_shares["f-new", ALICE] == (Role.OWNER, None)


async def test_a_child_folder_gets_the_parents_path_under_it(world: World) -> None:
    await world.run(CreateFolder("f-2026", ORG, REPORTS, "2026", ALICE))
    outcome = await world.run(CreateFolder("f-q3", ORG, "f-2026", "q3", ADA))
    assert outcome.decoded["data"]["path"] == "/reports/2026/q3"
    assert outcome.decoded["data"]["parent_id"] == "f-2026"


async def test_creating_a_folder_emits_folder_created_with_the_folder(world: World) -> None:
    outcome = await world.run(CreateFolder("f-new", ORG, REPORTS, "2026", ALICE))
    assert world.routing_keys == ["folder.created"]
    [event] = world.events
    assert event["type"] == "FolderCreated"
    assert event["org_id"] == ORG
    assert event["folder"] == outcome.decoded["data"]


async def test_creating_a_folder_reports_the_new_folders_scope_and_the_orgs_tree(
    world: World,
) -> None:
    outcome = await world.run(CreateFolder("f-new", ORG, REPORTS, "2026", ALICE))
    assert outcome.scopes == ("f:f-new", f"t:{ORG}")


async def test_a_non_member_cannot_create_a_folder_and_learns_nothing(world: World) -> None:
    for actor in (NOBODY, MALLORY):
        outcome = await world.run(CreateFolder("f-new", ORG, None, "x", actor))
        assert error_code(outcome.reply) == "not_found"
        under = await world.run(CreateFolder("f-new", ORG, REPORTS, "x", actor))
        ghost = await world.run(CreateFolder("f-new", ORG, "f-ghost", "x", actor))
        assert error_code(under.reply) == error_code(ghost.reply) == "not_found"
    assert "f-new" not in world.db.state.folders
    assert world.events == []


async def test_a_parent_in_another_org_is_not_found(world: World) -> None:
    outcome = await world.run(CreateFolder("f-new", ORG, ELSEWHERE, "x", ALICE))
    assert error_code(outcome.reply) == "not_found"
    assert "f-new" not in world.db.state.folders


async def test_a_missing_parent_is_not_found(world: World) -> None:
    outcome = await world.run(CreateFolder("f-new", ORG, "f-ghost", "x", ALICE))
    assert error_code(outcome.reply) == "not_found"


async def test_a_sibling_name_already_taken_is_a_conflict(world: World) -> None:
    await world.run(CreateFolder("f-a", ORG, REPORTS, "2026", ALICE))
    outcome = await world.run(CreateFolder("f-b", ORG, REPORTS, "2026", ALICE))
    assert error_code(outcome.reply) == "conflict"
    assert "f-b" not in world.db.state.folders
    assert world.routing_keys == ["folder.created"]


async def test_a_root_name_already_taken_in_the_org_is_a_conflict(world: World) -> None:
    outcome = await world.run(CreateFolder("f-new", ORG, None, "reports", ALICE))
    assert error_code(outcome.reply) == "conflict"


async def test_the_same_name_under_another_parent_or_org_is_fine(world: World) -> None:
    await world.run(CreateFolder("f-a", ORG, REPORTS, "2026", ALICE))
    under_other = await world.run(CreateFolder("f-b", ORG, "f-archive", "2026", ALICE))
    other_org = await world.run(CreateFolder("f-c", "globex", None, "archive", MALLORY))
    assert under_other.decoded["ok"]
    assert other_org.decoded["ok"]


async def test_a_folder_id_already_taken_is_a_conflict_even_in_another_org(world: World) -> None:
    mine = await world.run(CreateFolder(REPORTS, ORG, None, "fresh-name", ALICE))
    theirs = await world.run(CreateFolder(REPORTS, "globex", None, "fresh-name", MALLORY))
    assert error_code(mine.reply) == "conflict"
    assert error_code(theirs.reply) == "conflict"
    assert world.db.state.folders[REPORTS].name == "reports"
