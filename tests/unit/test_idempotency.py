"""The CommandBus: one effect per message_id, and the same reply for every delivery."""

from __future__ import annotations

import asyncio

import pytest

from core.errors import InvalidCommand
from core.ports import Json, UnitOfWork
from core.values import Role
from tests.unit.conftest import BOB, DAVE, World, error_code


async def test_the_same_message_twice_has_one_effect_one_event_and_one_reply(
    world: World,
) -> None:
    first = await world.upload("d1", message_id="m1")
    second = await world.upload("d1", message_id="m1")
    assert second.reply == first.reply
    assert (first.duplicate, second.duplicate) == (False, True)
    assert world.db.state.documents["d1"].version == 1
    assert world.routing_keys == ["document.uploaded"]


async def test_distinct_message_ids_each_take_effect(world: World) -> None:
    await world.upload("d1", message_id="m1")
    await world.upload("d1", message_id="m2")
    assert world.db.state.documents["d1"].version == 2


async def test_commands_without_message_id_run_every_time(world: World) -> None:
    first = await world.upload("d1")
    second = await world.upload("d1")
    assert (first.reply["data"]["version"], second.reply["data"]["version"]) == (1, 2)
    assert not second.duplicate
    assert world.db.state.inbox == {}


async def test_a_retry_gets_the_recorded_success_and_does_not_act_again(
    shared_doc: World,
) -> None:
    first = await shared_doc.share("d1", DAVE, Role.VIEWER, message_id="m1")
    await shared_doc.revoke("d1", DAVE)
    retry = await shared_doc.share("d1", DAVE, Role.VIEWER, message_id="m1")
    assert retry.reply == first.reply
    assert retry.duplicate
    assert shared_doc.role("d1", DAVE) is None  # the retry did not share again
    assert shared_doc.routing_keys == ["document.shared.viewer", "document.unshared"]


async def test_a_domain_error_is_recorded_and_the_retry_gets_it_even_after_a_change(
    shared_doc: World,
) -> None:
    first = await shared_doc.share("d1", DAVE, Role.VIEWER, by=BOB, message_id="m1")
    assert error_code(first.reply) == "forbidden"
    await shared_doc.share("d1", BOB, Role.OWNER)  # bob could share now
    retry = await shared_doc.share("d1", DAVE, Role.VIEWER, by=BOB, message_id="m1")
    assert retry.reply == first.reply
    assert retry.duplicate
    assert shared_doc.role("d1", DAVE) is None
    assert shared_doc.db.state.inbox["m1"].reply == first.reply


async def test_the_inbox_keeps_the_reply_and_the_scopes_the_command_changed(
    world: World,
) -> None:
    outcome = await world.upload("d1", message_id="m1")
    stored = world.db.state.inbox["m1"]
    assert stored.reply == outcome.reply
    assert stored.scopes == ("f:f-reports", "d:d1")


async def test_a_first_delivery_reports_and_invalidates_the_scopes_it_changed(
    world: World,
) -> None:
    outcome = await world.upload("d1", message_id="m1")
    assert outcome.scopes == ("f:f-reports", "d:d1")
    assert world.cache.versions == {"f:f-reports": 1, "d:d1": 1}


async def test_a_duplicate_answers_with_the_recorded_scopes_and_invalidates_them(
    world: World,
) -> None:
    await world.upload("d1", message_id="m1")
    before = dict(world.cache.versions)
    duplicate = await world.upload("d1", message_id="m1")
    assert duplicate.scopes == ("f:f-reports", "d:d1")
    for scope in duplicate.scopes:
        assert world.cache.versions[scope] == before.get(scope, 0) + 1


async def test_concurrent_deliveries_of_one_message_have_one_effect(world: World) -> None:
    outcomes = await asyncio.gather(*(world.upload("d1", message_id="m1") for _ in range(3)))
    assert [o.duplicate for o in outcomes].count(False) == 1
    assert all(o.reply == outcomes[0].reply for o in outcomes)
    assert world.db.state.documents["d1"].version == 1
    assert len(world.events) == 1


async def test_an_invalid_command_is_raised_and_not_recorded(world: World) -> None:
    calls: list[str] = []

    async def invalid_once(command: str, uow: UnitOfWork) -> Json:
        calls.append(command)
        if len(calls) == 1:
            raise InvalidCommand("bad", [{"field": "cursor", "error": "malformed"}])
        return {"done": command}

    with pytest.raises(InvalidCommand):
        await world.bus.execute(invalid_once, "c", "m1")
    assert world.db.state.inbox == {}
    outcome = await world.bus.execute(invalid_once, "c", "m1")  # decided afresh
    assert outcome.reply == {"ok": True, "data": {"done": "c"}}
    assert not outcome.duplicate


async def test_an_unexpected_error_is_raised_and_not_recorded(world: World) -> None:
    async def broken(command: str, uow: UnitOfWork) -> Json:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await world.bus.execute(broken, "c", "m1")
    assert world.db.state.inbox == {}
