"""Events on a real stream (the embedded Valkey 8 and Redis 7): the entry format, the
de-duplication of a re-publish, the length bound, consumer groups with reclaim, and the
audit reader writing to PostgreSQL, acking after the write."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import orjson
import pytest
from valkey.asyncio import Valkey

from docbus.adapters.postgres.audit import PgAuditLog
from docbus.adapters.postgres.database import PgDatabase
from docbus.adapters.valkey_streams import (
    StreamGroupReader,
    ValkeyStreamPublisher,
    make_streams_client,
)
from docbus.consumers.pipeline import RetryPolicy
from docbus.consumers.streams_audit import StreamsAuditConsumer
from docbus.core.ports import OutboxMessage
from docbus.handlers.record_audit import RecordAuditEntry
from tests.fixtures.valkey import cleanup_prefix

pytestmark = pytest.mark.integration

T0 = datetime(2026, 12, 1, tzinfo=UTC)
TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture(params=["valkey", "redis"])
def url(request: pytest.FixtureRequest) -> str:
    found: str = request.getfixturevalue(f"{request.param}_url")
    return found


@pytest.fixture
async def client(url: str, key_prefix: str) -> AsyncIterator[Valkey]:
    client = make_streams_client(url)
    yield client
    await client.aclose()
    await cleanup_prefix(url, key_prefix)


@pytest.fixture
def stream(key_prefix: str) -> str:
    return f"{key_prefix}events"


def event(n: int, uid: str = "t", traceparent: str | None = None) -> OutboxMessage:
    body = orjson.dumps({
        "event_id": f"{uid}-e{n}", "type": "document.uploaded", "org_id": f"{uid}-org",
        "occurred_at": T0.isoformat(), "n": n,
    })
    return OutboxMessage(
        n, f"{uid}-e{n}", "org.o.document.uploaded", body, (), T0, traceparent=traceparent
    )


def publisher(client: Valkey, stream: str, maxlen: int = 1000) -> ValkeyStreamPublisher:
    return ValkeyStreamPublisher(client, stream, maxlen=maxlen, dedup_seconds=600)


async def test_entries_carry_the_event_and_a_republish_adds_nothing(
    client: Valkey, stream: str
) -> None:
    first = [event(1, traceparent=TRACE), event(2), event(3)]
    assert await publisher(client, stream).publish(first) == [1, 2, 3]
    # the relay died before marking its rows: the batch goes out again, with a new one
    assert await publisher(client, stream).publish([*first, event(4)]) == [1, 2, 3, 4]
    entries = await client.xrange(stream)
    assert [fields[b"event_id"] for _, fields in entries] == [b"t-e1", b"t-e2", b"t-e3", b"t-e4"]
    assert entries[0][1] == {
        b"event_id": b"t-e1", b"routing_key": b"org.o.document.uploaded",
        b"body": first[0].body, b"traceparent": TRACE.encode(),
    }
    assert b"traceparent" not in entries[1][1]  # only when the event has one
    assert 590 <= await client.ttl(f"{stream}:seen:t-e1") <= 600
    assert await client.get(f"{stream}:seen:t-e1") == entries[0][0]


async def test_the_stream_length_is_bounded(client: Valkey, stream: str) -> None:
    events = [event(n) for n in range(2000)]
    for start in range(0, 2000, 500):
        await publisher(client, stream, maxlen=100).publish(events[start:start + 500])
    # MAXLEN ~ trims whole nodes (100 entries each by default): about the bound, not above
    # it by more than a node
    assert 100 <= await client.xlen(stream) <= 200


async def test_a_dead_readers_pending_entries_are_reclaimed(client: Valkey, stream: str) -> None:
    await publisher(client, stream).publish([event(1), event(2), event(3)])
    dead = StreamGroupReader(client, stream, "g", "dead")
    alive = StreamGroupReader(client, stream, "g", "alive")
    await dead.ensure_group()
    await alive.ensure_group()  # a second worker: the group exists already
    taken = await dead.read(2, 100)
    assert [e.text("event_id") for e in taken] == ["t-e1", "t-e2"]
    assert await alive.reclaim(60_000, 10) == []  # not idle long enough
    await asyncio.sleep(0.1)
    reclaimed = await alive.reclaim(50, 10)
    assert [e.text("event_id") for e in reclaimed] == ["t-e1", "t-e2"]
    assert [e.text("event_id") for e in await alive.read(10, 100)] == ["t-e3"]
    await alive.ack([e.id for e in [*reclaimed]])
    pending = await client.xpending(stream, "g")
    assert pending["pending"] == 1  # t-e3: read, never acked


async def test_the_audit_reader_writes_then_acks_and_dead_letters_the_invalid(
    client: Valkey, stream: str, pg_db: PgDatabase, uid: str
) -> None:
    await publisher(client, stream).publish([event(1, uid), event(2, uid)])
    await client.xadd(stream, {"event_id": "bad", "routing_key": "x", "body": b"{nope"})
    await publisher(client, stream).publish([event(3, uid)])
    # a reader that died holding event 1
    died = StreamGroupReader(client, stream, "audit", "died")
    await died.ensure_group()
    assert len(await died.read(1, 100)) == 1
    await asyncio.sleep(0.06)
    reader = StreamGroupReader(client, stream, "audit", "alive")
    audit = StreamsAuditConsumer(
        reader, RecordAuditEntry(PgAuditLog(pg_db)), RetryPolicy(budget=5.0),
        block_ms=100, reclaim_idle_ms=50, reclaim_every=0.0,
    )
    await audit.start()
    try:
        async with asyncio.timeout(10):
            while (await client.xpending(stream, "audit"))["pending"] or audit.written < 3:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
    finally:
        await audit.stop_consuming()
        assert await audit.drained(5.0)
    rows = await pg_db.fetch(
        "SELECT event_id FROM audit_log WHERE event_id LIKE $1 ORDER BY event_id", f"{uid}-%"
    )
    assert [r["event_id"] for r in rows] == [f"{uid}-e1", f"{uid}-e2", f"{uid}-e3"]
    assert audit.reclaimed == 1
    [(_, dead)] = await client.xrange(f"{stream}:dead")
    assert dead[b"event_id"] == b"bad"
    assert dead[b"reason"].startswith(b"body is not strict JSON")
