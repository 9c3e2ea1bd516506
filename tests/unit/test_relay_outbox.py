"""RelayOutbox: committed events go out in commit order, and leave the outbox only once
the broker confirmed them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import pytest

from docbus.adapters.memory import InMemoryOutbox, InMemoryReplyCache, RecordingEventPublisher
from docbus.core.errors import Unavailable
from docbus.core.ports import Json, OutboxMessage, UnitOfWork
from docbus.core.values import OrgRole, Role
from docbus.handlers.relay_outbox import RelayOutbox
from tests.unit.conftest import BOB, CAROL, World


class LoggingCache(InMemoryReplyCache):
    def __init__(self, log: list[tuple[str, object]]) -> None:
        super().__init__()
        self.log = log

    async def invalidate(self, scopes: Sequence[str]) -> None:
        self.log.append(("invalidate", list(scopes)))
        await super().invalidate(scopes)


class LoggingPublisher(RecordingEventPublisher):
    def __init__(self, log: list[tuple[str, object]]) -> None:
        super().__init__()
        self.log = log

    async def publish(self, messages: Sequence[OutboxMessage]) -> list[int]:
        self.log.append(("publish", [m.id for m in messages]))
        return await super().publish(messages)


class DownPublisher(RecordingEventPublisher):
    async def publish(self, messages: Sequence[OutboxMessage]) -> list[int]:
        raise Unavailable("broker down")


async def _three_events(world: World) -> None:
    await world.upload("d1")
    await world.share("d1", BOB, Role.EDITOR)
    await world.set_member(CAROL, OrgRole.ADMIN)


def _relay(world: World, publisher: RecordingEventPublisher, batch: int = 500) -> RelayOutbox:
    return RelayOutbox(InMemoryOutbox(world.db), publisher, world.cache, batch)


async def test_events_are_published_in_commit_order(world: World) -> None:
    await _three_events(world)
    committed = list(world.db.state.outbox)
    publisher = RecordingEventPublisher()
    assert await _relay(world, publisher)() == 3
    assert publisher.published == committed
    assert [m.routing_key for m in publisher.published] == [
        "document.uploaded", "document.shared.editor", "org.member.changed",
    ]


async def test_published_events_leave_the_outbox_and_are_not_sent_again(world: World) -> None:
    await _three_events(world)
    publisher = RecordingEventPublisher()
    relay = _relay(world, publisher)
    await relay()
    assert world.db.state.outbox == []
    assert await relay() == 0
    assert len(publisher.published) == 3


async def test_an_unroutable_event_stays_for_the_next_round(world: World) -> None:
    await _three_events(world)
    publisher = RecordingEventPublisher()
    publisher.unroutable = {"document.shared.editor"}
    relay = _relay(world, publisher)
    assert await relay() == 2
    assert [m.routing_key for m in world.db.state.outbox] == ["document.shared.editor"]
    publisher.unroutable = set()
    assert await relay() == 1
    assert world.db.state.outbox == []
    assert [m.routing_key for m in publisher.published][-1] == "document.shared.editor"


async def test_a_broker_failure_keeps_every_event_for_the_next_round(world: World) -> None:
    await _three_events(world)
    committed = list(world.db.state.outbox)
    with pytest.raises(Unavailable):
        await _relay(world, DownPublisher())()
    assert world.db.state.outbox == committed
    publisher = RecordingEventPublisher()
    assert await _relay(world, publisher)() == 3
    assert publisher.published == committed


async def test_a_batch_takes_the_oldest_events_first(world: World) -> None:
    await _three_events(world)
    publisher = RecordingEventPublisher()
    relay = _relay(world, publisher, batch=2)
    assert await relay() == 2
    assert await relay() == 1
    assert [m.routing_key for m in publisher.published] == [
        "document.uploaded", "document.shared.editor", "org.member.changed",
    ]


async def test_the_scopes_are_invalidated_before_the_events_go_out() -> None:
    log: list[tuple[str, object]] = []
    world = World(cache=LoggingCache(log))
    await _three_events(world)
    ids = [m.id for m in world.db.state.outbox]
    log.clear()
    await _relay(world, LoggingPublisher(log))()
    assert log == [
        ("invalidate", ["f:f-reports", "d:d1", "u:carol"]),  # each scope once
        ("publish", ids),
    ]


async def test_an_empty_outbox_publishes_and_invalidates_nothing() -> None:
    log: list[tuple[str, object]] = []
    world = World(cache=LoggingCache(log))
    assert await _relay(world, LoggingPublisher(log))() == 0
    assert log == []


async def test_a_published_body_is_the_committed_event(world: World) -> None:
    outcome = await world.upload("d1")
    publisher = RecordingEventPublisher()
    await _relay(world, publisher)()
    [message] = publisher.published
    body = json.loads(message.body)
    assert body["document"] == outcome.decoded["data"]
    assert message.event_id == body["event_id"]


async def test_a_sent_event_stays_gone_when_an_older_unit_commits_after_the_relay(
    world: World,
) -> None:
    await world.upload("d1")
    started, release = asyncio.Event(), asyncio.Event()

    async def slow_command(command: str, uow: UnitOfWork) -> Json:
        started.set()
        await release.wait()
        return {}

    command = asyncio.create_task(world.bus.execute(slow_command, "c", None))
    await started.wait()
    publisher = RecordingEventPublisher()
    await _relay(world, publisher)()
    release.set()
    await command
    assert world.db.state.outbox == []


# Several transports (DOCBUS_EVENT_TRANSPORTS): gone only once every one confirmed.


def _two(world: World, rabbit: RecordingEventPublisher, streams: RecordingEventPublisher,
         batch: int = 500, clock: list[float] | None = None) -> RelayOutbox:
    now = clock if clock is not None else [0.0]
    return RelayOutbox(
        InMemoryOutbox(world.db, ("rabbitmq", "valkey-streams")),
        {"rabbitmq": rabbit, "valkey-streams": streams}, world.cache, batch,
        clock=lambda: now[0],
    )


async def test_an_event_leaves_the_outbox_only_once_every_transport_confirmed_it(
    world: World,
) -> None:
    await _three_events(world)
    committed = [m.event_id for m in world.db.state.outbox]
    rabbit, streams = RecordingEventPublisher(), RecordingEventPublisher()
    rabbit.unroutable = {world.db.state.outbox[0].routing_key}
    relay = _two(world, rabbit, streams)
    await relay()
    assert [m.event_id for m in streams.published] == committed
    # the one RabbitMQ refused stays, for RabbitMQ only
    assert [m.event_id for m in world.db.state.outbox] == committed[:1]
    streams.published.clear()
    rabbit.unroutable = set()
    await relay()
    assert world.db.state.outbox == []
    assert streams.published == []  # Streams had it already: not published twice
    assert sorted(m.event_id for m in rabbit.published) == sorted(committed)


async def test_a_transport_that_is_down_rests_and_never_holds_the_other_back(
    world: World,
) -> None:
    for n in range(7):
        await world.upload(f"d{n}")
    committed = [m.event_id for m in world.db.state.outbox]
    streams, failures = RecordingEventPublisher(), []
    clock = [0.0]
    relay = _two(world, DownPublisher(), streams, batch=2, clock=clock)
    relay._on_failure = lambda transport, error: failures.append(transport)
    for _ in range(4):  # a full batch at a time, while RabbitMQ rests
        await relay()
    assert [m.event_id for m in streams.published] == committed
    assert failures == ["rabbitmq"]  # tried once, then resting (the clock stood still)
    assert [m.event_id for m in world.db.state.outbox] == committed  # nothing deleted
    clock[0] = 10.0
    await relay()
    assert failures == ["rabbitmq", "rabbitmq"]  # tried again once the rest was over


async def test_when_every_transport_fails_the_error_reaches_the_relay_loop(world: World) -> None:
    await _three_events(world)
    relay = _two(world, DownPublisher(), DownPublisher())
    with pytest.raises(Unavailable):
        await relay()
    assert len(world.db.state.outbox) == 3


async def test_scopes_are_invalidated_before_the_first_transport_only(world: World) -> None:
    await world.upload("d1")
    log: list[tuple[str, object]] = []
    world.cache = LoggingCache(log)
    relay = _two(world, LoggingPublisher(log), LoggingPublisher(log))
    await relay()
    assert [entry[0] for entry in log] == ["invalidate", "publish", "publish"]


async def test_healthy_transports_share_one_claim_and_publish_at_once(world: World) -> None:
    await _three_events(world)
    claims: list[str | None] = []

    class CountingOutbox(InMemoryOutbox):
        def claim(self, limit: int, transport: str | None = "rabbitmq") -> Any:
            claims.append(transport)
            return super().claim(limit, transport)

    rabbit, streams = RecordingEventPublisher(), RecordingEventPublisher()
    relay = RelayOutbox(
        CountingOutbox(world.db, ("rabbitmq", "valkey-streams")),
        {"rabbitmq": rabbit, "valkey-streams": streams}, world.cache,
    )
    assert await relay() == 3
    assert claims == [None]  # one claim for both
    assert world.db.state.outbox == []
    assert rabbit.published == streams.published
