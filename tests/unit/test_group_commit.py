"""Group commit (handlers.group_commit) around the CommandBus, over the in-memory fakes.

Commands that call ``execute`` concurrently share one grouped unit of work;
what they reply and what they leave behind must be exactly what the same commands give
one by one. Any surprise in a group (a domain error, a message_id recorded before, the
time limit) splits it: each of its commands runs again alone.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

import pytest

from docbus.adapters.memory import InMemoryUnitOfWork, InMemoryUnitOfWorkFactory
from docbus.core.entities import Folder
from docbus.core.errors import Conflict
from docbus.core.events import FolderCreated
from docbus.core.ports import Json, UnitOfWork
from docbus.core.reads import Reads
from docbus.core.values import CacheScope, OrgRole, Role
from docbus.handlers.bus import CommandBus, CommandUnit, Outcome
from docbus.handlers.create_folder import CreateFolder
from docbus.handlers.group_commit import GroupCommit
from docbus.handlers.set_membership import RemoveMembership, SetMembership
from docbus.handlers.share_document import ShareDocument
from docbus.handlers.upload_document import UploadDocument, UploadDocumentHandler
from tests.unit.conftest import (
    ALICE,
    BOB,
    CAROL,
    DAVE,
    NOBODY,
    ORG,
    REPORTS,
    World,
    content,
    error_code,
    key_of,
)

T = TypeVar("T")
LIMIT = 5.0  # seconds: every wait of these tests is bounded


async def bounded(awaitable: Awaitable[T], seconds: float = LIMIT) -> T:
    async with asyncio.timeout(seconds):
        return await awaitable


class SpyUnits:
    """The fake's grouped units, counting the units asked for and what they were told to
    read ahead."""

    def __init__(self, inner: InMemoryUnitOfWorkFactory) -> None:
        self.inner = inner
        self.grouped_units = 0
        self.reads: list[Reads] = []

    def __call__(self) -> InMemoryUnitOfWork:
        self.grouped_units += 1
        unit = self.inner.grouped()
        spy = self

        async def read_ahead(reads: Reads) -> None:
            spy.reads.append(reads)

        unit.read_ahead = read_ahead  # type: ignore[method-assign]
        return unit


def grouping(world: World, group_size: int = 64, **options: Any) -> SpyUnits:
    """Give the world a group commit around its bus, over its own fakes; return the spy on
    its grouped units."""
    spy = SpyUnits(world.uow)
    world.bus = GroupCommit(
        CommandBus(world.uow, world.cache), spy, world.cache, group_size=group_size, **options
    )
    return spy


def group_commit(world: World) -> GroupCommit:
    assert isinstance(world.bus, GroupCommit)
    return world.bus


async def run_keyed(
    world: World, use_case: Any, command: Any, message_id: str, *, alone: bool = False
) -> Outcome:
    return await world.bus.execute(use_case, command, key_of(command, message_id), alone=alone)


Step = tuple[Any, str | None]  # a command and its message_id


def upload(doc_id: str, by: str = ALICE, name: str | None = None) -> UploadDocument:
    return UploadDocument(doc_id, ORG, REPORTS, by, content(name or f"{doc_id}.pdf"))


async def one_by_one(world: World, steps: Sequence[Step]) -> list[bytes]:
    return [(await world.run(command, mid)).reply for command, mid in steps]


async def all_at_once(world: World, steps: Sequence[Step]) -> list[Outcome]:
    return list(await bounded(asyncio.gather(*(world.run(c, mid) for c, mid in steps))))


def outbox(world: World, *, with_ids: bool = True) -> list[tuple[Any, ...]]:
    rows = []
    for m in world.db.state.outbox:
        body = json.loads(m.body)
        if not with_ids:
            body.pop("event_id", None)
        rows.append((m.event_id if with_ids else None, m.routing_key, body, m.scopes))
    return rows


def durable_state(world: World) -> dict[str, Any]:
    s = world.db.state
    return {
        "folders": s.folders,
        "documents": s.documents,
        "versions": s.versions,
        "memberships": s.memberships,
        "shares": s.shares,
        "inbox": s.inbox,
    }


async def with_d0(world: World) -> World:
    """d0 uploaded by alice beforehand (alone), outbox emptied."""
    await world.upload("d0")
    world.db.state.outbox.clear()
    return world


def mixed_steps() -> list[Step]:
    """New documents, second versions, shares of a document from before and of documents
    uploaded earlier in the same batch (valid only in this order), a no-op share."""
    steps: list[Step] = []
    for n in range(1, 13):
        steps.append((upload(f"d{n}"), f"m-up-{n}"))
    steps.append((upload("d3", name="d3-v2.pdf"), "m-up-3b"))
    steps.append((upload("d0", name="d0-v2.pdf"), "m-up-0b"))
    steps.append((ShareDocument("d0", ALICE, BOB, Role.EDITOR), "m-sh-0-bob"))
    steps.append((ShareDocument("d1", ALICE, CAROL, Role.VIEWER), "m-sh-1-carol"))
    steps.append((ShareDocument("d1", ALICE, CAROL, Role.VIEWER), "m-sh-1-carol-again"))
    steps.append((ShareDocument("d2", ALICE, BOB, Role.OWNER), "m-sh-2-bob"))
    steps.append((upload("d2", by=BOB, name="d2-by-bob.pdf"), "m-up-2-bob"))
    steps.append((upload("d13"), None))  # no message_id: not recorded, still grouped
    return steps


# Groups give what one by one gives


async def test_concurrent_commands_form_a_group_and_match_running_them_one_by_one() -> None:
    grouped, alone = await with_d0(World()), await with_d0(World())
    spy = grouping(grouped)
    steps = mixed_steps()

    outcomes = await all_at_once(grouped, steps)
    expected = await one_by_one(alone, steps)

    assert [o.reply for o in outcomes] == expected
    assert all(o.decoded["ok"] for o in outcomes)
    assert not any(o.duplicate for o in outcomes)
    assert group_commit(grouped).groups >= 1
    assert group_commit(grouped).grouped == len(steps)
    assert group_commit(grouped).split == 0
    assert spy.grouped_units == group_commit(grouped).groups
    assert durable_state(grouped) == durable_state(alone)
    # Same events, same ids, same order: the group ran its commands in arrival order.
    assert outbox(grouped) == outbox(alone)
    assert grouped.role("d2", BOB) is Role.OWNER
    assert grouped.db.state.documents["d2"].version == 2


async def test_each_grouped_command_keeps_its_own_scopes_in_its_outcome_and_inbox_row() -> None:
    world = await with_d0(World())
    grouping(world)
    steps: list[Step] = [(upload("d1"), "m1"), (upload("d2"), "m2"), (upload("d1"), "m3")]
    outcomes = await all_at_once(world, steps)

    assert group_commit(world).groups == 1
    d1, d2 = CacheScope.document("d1"), CacheScope.document("d2")
    folder = CacheScope.folder(REPORTS)
    assert [o.scopes for o in outcomes] == [(folder, d1), (folder, d2), (folder, d1)]
    inbox = world.db.state.inbox
    stored = [inbox["upstream", m] for m in ("m1", "m2", "m3")]
    assert [(s.reply, s.scopes) for s in stored[:2]] == [
        (outcomes[0].reply, (folder, d1)), (outcomes[1].reply, (folder, d2))
    ]
    assert json.loads(stored[2].reply)["data"]["version"] == 2


async def test_a_group_takes_at_most_group_size_commands() -> None:
    world = World()
    grouping(world, group_size=4)
    units: list[object] = []
    upload_handler = UploadDocumentHandler(world.clock, world.ids)

    async def spying(command: UploadDocument, uow: UnitOfWork) -> Json:
        units.append(uow.folders)  # one per unit (each command gets a view of its own)
        return await upload_handler(command, uow)

    outcomes = await bounded(asyncio.gather(
        *(run_keyed(world, spying, upload(f"d{n}"), f"m{n}") for n in range(10))
    ))

    assert all(o.decoded["ok"] for o in outcomes)
    per_unit = [sum(u is unit for u in units) for unit in {id(u): u for u in units}.values()]
    assert max(per_unit) <= 4
    assert group_commit(world).groups >= 3
    assert group_commit(world).grouped == sum(n for n in per_unit if n > 1)
    assert sorted(world.db.state.documents) == sorted(f"d{n}" for n in range(10))


async def test_a_lone_command_runs_alone_without_a_grouped_unit() -> None:
    world = World()
    spy = grouping(world)

    outcome = await bounded(world.upload("d1", message_id="m1"))

    assert outcome.decoded["ok"]
    counters = group_commit(world)
    assert (counters.groups, counters.grouped, counters.split) == (0, 0, 0)
    assert spy.grouped_units == 0
    assert world.db.state.inbox[("upstream", "m1")].reply == outcome.reply


async def test_commands_one_after_the_other_are_never_grouped() -> None:
    world = World()
    spy = grouping(world)
    for n in range(5):
        assert (await bounded(world.upload(f"d{n}", message_id=f"m{n}"))).decoded["ok"]
    assert group_commit(world).groups == 0
    assert spy.grouped_units == 0


async def test_alone_true_bypasses_grouping_even_among_concurrent_commands() -> None:
    world = World()
    spy = grouping(world)
    upload_handler = world.use_cases[UploadDocument]

    outcomes = await bounded(asyncio.gather(
        *(run_keyed(world, upload_handler, upload(f"d{n}"), f"m{n}", alone=True)
          for n in range(8))
    ))

    assert all(o.decoded["ok"] for o in outcomes)
    assert group_commit(world).groups == 0
    assert spy.grouped_units == 0
    assert len(world.db.state.documents) == 8


async def test_an_alone_command_does_not_join_the_group_of_its_neighbours() -> None:
    world = World()
    spy = grouping(world)
    handler = world.use_cases[UploadDocument]
    runs = [run_keyed(world, handler, upload(f"d{n}"), f"m{n}") for n in range(4)]
    runs.insert(2, run_keyed(world, handler, upload("solo"), "m-solo", alone=True))

    outcomes = await bounded(asyncio.gather(*runs))

    assert all(o.decoded["ok"] for o in outcomes)
    assert group_commit(world).groups == 1
    assert group_commit(world).grouped == 4
    assert spy.grouped_units == 1
    assert "solo" in world.db.state.documents


# Splits


class WritesThenFails:
    """Shares d0 with dave, then decides it was a mistake (a domain error after a write)."""

    async def __call__(self, command: str, uow: UnitOfWork) -> Json:
        await uow.shares.put(command, DAVE, Role.VIEWER)
        raise Conflict(f"changed my mind about {command}")


async def test_a_domain_error_in_a_group_splits_it_and_every_command_gets_its_own_reply() -> None:
    grouped, alone = await with_d0(World()), await with_d0(World())
    spy = grouping(grouped)
    steps: list[Step] = [(upload(f"d{n}"), f"m{n}") for n in range(1, 5)]
    steps.insert(2, (upload("bad", by=NOBODY), "m-bad"))  # not a member: not_found

    outcomes = await all_at_once(grouped, steps)
    expected = await one_by_one(alone, steps)

    assert [o.reply for o in outcomes] == expected
    assert [error_code(o.reply) for o in outcomes] == [None, None, "not_found", None, None]
    assert group_commit(grouped).split == 1
    assert "FolderNotFound" in group_commit(grouped).split_reason
    assert group_commit(grouped).groups == 0  # the group never committed
    assert spy.grouped_units == 1
    assert durable_state(grouped) == durable_state(alone)
    assert grouped.db.state.inbox[("upstream", "m-bad")].reply == outcomes[2].reply
    # The rolled-back group left no events behind; each command's event is there once.
    assert sorted(map(repr, outbox(grouped, with_ids=False))) == sorted(
        map(repr, outbox(alone, with_ids=False))
    )
    assert len(grouped.db.state.outbox) == 4


async def test_a_command_that_wrote_before_its_domain_error_leaves_nothing() -> None:
    world = await with_d0(World())
    grouping(world)
    handler = world.use_cases[UploadDocument]
    runs = [
        run_keyed(world, handler, upload("d1"), "m1"),
        run_keyed(world, WritesThenFails(), "d0", "m-fails"),
        run_keyed(world, handler, upload("d2"), "m2"),
    ]

    outcomes = await bounded(asyncio.gather(*runs))

    assert [error_code(o.reply) for o in outcomes] == [None, "conflict", None]
    assert group_commit(world).split == 1
    assert world.role("d0", DAVE) is None  # neither the group nor the lone run kept it
    assert world.db.state.inbox[("upstream", "m-fails")].reply == outcomes[1].reply
    assert sorted(world.db.state.documents) == ["d0", "d1", "d2"]
    retry = await bounded(run_keyed(world, WritesThenFails(), "d0", "m-fails"))
    assert retry.duplicate
    assert retry.reply == outcomes[1].reply


async def test_a_split_group_whose_commands_depend_on_each_other_still_matches_one_by_one() -> None:
    grouped, alone = await with_d0(World()), await with_d0(World())
    grouping(grouped)
    steps: list[Step] = [
        (upload("d1"), "m1"),
        (ShareDocument("d1", ALICE, BOB, Role.EDITOR), "m2"),
        (ShareDocument("d1", DAVE, CAROL, Role.VIEWER), "m3"),  # dave holds nothing on d1
        (upload("d1", by=BOB, name="d1-by-bob.pdf"), "m4"),
    ]

    outcomes = await all_at_once(grouped, steps)
    expected = await one_by_one(alone, steps)

    assert [o.reply for o in outcomes] == expected
    assert error_code(outcomes[2].reply) == "not_found"
    assert group_commit(grouped).split == 1
    assert durable_state(grouped) == durable_state(alone)


async def test_a_group_over_its_time_limit_splits_and_each_command_runs_alone() -> None:
    world = World()
    grouping(world, group_timeout=0.2)
    upload_handler = UploadDocumentHandler(world.clock, world.ids)
    slowed: list[str] = []

    async def slow_once(command: UploadDocument, uow: UnitOfWork) -> Json:
        if command.doc_id == "slow" and not slowed:
            slowed.append(command.doc_id)
            await asyncio.sleep(2)
        return await upload_handler(command, uow)

    outcomes = await bounded(asyncio.gather(
        *(run_keyed(world, slow_once, upload(d), f"m-{d}") for d in ("a", "slow", "b"))
    ))

    assert all(o.decoded["ok"] for o in outcomes)
    assert group_commit(world).split == 1
    assert group_commit(world).split_reason == "time limit"
    assert group_commit(world).groups == 0
    assert sorted(world.db.state.documents) == ["a", "b", "slow"]
    assert all(world.db.state.versions[d][-1].version == 1 for d in ("a", "b", "slow"))
    assert len(world.db.state.outbox) == 3


# message_ids


async def test_two_deliveries_of_one_message_id_gathered_together_have_one_effect() -> None:
    world = World()
    grouping(world)
    steps: list[Step] = [
        (upload("d1"), "m1"),
        (upload("d2"), "m2"),
        (upload("d1"), "m1"),  # the same delivery again
        (upload("d3"), "m3"),
        (upload("d1"), "m1"),
    ]

    outcomes = await all_at_once(world, steps)

    assert all(o.decoded["ok"] for o in outcomes)
    assert outcomes[0].reply == outcomes[2].reply == outcomes[4].reply
    assert sorted(o.duplicate for o in (outcomes[0], outcomes[2], outcomes[4])) == [
        False, True, True,
    ]
    assert world.db.state.documents["d1"].version == 1
    assert len(world.db.state.versions["d1"]) == 1
    uploaded = [json.loads(m.body)["document"]["doc_id"] for m in world.db.state.outbox]
    assert sorted(uploaded) == ["d1", "d2", "d3"]
    assert group_commit(world).groups >= 1


async def test_a_redelivery_of_a_recorded_message_gets_the_stored_reply() -> None:
    world = World()
    grouping(world)
    first = await bounded(world.run(upload("d1"), "m1"))
    assert group_commit(world).groups == 0

    steps: list[Step] = [(upload("d2"), "m2"), (upload("d1"), "m1"), (upload("d3"), "m3")]
    outcomes = await all_at_once(world, steps)

    assert outcomes[1].reply == first.reply
    assert outcomes[1].duplicate
    assert outcomes[1].scopes == first.scopes
    assert outcomes[0].decoded["ok"] and outcomes[2].decoded["ok"]
    assert not outcomes[0].duplicate and not outcomes[2].duplicate
    assert group_commit(world).split == 1
    assert "recorded before" in group_commit(world).split_reason
    assert world.db.state.documents["d1"].version == 1
    assert sorted(world.db.state.documents) == ["d1", "d2", "d3"]
    assert len(world.db.state.outbox) == 3


# Cache and outbox


async def test_every_grouped_command_invalidates_its_cache_scopes() -> None:
    world = World()
    docs = [f"d{n}" for n in range(6)]
    for doc_id in docs:
        await world.upload(doc_id)
    for doc_id in docs:  # cache each get, and check that the cache answers
        assert (await world.get(doc_id, ALICE))["data"]["version"] == 1
    hits = world.cache.hits
    for doc_id in docs:
        assert (await world.get(doc_id, ALICE))["data"]["version"] == 1
    assert world.cache.hits == hits + len(docs)
    listed_before = await world.listing(ALICE)
    versions_before = dict(world.cache.versions)
    grouping(world)

    outcomes = await all_at_once(
        world, [(upload(d, name=f"{d}-v2.pdf"), f"m-{d}") for d in docs]
    )

    assert group_commit(world).groups >= 1
    assert all(o.decoded["data"]["version"] == 2 for o in outcomes)
    for doc_id in docs:
        scope = CacheScope.document(doc_id)
        assert world.cache.versions.get(scope, 0) > versions_before.get(scope, 0), scope
        assert (await world.get(doc_id, ALICE))["data"]["version"] == 2
    folder = CacheScope.folder(REPORTS)
    assert world.cache.versions[folder] > versions_before.get(folder, 0)
    listed_after = await world.listing(ALICE)
    assert listed_after != listed_before
    assert {d["version"] for d in listed_after["data"]["documents"]} == {2}


async def test_events_of_a_group_reach_the_outbox_once_each_in_command_order() -> None:
    world = await with_d0(World())
    grouping(world)
    order = [f"d{n}" for n in (5, 1, 9, 3, 7, 2, 8, 4, 6)]
    steps: list[Step] = [(upload(d), f"m-{d}") for d in order]
    steps.insert(4, (ShareDocument("d0", ALICE, BOB, Role.VIEWER), "m-share"))

    outcomes = await all_at_once(world, steps)

    assert all(o.decoded["ok"] for o in outcomes)
    assert group_commit(world).groups == 1
    assert group_commit(world).grouped == len(steps)
    seen = [
        ("share", body["document_id"]) if m.routing_key.startswith("document.shared")
        else ("upload", body["document"]["doc_id"])
        for m in world.db.state.outbox
        for body in [json.loads(m.body)]
    ]
    expected = [("upload", d) for d in order]
    expected.insert(4, ("share", "d0"))
    assert seen == expected
    ids = [m.id for m in world.db.state.outbox]
    assert ids == sorted(ids)
    assert len({m.event_id for m in world.db.state.outbox}) == len(steps)


async def test_a_caller_that_gives_up_does_not_undo_its_group() -> None:
    world = World()
    grouping(world)
    gate = asyncio.Event()
    upload_handler = UploadDocumentHandler(world.clock, world.ids)

    async def gated(command: UploadDocument, uow: UnitOfWork) -> Json:
        await gate.wait()
        return await upload_handler(command, uow)

    tasks = [
        asyncio.create_task(run_keyed(world, gated, upload(d), f"m-{d}")) for d in "abc"
    ]
    await asyncio.sleep(0.05)  # the group is running, held at the gate
    tasks[1].cancel()
    gate.set()
    done = await bounded(asyncio.gather(*tasks, return_exceptions=True))

    assert isinstance(done[1], asyncio.CancelledError)
    assert all(isinstance(o, Outcome) and o.decoded["ok"] for o in (done[0], done[2]))
    assert group_commit(world).groups == 1
    assert sorted(world.db.state.documents) == ["a", "b", "c"]  # b committed with its group
    assert ("upstream", "m-b") in world.db.state.inbox


async def test_a_command_arriving_as_the_last_runner_ends_is_still_run() -> None:
    """A command that calls execute right after a group's runner finished, but before the
    runner task's done-callback took it out of the running set, must start a runner of its
    own (with one group in flight it was left waiting for ever)."""
    world = World()
    grouping(world, groups_in_flight=1)
    upload_handler = UploadDocumentHandler(world.clock, world.ids)
    late: list[asyncio.Task[Outcome]] = []

    async def spawning(command: UploadDocument, uow: UnitOfWork) -> Json:
        if command.doc_id == "d1" and not late:  # its first step runs before the callback
            late.append(asyncio.create_task(
                run_keyed(world, upload_handler, upload("late"), "m-late")
            ))
        return await upload_handler(command, uow)

    outcomes = await bounded(asyncio.gather(
        *(run_keyed(world, spawning, upload(d), f"m-{d}") for d in ("d0", "d1"))
    ))

    assert group_commit(world).groups == 1
    assert all(o.decoded["ok"] for o in outcomes)
    assert (await bounded(late[0], 2)).decoded["ok"]
    assert "late" in world.db.state.documents


# Each command's own scopes, in a shared unit


def folder_created(n: int) -> FolderCreated:
    folder = Folder.root(f"f{n}", ORG, f"f{n}")
    return FolderCreated(
        event_id=f"e{n}", org_id=ORG, occurred_at=World().clock.now(), folder=folder
    )


async def test_a_command_unit_keeps_the_scopes_of_its_own_events() -> None:
    world = World()
    async with world.uow() as uow:
        first, second = CommandUnit(uow), CommandUnit(uow)
        first.emit(folder_created(1), ["a", "b"])
        second.emit(folder_created(2), ["c", "a"])
        second.emit(folder_created(3), ["c", "d"])
        assert first.scopes == ("a", "b")
        assert second.scopes == ("c", "a", "d")  # first-seen order, no repeats
        assert uow.scopes == ("a", "b", "c", "d")
        await uow.commit()
    assert len(world.db.state.outbox) == 3


# Read-ahead: declared, optional


async def test_declared_reads_of_a_group_are_loaded_at_once() -> None:
    world = await with_d0(World())
    spy = grouping(world)
    await all_at_once(world, [
        (upload("d1"), "m1"),
        (ShareDocument("d0", ALICE, BOB, Role.VIEWER), "m2"),
        (upload("d2", by=BOB), "m3"),
    ])
    assert group_commit(world).groups == 1
    assert spy.reads == [Reads(
        folder_roles=((REPORTS, ALICE), (REPORTS, BOB)),
        new_documents=("d1", "d2"),
        locked_access=(("d0", ALICE),),
        document_roles=(("d0", BOB),),
    )]


class PlainUseCase:
    """Declares nothing: reads and writes as it goes (shares a document, then reads back
    what it wrote and what the group's earlier commands wrote)."""

    async def __call__(self, command: tuple[str, str], uow: UnitOfWork) -> Json:
        doc_id, user_id = command
        document, access = await uow.documents.get_with_access(doc_id, ALICE, lock=True)
        assert document is not None and access.doc_role is Role.OWNER
        await uow.shares.put(doc_id, user_id, Role.VIEWER)
        return {"role": await uow.shares.role_of(doc_id, user_id), "owners":
                await uow.shares.owners(doc_id)}


async def test_use_cases_without_read_ahead_run_grouped_exactly_as_one_by_one() -> None:
    steps: list[Step] = [
        (SetMembership(ORG, "erin", OrgRole.MEMBER), "m1"),
        (CreateFolder("f-new", ORG, None, "new", "erin"), "m2"),
        (upload("d1"), "m3"),
        (("d1", "erin"), "m4"),
        (ShareDocument("d1", ALICE, "erin", Role.OWNER), "m5"),
        (("d1", CAROL), "m6"),
        (RemoveMembership(ORG, CAROL), "m7"),
    ]
    grouped, alone = World(), World()
    for world in (grouped, alone):
        world.use_cases[tuple] = PlainUseCase()
    grouping(grouped)
    expected = await one_by_one(alone, steps)
    outcomes = await all_at_once(grouped, steps)
    assert group_commit(grouped).groups >= 1 and group_commit(grouped).split == 0
    assert [o.reply for o in outcomes] == expected
    assert durable_state(grouped) == durable_state(alone)
    assert outbox(grouped) == outbox(alone)


@pytest.mark.parametrize("size", [1, 2])
async def test_group_size_one_or_two_still_gives_every_reply(size: int) -> None:
    world = World()
    grouping(world, group_size=size)
    outcomes = await all_at_once(world, [(upload(f"d{n}"), f"m{n}") for n in range(7)])
    assert all(o.decoded["ok"] for o in outcomes)
    assert len(world.db.state.documents) == 7
    if size == 1:
        assert group_commit(world).groups == 0
    else:
        assert group_commit(world).grouped == 2 * group_commit(world).groups
