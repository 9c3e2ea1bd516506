"""Events on RabbitMQ and Valkey Streams at once, with RabbitMQ unreachable for the relay.

Real servers throughout: PostgreSQL (the outbox, the audit log), RabbitMQ in a vhost of
its own (reached by the relay through a TCP forwarder the test cuts: the shared broker is
never stopped) and the embedded Valkey (the stream, the reply cache). The relay loop runs
as the worker runs it; the audit reads the stream in a consumer group.

While RabbitMQ is cut, committed events reach the stream and the audit log, and stay in
the outbox (marked sent to the stream). Once it is back, each reaches RabbitMQ once, the
stream holds none twice, and the outbox is empty.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import orjson
import pytest
from valkey.asyncio import Valkey

from docbus.adapters.memory import InMemoryMissedInvalidations
from docbus.adapters.postgres.audit import PgAuditLog
from docbus.adapters.postgres.database import PgDatabase
from docbus.adapters.postgres.outbox import WRITE_OUTBOX, PgOutbox
from docbus.adapters.rabbit_publisher import RabbitEventPublisher
from docbus.adapters.valkey_cache import ValkeyReplyCache, make_client
from docbus.adapters.valkey_streams import (
    StreamGroupReader,
    ValkeyStreamPublisher,
    make_streams_client,
)
from docbus.consumers.background import RelayLoop
from docbus.consumers.bootstrap import bootstrap
from docbus.consumers.pipeline import RetryPolicy
from docbus.consumers.settings import Settings
from docbus.consumers.streams_audit import StreamsAuditConsumer
from docbus.consumers.topology import AUDIT_QUEUE_NAME, declare_topology
from docbus.core.ports import RABBITMQ, VALKEY_STREAMS
from docbus.handlers.record_audit import RecordAuditEntry
from docbus.handlers.relay_outbox import RelayOutbox
from tests.fixtures.postgres import migrated_scratch_database
from tests.fixtures.rabbit import own_vhost
from tests.fixtures.tcp_proxy import TcpProxy
from tests.fixtures.valkey import cleanup_prefix

pytestmark = pytest.mark.integration

BOTH = (RABBITMQ, VALKEY_STREAMS)
STEP = 30.0


@pytest.fixture
def vhost() -> Iterator[str]:
    with own_vhost("docbus-transports") as url:
        yield url


@pytest.fixture
async def proxy() -> AsyncIterator[TcpProxy]:
    proxy = TcpProxy("127.0.0.1", 5672)
    await proxy.start()
    yield proxy
    await proxy.close()


@pytest.fixture(params=["valkey", "redis"])
def url(request: pytest.FixtureRequest) -> str:
    """The stream's server: the embedded Valkey 8, and Redis 7."""
    found: str = request.getfixturevalue(f"{request.param}_url")
    return found


@pytest.fixture
async def streams(url: str, key_prefix: str) -> AsyncIterator[Valkey]:
    client = make_streams_client(url)
    yield client
    await client.aclose()
    await cleanup_prefix(url, key_prefix)


def through(url: str, proxy: TcpProxy) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"guest:guest@127.0.0.1:{proxy.port}"))


async def commit_events(db: PgDatabase, uid: str, numbers: range) -> list[str]:
    ids = [f"{uid}-e{n}" for n in numbers]
    bodies = [orjson.dumps({
        "event_id": i, "type": "document.uploaded", "org_id": f"{uid}-org",
        "occurred_at": "2026-12-01T00:00:00Z",
    }) for i in ids]
    keys = [f"org.{uid}.document.uploaded"] * len(ids)
    await db.execute(WRITE_OUTBOX, ids, keys, bodies, ["[]"] * len(ids), [None] * len(ids))
    return ids


async def until(value: Callable[[], Awaitable[object]], expected: object) -> None:
    async with asyncio.timeout(STEP):
        while await value() != expected:  # noqa: ASYNC110 - polling servers, no event
            await asyncio.sleep(0.05)


async def audit_queue(vhost: str) -> list[str]:
    """Every event id waiting in docbus.audit (read directly, not through the forwarder)."""
    connection = await aio_pika.connect(vhost)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(AUDIT_QUEUE_NAME, passive=True)
        ids = []
        while (message := await queue.get(fail=False, no_ack=True)) is not None:
            ids.append(message.message_id or "")
        return ids


async def test_with_rabbitmq_cut_events_reach_the_stream_and_audit_then_rabbitmq_once(
    vhost: str, proxy: TcpProxy, streams: Valkey, url: str, key_prefix: str,
    pg_db: PgDatabase,
) -> None:
    uid = f"t{uuid.uuid4().hex[:8]}"
    stream = f"{key_prefix}events"
    admin = await aio_pika.connect(vhost)
    async with admin:
        await declare_topology(admin, 20)
    connection = await aio_pika.connect_robust(through(vhost, proxy), reconnect_interval=0.5)
    cache = ValkeyReplyCache(make_client(url), InMemoryMissedInvalidations(),
                             prefix=key_prefix)
    relay = RelayOutbox(
        PgOutbox(pg_db, BOTH),
        {RABBITMQ: RabbitEventPublisher(connection, timeout=1.0),
         VALKEY_STREAMS: ValkeyStreamPublisher(streams, stream, maxlen=10_000,
                                               dedup_seconds=600)},
        cache, batch=10, rest=0.2, max_rest=0.5,
    )
    audit = StreamsAuditConsumer(
        StreamGroupReader(streams, stream, "docbus.audit", "a1"),
        RecordAuditEntry(PgAuditLog(pg_db)), RetryPolicy(budget=5.0), block_ms=100,
    )
    stopping = asyncio.Event()
    loop = asyncio.ensure_future(RelayLoop(relay, pg_db, batch=10).run(stopping))
    await audit.start()

    async def audited() -> int:
        return int(await pg_db.fetchval(
            "SELECT count(*) FROM audit_log WHERE event_id LIKE $1", f"{uid}-%"))

    async def waiting() -> list[tuple[str, list[str]]]:
        rows = await pg_db.fetch("SELECT event_id, sent_to FROM outbox ORDER BY id")
        return [(r["event_id"], list(r["sent_to"])) for r in rows]

    try:
        await proxy.cut()
        committed = await commit_events(pg_db, uid, range(25))  # more than two batches
        await until(audited, 25)
        assert await waiting() == [(i, [VALKEY_STREAMS]) for i in committed]
        assert await audit_queue(vhost) == []

        await proxy.restore()
        committed += await commit_events(pg_db, uid, range(25, 30))  # and new ones
        await until(waiting, [])
        await until(audited, 30)
    finally:
        stopping.set()
        await loop
        await audit.close()
        await connection.close()
        await cache.aclose()
    in_rabbit = await audit_queue(vhost)
    assert sorted(in_rabbit) == sorted(committed)  # each once: nothing lost, nothing doubled
    entries = [f[b"event_id"].decode() for _, f in await streams.xrange(stream)]
    assert entries == committed  # in commit order, none twice



@pytest.fixture
async def own_pg_url() -> AsyncIterator[str]:
    async for db_url in migrated_scratch_database("docbus_transports"):
        yield db_url


async def test_the_worker_whose_rabbitmq_is_cut_still_streams_and_audits(
    vhost: str, proxy: TcpProxy, own_pg_url: str, valkey_url: str, key_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same through the composition root: the worker's RabbitMQ URL is the forwarder."""
    stream = f"{key_prefix}events"
    for name, value in {
        "DATABASE_URL": own_pg_url, "VALKEY_URL": valkey_url,
        "RABBIT_URL": through(vhost, proxy), "EVENT_TRANSPORTS": "rabbitmq,valkey-streams",
        "AUDIT_SOURCE": "valkey-streams", "STREAMS_STREAM": stream, "SHUTDOWN_DEADLINE": "5",
    }.items():
        monkeypatch.setenv(f"DOCBUS_{name}", value)
    worker = await bootstrap(Settings(), roles=frozenset({"relay", "audit"}))
    tap_connection = await aio_pika.connect(vhost)  # not through the forwarder
    tap = await (await tap_connection.channel()).declare_queue(exclusive=True)
    await tap.bind("doc.events", "#")
    db = await PgDatabase.connect(own_pg_url, min_size=1, max_size=2)
    uid = f"t{uuid.uuid4().hex[:8]}"

    async def audited() -> int:
        return int(await db.fetchval("SELECT count(*) FROM audit_log"))

    async def waiting() -> int:
        return int(await db.fetchval("SELECT count(*) FROM outbox"))

    await worker.start()
    try:
        await proxy.cut()
        committed = await commit_events(db, uid, range(12))
        await until(audited, 12)
        assert await waiting() == 12  # RabbitMQ has none of them yet
        await proxy.restore()
        await until(waiting, 0)
        tapped = []
        async with asyncio.timeout(STEP):
            while len(tapped) < 12:
                if (message := await tap.get(fail=False, no_ack=True)) is not None:
                    tapped.append(message.message_id)
                else:
                    await asyncio.sleep(0.05)
        assert sorted(tapped) == sorted(committed)
        entries = [f[b"event_id"].decode() for _, f in await worker_stream(valkey_url, stream)]
        assert entries == committed
    finally:
        await worker.stop()
        await tap_connection.close()
        await db.close()
        await cleanup_prefix(valkey_url, key_prefix)


async def worker_stream(url: str, stream: str) -> list[tuple[bytes, dict[bytes, bytes]]]:
    client = make_streams_client(url)
    try:
        entries: list[tuple[bytes, dict[bytes, bytes]]] = await client.xrange(stream)
        return entries
    finally:
        await client.aclose()
