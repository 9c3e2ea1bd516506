"""AuditConsumer against the real RabbitMQ: every event once in the log, nothing left behind.

Each test declares the contract's topology in the session's vhost (idempotent), purges
``docbus.audit`` and ``docbus.dead``, publishes events to ``doc.events`` (confirmed,
persistent, JSON), runs the consumer wired as the worker wires it (its own coalescing
robust connection; a Pipeline whose Responder publishes dead letters on another
connection), then asks the broker: the consumer's connection is closed, so every delivery
it did not acknowledge goes back to the queue, and a fresh connection reads each queue up
to a sentinel published after it started. Only the use case is a stand-in (it counts the
calls, or fails on purpose); the audit log is ``InMemoryAuditLog`` (and PostgreSQL once).
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aio_pika
import orjson
import pytest
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

from docbus.adapters.amqp_transport import CoalescingRobustConnection
from docbus.adapters.memory import InMemoryAuditLog
from docbus.adapters.postgres.attempts import PgAttemptLog
from docbus.adapters.postgres.audit import PgAuditLog
from docbus.adapters.postgres.database import PgDatabase
from docbus.consumers.audit_consumer import AuditConsumer
from docbus.consumers.pipeline import AttemptLog, Pipeline, RetryPolicy, delivery_key
from docbus.consumers.responder import Responder
from docbus.consumers.topology import (
    AUDIT_QUEUE_NAME,
    DEAD_QUEUE_NAME,
    ERROR_HEADER,
    EVENTS,
    declare_topology,
)
from docbus.core.errors import Unavailable
from docbus.core.ports import AuditEntry, AuditLog
from docbus.handlers.record_audit import RecordAuditEntry
from tests.fixtures.rabbit import own_vhost

pytestmark = pytest.mark.integration

STEP = 10.0
"""Upper bound (seconds) on any single wait of these tests: a hang fails, it does not stall."""
DELIVERY_LIMIT = 20
POISON_AFTER = 5
PREFETCH = 64
SENTINEL = "--sentinel--"
FAST_RETRY = RetryPolicy(budget=10.0, base=0.01, cap=0.05, margin=5.0)


# The stand-ins: RecordAuditEntry itself, counting calls, optionally failing first.


class CountingRecord(RecordAuditEntry):
    """The real use case, with its calls (batch sizes) recorded; ``fail`` decides per call
    (0-based) whether to raise instead, and what."""

    def __init__(
        self,
        log: AuditLog,
        fail: Callable[[int], BaseException | None] = lambda n: None,
        delay: float = 0.0,
    ) -> None:
        super().__init__(log)
        self.fail = fail
        self.delay = delay
        self.calls: list[int] = []
        self.started = asyncio.Event()

    async def __call__(self, entries: Sequence[AuditEntry]) -> int:
        n = len(self.calls)
        self.calls.append(len(entries))
        self.started.set()
        if self.delay:
            await asyncio.sleep(self.delay)
        if (error := self.fail(n)) is not None:
            raise error
        return await super().__call__(entries)


# Broker helpers.


def event(event_id: str, n: int = 0) -> dict[str, Any]:
    """An event shaped as the worker publishes them (envelope plus fields of its own)."""
    return {
        "event_id": event_id,
        "type": "DocumentUploaded",
        "org_id": "org-1",
        "occurred_at": "2026-11-24T10:00:00.123456Z",
        "document": {"doc_id": f"doc-{n}", "name": f"report {n}.pdf", "version": 1},
        "uploaded_by": "user-1",
    }


@dataclass
class Out:
    """One message to publish."""

    body: bytes
    message_id: str
    content_type: str | None = "application/json"
    headers: dict[str, Any] = field(default_factory=dict)
    routing_key: str = "document.uploaded"


def valid(event_id: str, n: int = 0, **headers: Any) -> Out:
    return Out(orjson.dumps(event(event_id, n)), event_id, headers=headers)


async def publish(url: str, messages: Iterable[Out]) -> None:
    """Publish to doc.events, persistent, each confirmed by the broker."""
    connection = await aio_pika.connect(url, timeout=STEP)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange(EVENTS.name, ensure=False)
        async with asyncio.timeout(STEP):
            await asyncio.gather(*(
                exchange.publish(
                    aio_pika.Message(
                        m.body,
                        content_type=m.content_type,
                        message_id=m.message_id,
                        headers=m.headers,
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    ),
                    m.routing_key,
                )
                for m in messages
            ))


@dataclass(frozen=True)
class Held:
    message_id: str
    redelivered: bool
    headers: dict[str, Any]
    body: bytes


async def held(url: str, queue: str) -> list[Held]:
    """What the broker holds in ``queue`` (ready or given back), in delivery order.

    Reads on a new connection up to a sentinel published after it started consuming
    (returned deliveries come ahead of new messages). Nothing is acknowledged: closing the
    connection gives everything back, and the next test purges."""
    connection = await aio_pika.connect(url, timeout=STEP)
    async with connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=2000)
        declared = await channel.declare_queue(queue, passive=True)
        got: list[AbstractIncomingMessage] = []
        seen = asyncio.Event()
        sentinel = f"{SENTINEL}{uuid.uuid4().hex}"

        async def on_message(message: AbstractIncomingMessage) -> None:
            if message.message_id == sentinel:
                seen.set()
            else:
                got.append(message)

        await declared.consume(on_message, no_ack=False)
        # Straight to the queue (default exchange): no other queue gets the sentinel.
        await channel.default_exchange.publish(
            aio_pika.Message(b"{}", message_id=sentinel), queue
        )
        async with asyncio.timeout(STEP):
            await seen.wait()
        await asyncio.sleep(0.1)  # anything after the sentinel would be a late surprise
        return [
            Held(m.message_id or "", bool(m.redelivered), dict(m.headers or {}), m.body)
            for m in got
        ]


async def depth(url: str, queue: str) -> int:
    connection = await aio_pika.connect(url, timeout=STEP)
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        assert declared.declaration_result.message_count is not None
        return declared.declaration_result.message_count


async def eventually(check: Callable[[], Awaitable[bool] | bool], what: str) -> None:
    """Poll ``check`` until it holds; fail (not hang) after STEP seconds."""
    try:
        async with asyncio.timeout(STEP):
            while True:
                result = check()
                if not isinstance(result, bool):
                    result = await result
                if result:
                    return
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"not within {STEP:g} s: {what}") from None


def dead_reasons(letters: Iterable[Held]) -> dict[str, str]:
    return {h.message_id: str(h.headers.get(ERROR_HEADER, "")) for h in letters}


# The rig: topology, purge, a consumer wired as the worker wires it.


@dataclass
class Rig:
    url: str
    opened: list[AbstractRobustConnection] = field(default_factory=list)
    consumer: AuditConsumer | None = None
    connection: AbstractRobustConnection | None = None

    async def start(
        self,
        record: RecordAuditEntry,
        retry: RetryPolicy = FAST_RETRY,
        prefetch: int = PREFETCH,
        attempts: AttemptLog | None = None,
    ) -> AuditConsumer:
        publishing = await aio_pika.connect_robust(
            self.url, timeout=STEP, connection_class=CoalescingRobustConnection
        )
        self.opened.append(publishing)
        self.connection = await aio_pika.connect_robust(
            self.url, timeout=STEP, connection_class=CoalescingRobustConnection
        )
        self.opened.append(self.connection)
        pipeline = Pipeline(
            Responder(publishing, timeout=STEP, patience=STEP), retry, poison_after=POISON_AFTER
        )
        if attempts is not None:  # as the worker wires it
            pipeline.count_attempts(attempts)
        self.consumer = AuditConsumer(
            self.connection, record, pipeline, retry,
            prefetch=prefetch,
        )
        await self.consumer.start()
        return self.consumer

    async def stop(self) -> None:
        """Stop as the worker does, then close the consumer's connection: whatever it
        did not acknowledge goes back to the queue (redelivered)."""
        assert self.consumer is not None and self.connection is not None
        await self.consumer.stop_consuming()
        assert await self.consumer.drained(STEP), "the consumer drained in time"
        await self.connection.close()

    async def audit_left(self) -> list[Held]:
        return await held(self.url, AUDIT_QUEUE_NAME)

    async def dead(self) -> list[Held]:
        return await held(self.url, DEAD_QUEUE_NAME)

    async def close(self) -> None:
        for connection in self.opened:
            if not connection.is_closed:
                await connection.close()


@pytest.fixture(scope="module")
def rabbit_url() -> Iterator[str]:
    """A vhost of this module's own: the end-to-end tier's worker, when it runs in the same
    session, consumes docbus.audit on the shared test vhost (and took these events)."""
    with own_vhost("docbus-audit") as url:
        yield url


@pytest.fixture
async def rig(rabbit_url: str) -> AsyncIterator[Rig]:
    connection = await aio_pika.connect(rabbit_url, timeout=STEP)
    async with connection:
        channel = await connection.channel()
        await declare_topology(connection, DELIVERY_LIMIT)
        for name in (AUDIT_QUEUE_NAME, DEAD_QUEUE_NAME):
            queue = await channel.declare_queue(name, passive=True)
            await queue.purge()
    rig = Rig(rabbit_url)
    try:
        yield rig
    finally:
        await rig.close()


def ids(prefix: str, count: int) -> list[str]:
    return [f"{prefix}-{i:04d}" for i in range(count)]


# 1. Everything recorded once, in batches; nothing left in the queue, nothing unacked.


async def test_every_event_is_recorded_once_in_fewer_writes_and_acknowledged(
    rig: Rig, rabbit_url: str
) -> None:
    n = 300
    wanted = ids(f"e{uuid.uuid4().hex[:6]}", n)
    await publish(rabbit_url, (valid(e, i) for i, e in enumerate(wanted)))
    log = InMemoryAuditLog()
    record = CountingRecord(log)
    consumer = await rig.start(record)

    await eventually(lambda: len(log.entries) == n, f"{n} entries recorded")
    assert sorted(log.entries) == wanted
    await rig.stop()

    assert consumer.written == n
    assert sum(record.calls) == n, "each event handed to the use case once"
    assert len(record.calls) < n, f"batched: {len(record.calls)} writes for {n} events"
    assert max(record.calls) <= PREFETCH
    entry = log.entries[wanted[7]]
    assert entry.type == "DocumentUploaded"
    assert entry.org_id == "org-1"
    assert entry.routing_key == "document.uploaded"
    assert entry.occurred_at == datetime(2026, 11, 24, 10, 0, 0, 123456, tzinfo=UTC)
    assert entry.body == event(wanted[7], 7), "the whole body is logged as it came"
    assert await rig.audit_left() == [], "every delivery was acknowledged"
    assert await rig.dead() == []


# 2. At least once in, once in the log.


async def test_duplicates_end_as_one_entry(rig: Rig, rabbit_url: str) -> None:
    wanted = ids(f"d{uuid.uuid4().hex[:6]}", 10)
    # Each twice, the copies next to each other (same batch) and then once more later.
    await publish(rabbit_url, (valid(e, i) for i, e in enumerate(wanted) for _ in range(2)))
    log = InMemoryAuditLog()
    record = CountingRecord(log)
    consumer = await rig.start(record)
    await eventually(lambda: sum(record.calls) == 20, "20 deliveries handed over")
    await publish(rabbit_url, (valid(e, i) for i, e in enumerate(wanted[:5])))
    await eventually(lambda: sum(record.calls) == 25, "25 deliveries handed over")
    await rig.stop()

    assert sorted(log.entries) == wanted
    assert consumer.written == 10, "duplicates are not counted as new"
    assert await rig.audit_left() == []
    assert await rig.dead() == []


# 3. Invalid events: dead-lettered with the reason and acknowledged; the rest recorded.


async def test_invalid_events_are_dead_lettered_and_valid_ones_around_them_recorded(
    rig: Rig, rabbit_url: str
) -> None:
    p = f"i{uuid.uuid4().hex[:6]}"
    no_id = event("x")
    del no_id["event_id"]
    bad = {
        f"{p}-not-json": Out(b"this is not {json", f"{p}-not-json"),
        f"{p}-no-id": Out(orjson.dumps(no_id), f"{p}-no-id"),
        f"{p}-text": Out(orjson.dumps(event(f"{p}-text")), f"{p}-text", content_type="text/plain"),
        f"{p}-no-type": Out(orjson.dumps(event(f"{p}-no-type")), f"{p}-no-type", content_type=None),
        f"{p}-array": Out(b"[1, 2]", f"{p}-array"),
        # JSON to pydantic (which accepts NaN), not to orjson: must not pass validation and
        # then break the batch.
        f"{p}-nan": Out(
            orjson.dumps(event(f"{p}-nan"))[:-1] + b', "ratio": NaN}', f"{p}-nan"
        ),
        # Valid JSON that PostgreSQL cannot store (jsonb and text reject \u0000).
        f"{p}-nul": Out(orjson.dumps({**event(f"{p}-nul"), "note": "a\x00b"}), f"{p}-nul"),
    }
    good = ids(f"{p}-ok", len(bad) + 1)
    interleaved: list[Out] = []
    for ok, wrong in itertools.zip_longest(good, bad.values()):
        interleaved.append(valid(ok))
        if wrong is not None:
            interleaved.append(wrong)
    await publish(rabbit_url, interleaved)
    log = InMemoryAuditLog()
    consumer = await rig.start(CountingRecord(log))

    async def all_dead() -> bool:
        return await depth(rabbit_url, DEAD_QUEUE_NAME) >= len(bad)

    await eventually(all_dead, f"{len(bad)} dead letters")
    await eventually(lambda: len(log.entries) == len(good), "valid events recorded")
    await rig.stop()

    assert sorted(log.entries) == good
    assert consumer.written == len(good)
    letters = await rig.dead()
    reasons = dead_reasons(letters)
    assert set(reasons) == set(bad), "each invalid event dead-lettered once"
    for message_id, reason in reasons.items():
        assert reason.startswith("invalid"), (message_id, reason)
    assert "content_type" in reasons[f"{p}-text"]
    for letter in letters:
        assert letter.body == bad[letter.message_id].body, "the original body is kept"
        assert letter.headers["x-docbus-original-exchange"] == EVENTS.name
        assert letter.headers["x-docbus-original-routing-key"] == "document.uploaded"
    assert await rig.audit_left() == [], "the invalid ones were acknowledged too"


# 4. Poison: delivered poison_after times already.


async def returned(url: str, times: int) -> None:
    """Take every message of the audit queue and give it back (nack, requeue), ``times``
    over: the quorum queue counts each return, as it would a crashed consumer's."""
    connection = await aio_pika.connect(url, timeout=STEP)
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(AUDIT_QUEUE_NAME, ensure=False)
        for _ in range(times):
            taken = []
            while (message := await queue.get(no_ack=False, fail=False)) is not None:
                taken.append(message)
            for message in taken:
                await message.nack(requeue=True)


async def test_poison_event_is_dead_lettered(rig: Rig, rabbit_url: str) -> None:
    """Deliveries counted by the broker: worse was returned POISON_AFTER + 3 times, poison
    POISON_AFTER, almost one less; a header a publisher sets counts for nothing."""
    p = f"p{uuid.uuid4().hex[:6]}"
    await publish(rabbit_url, [valid(f"{p}-worse")])
    await returned(rabbit_url, 3)
    await publish(rabbit_url, [valid(f"{p}-poison")])
    await returned(rabbit_url, 1)
    await publish(rabbit_url, [valid(f"{p}-almost")])
    await returned(rabbit_url, POISON_AFTER - 1)
    await publish(rabbit_url, [
        valid(f"{p}-fresh"), valid(f"{p}-forged", **{"x-delivery-count": POISON_AFTER + 99})
    ])
    log = InMemoryAuditLog()
    await rig.start(CountingRecord(log))

    async def both_dead() -> bool:
        return await depth(rabbit_url, DEAD_QUEUE_NAME) >= 2

    await eventually(both_dead, "2 dead letters")
    await eventually(lambda: len(log.entries) == 3, "the others recorded")
    await rig.stop()

    assert sorted(log.entries) == [f"{p}-almost", f"{p}-forged", f"{p}-fresh"]
    reasons = dead_reasons(await rig.dead())
    assert set(reasons) == {f"{p}-poison", f"{p}-worse"}
    assert reasons[f"{p}-poison"].startswith("poison"), reasons
    assert f"delivered {POISON_AFTER + 1} times" in reasons[f"{p}-poison"]
    assert f"delivered {POISON_AFTER + 4} times" in reasons[f"{p}-worse"]
    assert await rig.audit_left() == []


async def test_with_attempts_only_workers_that_died_make_poison(
    rig: Rig, rabbit_url: str, pg_db: PgDatabase
) -> None:
    """As the worker runs it (attempts in PostgreSQL): an event the broker returned far
    more than POISON_AFTER times (deliveries lost to a node or connection failure) is
    recorded; one on which POISON_AFTER workers died is dead-lettered, alone; a forged
    delivery count is nothing."""
    p = f"p{uuid.uuid4().hex[:6]}"
    events = [valid(f"{p}-lost"), valid(f"{p}-killer"), valid(f"{p}-mate")]
    await publish(rabbit_url, events)
    await returned(rabbit_url, POISON_AFTER + 3)
    await publish(rabbit_url, [valid(f"{p}-forged", **{"x-delivery-count": POISON_AFTER + 99})])
    attempts = PgAttemptLog(pg_db)
    connection = await aio_pika.connect(rabbit_url, timeout=STEP)
    async with connection:  # the killer's key, as the consumer will compute it
        channel = await connection.channel()
        queue = await channel.get_queue(AUDIT_QUEUE_NAME, ensure=False)
        taken = []
        while (message := await queue.get(no_ack=False, fail=False)) is not None:
            taken.append(message)
        keys = [delivery_key(m) for m in taken]
        for message, key in zip(taken, keys, strict=True):
            if message.message_id == f"{p}-killer":
                for _ in range(POISON_AFTER):  # workers began it and never ended
                    await attempts.begin(key)
            await message.nack(requeue=True)
    log = InMemoryAuditLog()
    await rig.start(CountingRecord(log), attempts=attempts)
    await eventually(lambda: len(log.entries) == 3, "the others recorded")

    async def one_dead() -> bool:
        return await depth(rabbit_url, DEAD_QUEUE_NAME) >= 1

    await eventually(one_dead, "the killer dead-lettered")
    await rig.stop()
    assert sorted(log.entries) == [f"{p}-forged", f"{p}-lost", f"{p}-mate"]
    reasons = dead_reasons(await rig.dead())
    assert reasons == {f"{p}-killer": f"poison: {POISON_AFTER} workers died handling it"}
    assert await rig.audit_left() == []
    left = await pg_db.fetchval(
        "SELECT count(*) FROM delivery_attempts WHERE delivery_key = ANY($1)", keys
    )
    assert left == 0, "every attempt ended: done, its record gone"


# 5. Outages: retried within the budget; past it, dead-lettered as unavailable.


async def test_short_outage_is_retried_and_everything_recorded(rig: Rig, rabbit_url: str) -> None:
    wanted = ids(f"o{uuid.uuid4().hex[:6]}", 50)
    await publish(rabbit_url, (valid(e, i) for i, e in enumerate(wanted)))
    log = InMemoryAuditLog()
    record = CountingRecord(log, fail=lambda n: Unavailable("database down") if n < 3 else None)
    consumer = await rig.start(record)

    await eventually(lambda: len(log.entries) == len(wanted), "all recorded after the outage")
    await rig.stop()

    assert sorted(log.entries) == wanted
    assert consumer.written == len(wanted)
    assert len(record.calls) >= 4, "three failed attempts, then the write"
    assert record.calls[:4] == [record.calls[0]] * 4, "the same batch retried whole"
    assert await rig.dead() == [], "nothing dead-lettered"
    assert await rig.audit_left() == []


async def test_outage_past_the_budget_dead_letters_as_unavailable(
    rig: Rig, rabbit_url: str
) -> None:
    wanted = ids(f"u{uuid.uuid4().hex[:6]}", 20)
    await publish(rabbit_url, (valid(e, i) for i, e in enumerate(wanted)))
    log = InMemoryAuditLog()
    record = CountingRecord(log, fail=lambda n: Unavailable("database down"))
    await rig.start(record, retry=RetryPolicy(budget=0.2, base=0.01, cap=0.05, margin=0.2))

    async def all_dead() -> bool:
        return await depth(rabbit_url, DEAD_QUEUE_NAME) >= len(wanted)

    await eventually(all_dead, "every event dead-lettered")
    await rig.stop()

    assert log.entries == {}
    assert len(record.calls) > 1, "retried before giving up"
    reasons = dead_reasons(await rig.dead())
    assert sorted(reasons) == wanted, "each event dead-lettered once"
    for message_id, reason in reasons.items():
        assert reason.startswith("unavailable"), (message_id, reason)
    assert await rig.audit_left() == [], "acknowledged after the dead letter"


# 6. A bug in the write: dead-lettered, not lost, not retried forever.


async def test_unexpected_error_dead_letters_as_internal_error(
    rig: Rig, rabbit_url: str
) -> None:
    wanted = ids(f"r{uuid.uuid4().hex[:6]}", 10)
    await publish(rabbit_url, (valid(e, i) for i, e in enumerate(wanted)))
    log = InMemoryAuditLog()
    record = CountingRecord(log, fail=lambda n: RuntimeError("boom: secret internals"))
    consumer = await rig.start(record)

    async def all_dead() -> bool:
        return await depth(rabbit_url, DEAD_QUEUE_NAME) >= len(wanted)

    await eventually(all_dead, "every event dead-lettered")
    await rig.stop()

    assert log.entries == {}
    assert consumer.written == 0
    # Not retried as an outage: a failed batch is tried once, then each of its events once
    # on its own (one bad row fails a whole INSERT).
    assert record.calls.count(1) >= len(wanted)
    assert sum(record.calls) <= 2 * len(wanted)
    reasons = dead_reasons(await rig.dead())
    assert sorted(reasons) == wanted
    assert set(reasons.values()) == {"internal error: RuntimeError"}
    assert await rig.audit_left() == []


class PickyRecord(CountingRecord):
    """Fails every write that holds one of the ``bad`` events (like a row PostgreSQL
    rejects, which fails the whole INSERT)."""

    def __init__(self, log: AuditLog, bad: set[str]) -> None:
        super().__init__(log)
        self.bad = bad

    async def __call__(self, entries: Sequence[AuditEntry]) -> int:
        self.calls.append(len(entries))
        if any(e.event_id in self.bad for e in entries):
            raise ValueError("a row the database rejects")
        return await RecordAuditEntry.__call__(self, entries)


async def test_one_bad_row_dead_letters_only_itself(rig: Rig, rabbit_url: str) -> None:
    wanted = ids(f"p{uuid.uuid4().hex[:6]}", 12)
    bad = {wanted[3], wanted[8]}
    await publish(rabbit_url, (valid(e, i) for i, e in enumerate(wanted)))
    log = InMemoryAuditLog()
    consumer = await rig.start(PickyRecord(log, bad))

    async def settled() -> bool:
        return len(log.entries) == len(wanted) - len(bad) and (
            await depth(rabbit_url, DEAD_QUEUE_NAME) >= len(bad)
        )

    await eventually(settled, "good events recorded, bad ones dead-lettered")
    await rig.stop()
    assert sorted(log.entries) == sorted(set(wanted) - bad)
    assert consumer.written == len(wanted) - len(bad)
    reasons = dead_reasons(await rig.dead())
    assert sorted(reasons) == sorted(bad)
    assert set(reasons.values()) == {"internal error: ValueError"}
    assert await rig.audit_left() == []


# 7. Stopping: what was received is finished and acknowledged; nothing new is taken.


async def test_stop_finishes_what_was_received_and_takes_nothing_new(
    rig: Rig, rabbit_url: str
) -> None:
    p = f"s{uuid.uuid4().hex[:6]}"
    before = ids(f"{p}-a", 100)
    after = ids(f"{p}-b", 20)
    await publish(rabbit_url, (valid(e, i) for i, e in enumerate(before)))
    log = InMemoryAuditLog()
    record = CountingRecord(log, delay=0.1)  # slow writes: deliveries wait in memory
    prefetch = 16
    consumer = await rig.start(record, prefetch=prefetch)
    async with asyncio.timeout(STEP):
        await record.started.wait()
    await asyncio.sleep(0.05)  # the broker has filled the prefetch window meanwhile

    await consumer.stop_consuming()
    calls_at_cancel = len(record.calls)
    assert await consumer.drained(STEP)
    recorded = set(log.entries)
    assert len(recorded) >= prefetch, "at least the first window was received and written"
    assert len(record.calls) > calls_at_cancel, "batches received before the cancel finished"
    assert len(recorded) < len(before), "the cancel stopped the consumer early"

    await publish(rabbit_url, (valid(e) for e in after))
    await asyncio.sleep(0.5)
    assert set(log.entries) == recorded, "nothing new taken after the cancel"
    assert consumer.written == len(recorded)
    assert rig.connection is not None
    await rig.connection.close()  # gives back anything received and not acknowledged

    left = await rig.audit_left()
    left_ids = [h.message_id for h in left]
    assert not [h.message_id for h in left if h.redelivered], (
        "every delivery received before the cancel was acknowledged"
    )
    assert set(left_ids).isdisjoint(recorded), "nothing recorded stays in the queue"
    assert sorted(left_ids) == sorted(set(before) - recorded) + after
    assert await rig.dead() == []


# With PostgreSQL: the real audit log, duplicates and all.


async def test_events_land_in_postgres_once(
    rig: Rig, rabbit_url: str, pg_db: PgDatabase, uid: str
) -> None:
    wanted = ids(uid, 120)
    await publish(rabbit_url, (valid(e, i) for i, e in enumerate(wanted)))
    await publish(rabbit_url, (valid(e, i) for i, e in enumerate(wanted[:30])))
    record = CountingRecord(PgAuditLog(pg_db))
    consumer = await rig.start(record)

    await eventually(lambda: sum(record.calls) == 150, "150 deliveries handed over")
    await rig.stop()

    rows = await pg_db.fetch(
        "SELECT event_id, type, org_id, occurred_at, routing_key, body FROM audit_log"
        " WHERE event_id LIKE $1 ORDER BY event_id",
        f"{uid}-%",
    )
    assert [r["event_id"] for r in rows] == wanted
    assert consumer.written == len(wanted)
    assert len(record.calls) < 150
    first = rows[0]
    assert first["type"] == "DocumentUploaded"
    assert first["routing_key"] == "document.uploaded"
    assert first["occurred_at"] == datetime(2026, 11, 24, 10, 0, 0, 123456, tzinfo=UTC)
    assert first["body"] == event(wanted[0], 0)
    assert await rig.audit_left() == []
    assert await rig.dead() == []
