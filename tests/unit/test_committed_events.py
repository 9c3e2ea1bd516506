"""Events leave only with committed effects, carrying the cache scopes they changed."""

from __future__ import annotations

import json

import pytest

from docbus.core.entities import Folder
from docbus.core.errors import Conflict
from docbus.core.events import FolderCreated
from docbus.core.ports import Json, UnitOfWork
from docbus.core.values import OrgRole, Role
from docbus.handlers.create_folder import CreateFolder
from tests.unit.conftest import ALICE, BOB, ORG, REPORTS, World, error_code, key_of


def _emit_folder_created(uow: UnitOfWork, world: World) -> None:
    event = FolderCreated(
        event_id="e-phantom", org_id=ORG, occurred_at=world.clock.now(),
        folder=Folder.root("f-phantom", ORG, "phantom"),
    )
    uow.emit(event, ["f:f-phantom"])


async def test_a_command_that_emits_then_fails_leaves_the_outbox_untouched(
    world: World,
) -> None:
    async def emits_then_conflicts(command: str, uow: UnitOfWork) -> Json:
        await uow.folders.add(Folder.root("f-phantom", ORG, "phantom"))
        _emit_folder_created(uow, world)
        raise Conflict("changed my mind")

    outcome = await world.bus.execute(emits_then_conflicts, "c", key_of("c", "m1"))
    assert error_code(outcome.reply) == "conflict"
    assert outcome.scopes == ()
    assert world.db.state.outbox == []
    assert "f-phantom" not in world.db.state.folders
    assert world.db.state.inbox[("upstream", "m1")].scopes == ()


async def test_a_command_that_crashes_after_emitting_leaves_everything_untouched(
    world: World,
) -> None:
    async def emits_then_crashes(command: str, uow: UnitOfWork) -> Json:
        await uow.folders.add(Folder.root("f-phantom", ORG, "phantom"))
        _emit_folder_created(uow, world)
        raise RuntimeError("worker died")

    with pytest.raises(RuntimeError):
        await world.bus.execute(emits_then_crashes, "c", key_of("c", "m1"))
    assert world.db.state.outbox == []
    assert "f-phantom" not in world.db.state.folders


async def test_refused_commands_publish_nothing(shared_doc: World) -> None:
    await shared_doc.share("d1", ALICE, Role.EDITOR, message_id="m1")  # last owner
    await shared_doc.revoke("d1", ALICE, message_id="m2")  # last owner
    await shared_doc.upload("d1", by="carol", message_id="m3")  # viewer
    await shared_doc.run(CreateFolder("f-x", ORG, None, "reports", ALICE))  # name taken
    assert shared_doc.db.state.outbox == []


async def test_the_outbox_row_is_the_event_with_its_routing_key_and_id(world: World) -> None:
    await world.upload("d1")
    [row] = world.db.state.outbox
    body = json.loads(row.body)
    assert (row.event_id, row.routing_key) == (body["event_id"], "document.uploaded")
    assert row.created_at == world.clock.now()


@pytest.mark.parametrize(
    ("action", "scopes"),
    [
        ("upload", ("f:f-reports", "d:d1")),
        ("share", ("f:f-reports", "d:d1")),
        ("revoke", ("f:f-reports", "d:d1")),
        ("member", ("u:bob",)),
        ("folder", ("f:f-new", "t:acme")),
    ],
)
async def test_each_outbox_row_records_the_scopes_its_command_changed(
    shared_doc: World, action: str, scopes: tuple[str, ...]
) -> None:
    match action:
        case "upload":
            await shared_doc.upload("d1")
        case "share":
            await shared_doc.share("d1", "dave", Role.VIEWER)
        case "revoke":
            await shared_doc.revoke("d1", BOB)
        case "member":
            await shared_doc.set_member(BOB, OrgRole.ADMIN)
        case "folder":
            await shared_doc.run(CreateFolder("f-new", ORG, REPORTS, "2026", ALICE))
    [row] = shared_doc.db.state.outbox
    assert row.scopes == scopes


async def test_outbox_rows_are_numbered_in_commit_order(world: World) -> None:
    await world.upload("d1")
    await world.share("d1", BOB, Role.EDITOR)
    await world.revoke("d1", BOB)
    ids = [m.id for m in world.db.state.outbox]
    assert ids == sorted(ids)
    assert world.routing_keys == ["document.uploaded", "document.shared.editor",
                                  "document.unshared"]
