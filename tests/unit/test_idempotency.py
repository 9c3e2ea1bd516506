"""The CommandBus: one effect per idempotency key, the same reply (byte for byte) for every
delivery of the same command, and a refusal for another command reusing the key."""

from __future__ import annotations

import asyncio

import pytest

from docbus.core.errors import InvalidCommand
from docbus.core.idempotency import StoredReply
from docbus.core.ports import Json, UnitOfWork
from docbus.core.values import OrgRole, Role
from docbus.handlers.bus import CommandBus, Outcome
from docbus.handlers.create_folder import CreateFolder
from docbus.handlers.group_commit import GroupCommit
from docbus.handlers.set_membership import SetMembership
from docbus.handlers.share_document import ShareDocument
from docbus.handlers.upload_document import UploadDocument
from tests.unit.conftest import (
    ALICE,
    BOB,
    DAVE,
    ELSEWHERE,
    MALLORY,
    NOBODY,
    ORG,
    OTHER_ORG,
    World,
    content,
    error_code,
    key_of,
)


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
    assert (first.decoded["data"]["version"], second.decoded["data"]["version"]) == (1, 2)
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
    assert shared_doc.db.state.inbox[("upstream", "m1")].reply == first.reply


async def test_the_inbox_keeps_the_reply_and_the_scopes_the_command_changed(
    world: World,
) -> None:
    outcome = await world.upload("d1", message_id="m1")
    stored = world.db.state.inbox[("upstream", "m1")]
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
        await world.bus.execute(invalid_once, "c", key_of("c", "m1"))
    assert world.db.state.inbox == {}
    outcome = await world.bus.execute(invalid_once, "c", key_of("c", "m1"))  # decided afresh
    assert outcome.decoded == {"ok": True, "data": {"done": "c"}}
    assert not outcome.duplicate


async def test_an_unexpected_error_is_raised_and_not_recorded(world: World) -> None:
    async def broken(command: str, uow: UnitOfWork) -> Json:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await world.bus.execute(broken, "c", key_of("c", "m1"))
    assert world.db.state.inbox == {}


# Keys scoped to sender and command (docbus issue 8)


async def other_org_upload(world: World, message_id: str, sender: str = "upstream") -> Outcome:
    command = UploadDocument("d-globex", OTHER_ORG, ELSEWHERE, MALLORY, content("plans.pdf"))
    return await world.run(command, message_id, sender)


async def test_another_command_reusing_a_message_id_is_refused_and_learns_nothing(
    world: World,
) -> None:
    mine = await world.upload("d1", message_id="m1", name="secret.pdf")
    theirs = await other_org_upload(world, "m1")
    assert theirs.refused and not theirs.duplicate
    assert theirs.decoded == {"ok": False, "error": {
        "code": "conflict", "message": "message_id reused for a different command", "details": [],
    }}
    assert b"secret" not in theirs.reply and b"d1" not in theirs.reply
    assert theirs.scopes == ()
    assert "d-globex" not in world.db.state.documents
    assert world.routing_keys == ["document.uploaded"]
    assert world.db.state.inbox["upstream", "m1"].reply == mine.reply  # not recorded over


async def test_a_refusal_is_the_same_every_time_and_the_first_command_still_replays(
    world: World,
) -> None:
    mine = await world.upload("d1", message_id="m1")
    refusals = [await other_org_upload(world, "m1") for _ in range(2)]
    assert refusals[0].reply == refusals[1].reply
    again = await world.upload("d1", message_id="m1")
    assert again.duplicate and again.reply == mine.reply


async def test_the_same_message_id_under_another_routing_key_is_refused(world: World) -> None:
    await world.run(CreateFolder("f-new", ORG, None, "new", ALICE), "m1")
    shared = await world.run(ShareDocument("d1", ALICE, BOB, Role.VIEWER), "m1")
    member = await world.run(SetMembership(ORG, NOBODY, OrgRole.MEMBER), "m1")
    assert error_code(shared.reply) == error_code(member.reply) == "conflict"
    assert shared.refused and member.refused
    assert (ORG, NOBODY) not in world.db.state.memberships
    assert world.routing_keys == ["folder.created"]


async def test_one_field_changed_is_another_command(world: World) -> None:
    await world.upload("d1", message_id="m1")
    changed = await world.upload("d1", message_id="m1", tags=("q4",))
    assert changed.refused
    assert world.db.state.documents["d1"].version == 1


async def test_two_senders_may_use_the_same_message_id_for_their_own_commands(
    world: World,
) -> None:
    mine = await world.upload("d1", message_id="m1", sender="svc-a")
    theirs = await other_org_upload(world, "m1", sender="svc-b")
    assert not mine.refused and not theirs.refused
    assert set(world.db.state.documents) == {"d1", "d-globex"}
    again = await other_org_upload(world, "m1", sender="svc-b")
    assert again.duplicate and again.reply == theirs.reply


async def test_a_duplicate_reply_is_the_first_reply_byte_for_byte(world: World) -> None:
    first = await world.upload("d1", message_id="m1")
    second = await world.upload("d1", message_id="m1")
    assert isinstance(first.reply, bytes)
    assert second.reply == first.reply == world.db.state.inbox["upstream", "m1"].reply


async def test_a_message_id_recorded_before_keys_were_scoped_is_refused_for_every_sender(
    world: World,
) -> None:
    legacy = StoredReply(b'{"ok": true, "data": {"doc_id": "d-old"}}', ("d:d-old",))
    world.db.state.inbox["", "m-old"] = legacy
    for sender in ("", "upstream", "svc-b"):
        outcome = await world.upload("d1", message_id="m-old", sender=sender)
        assert outcome.refused
        assert error_code(outcome.reply) == "conflict"
        assert b"d-old" not in outcome.reply
    assert "d1" not in world.db.state.documents
    assert world.db.state.inbox == {("", "m-old"): legacy}


async def test_concurrent_commands_under_one_key_act_once_and_the_other_is_refused(
    world: World,
) -> None:
    mine, theirs = await asyncio.gather(
        world.upload("d1", message_id="m1"), other_org_upload(world, "m1")
    )
    assert sorted([mine.refused, theirs.refused]) == [False, True]
    assert len(world.db.state.documents) == 1
    assert len(world.events) == 1


async def test_in_a_group_a_reused_key_is_refused_and_the_others_take_effect() -> None:
    world = World()
    world.bus = GroupCommit(
        CommandBus(world.uow, world.cache), world.uow.grouped, world.cache, group_size=8
    )
    await world.upload("d1", message_id="m1")
    outcomes = await asyncio.gather(
        world.upload("d2", message_id="m2"),
        other_org_upload(world, "m1"),
        world.upload("d3", message_id="m3"),
        world.upload("d1", message_id="m1"),
    )
    assert [o.refused for o in outcomes] == [False, True, False, False]
    assert outcomes[3].duplicate
    assert sorted(world.db.state.documents) == ["d1", "d2", "d3"]
    assert world.routing_keys == ["document.uploaded"] * 3
