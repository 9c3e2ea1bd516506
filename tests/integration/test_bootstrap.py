"""The composition root, in process, on real PostgreSQL, Valkey and RabbitMQ.

A database and a vhost of its own: its relay and audit consumer would otherwise take the
outbox rows and audit events that other integration tests expect to find.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import orjson
import pytest
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from pydantic import BaseModel
from valkey.asyncio import Valkey

from docbus.adapters.postgres.database import PgDatabase
from docbus.consumers import bootstrap as boot
from docbus.consumers.bootstrap import Overrides, bootstrap
from docbus.consumers.pipeline import Pipeline, Run
from docbus.consumers.settings import Settings
from docbus.core.ports import RABBITMQ, EventPublisher, Outbox, OutboxBatch, OutboxMessage
from tests.fixtures.postgres import migrated_scratch_database
from tests.fixtures.rabbit import own_vhost
from tests.fixtures.valkey import cleanup_prefix

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def own_pg_url() -> AsyncIterator[str]:
    async for url in migrated_scratch_database("docbus_boot"):
        yield url


@pytest.fixture(scope="module")
def own_rabbit_url() -> Iterator[str]:
    with own_vhost("docbus-boot") as url:
        yield url


@pytest.fixture
def settings(
    own_pg_url: str, own_rabbit_url: str, valkey_url: str, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    monkeypatch.setenv("DOCBUS_DATABASE_URL", own_pg_url)
    monkeypatch.setenv("DOCBUS_RABBIT_URL", own_rabbit_url)
    monkeypatch.setenv("DOCBUS_VALKEY_URL", valkey_url)
    monkeypatch.setenv("DOCBUS_SHUTDOWN_DEADLINE", "10")
    return Settings()


@dataclass
class Seen:
    """What each override saw pass through it."""

    deliveries: list[str] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)
    claims: int = 0
    published: list[str] = field(default_factory=list)


def recording(seen: Seen) -> Overrides:
    class RecordingPipeline(Pipeline):
        async def process(
            self, raw: AbstractIncomingMessage, schema: type[BaseModel], run: Run, *, query: bool
        ) -> None:
            seen.deliveries.append(raw.message_id or "")
            await super().process(raw, schema, run, query=query)

    def runner(run: Run) -> Run:
        async def recorded(body: Any, raw: AbstractIncomingMessage) -> bytes:
            reply = await run(body, raw)
            seen.runs.append(raw.message_id or "")
            return reply

        return recorded

    class RecordingOutbox:
        def __init__(self, outbox: Outbox) -> None:
            self._outbox = outbox

        def claim(
            self, limit: int, transport: str = RABBITMQ
        ) -> AbstractAsyncContextManager[OutboxBatch]:
            seen.claims += 1
            return self._outbox.claim(limit, transport)

    class RecordingPublisher:
        def __init__(self, publisher: EventPublisher) -> None:
            self._publisher = publisher

        async def publish(self, messages: Sequence[OutboxMessage]) -> list[int]:
            sent = await self._publisher.publish(messages)
            seen.published += [m.event_id for m in messages if m.id in sent]
            return sent

    return Overrides(
        outbox=RecordingOutbox, publisher=RecordingPublisher, runner=runner,
        pipeline=RecordingPipeline,
    )


async def request(url: str, routing_key: str, body: dict[str, Any], message_id: str) -> Any:
    """Publish a command as a client would and wait for its reply."""
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        replies = await channel.get_queue("amq.rabbitmq.reply-to", ensure=False)
        got: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

        async def on_reply(message: AbstractIncomingMessage) -> None:
            if not got.done():
                got.set_result(message.body)

        await replies.consume(on_reply, no_ack=True)
        exchange = await channel.get_exchange("docbus.commands", ensure=False)
        await exchange.publish(
            aio_pika.Message(
                orjson.dumps(body), content_type="application/json", message_id=message_id,
                reply_to="amq.rabbitmq.reply-to", correlation_id=message_id,
            ),
            routing_key,
        )
        async with asyncio.timeout(10):
            return orjson.loads(await got)


async def eventually(check: Any, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {timeout} s: {what}")


async def test_the_built_worker_answers_relays_and_audits_through_the_overrides(
    settings: Settings,
) -> None:
    seen = Seen()
    worker = await bootstrap(settings, overrides=recording(seen))
    await worker.start()
    try:
        uid = uuid.uuid4().hex[:8]
        reply = await request(
            settings.rabbit.url, "org.member.set",
            {"org_id": f"org-{uid}", "user_id": f"u-{uid}", "role": "member"}, f"m-{uid}",
        )
        assert reply["ok"], reply
        assert seen.deliveries == [f"m-{uid}"]
        assert seen.runs == [f"m-{uid}"]
        await eventually(lambda: len(seen.published) == 1, "the event is relayed")
        assert seen.claims >= 1
        audit = next(c for c in worker.consumers if c.name == "audit")
        await eventually(lambda: audit.figures()["audit_written"] == 1, "the event is audited")
    finally:
        await worker.stop()


async def test_with_streams_the_relay_writes_the_stream_and_the_audit_reads_it(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, key_prefix: str, valkey_url: str
) -> None:
    monkeypatch.setenv("DOCBUS_EVENT_TRANSPORTS", "rabbitmq,valkey-streams")
    monkeypatch.setenv("DOCBUS_AUDIT_SOURCE", "valkey-streams")
    monkeypatch.setenv("DOCBUS_STREAMS_STREAM", f"{key_prefix}events")
    worker = await bootstrap(Settings())
    await worker.start()
    streams = Valkey.from_url(valkey_url)
    try:
        uid = uuid.uuid4().hex[:8]
        reply = await request(
            settings.rabbit.url, "org.member.set",
            {"org_id": f"org-{uid}", "user_id": f"u-{uid}", "role": "member"}, f"m-{uid}",
        )
        assert reply["ok"], reply
        audit = next(c for c in worker.consumers if c.name == "audit")
        await eventually(lambda: audit.figures()["audit_written"] == 1, "audited")
        assert "audit_reclaimed" in audit.figures()  # the stream's reader, not RabbitMQ's
        [(_, entry)] = await streams.xrange(f"{key_prefix}events")
        assert entry[b"routing_key"] == b"org.member.changed"
        assert orjson.loads(entry[b"body"])["user_id"] == f"u-{uid}"
        # docbus.audit is unbound: nobody reads it, so it must not fill up
        connection = await aio_pika.connect(settings.rabbit.url)
        async with connection:
            queue = await (await connection.channel()).declare_queue("docbus.audit", passive=True)
            assert queue.declaration_result.message_count == 0
    finally:
        await worker.stop()
        await streams.aclose()
        await cleanup_prefix(valkey_url, key_prefix)


@dataclass
class Opened:
    connections: list[AbstractRobustConnection] = field(default_factory=list)
    databases_closed: int = 0


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> Opened:
    """Records the AMQP connections the composition root opens and the pools it closes."""
    spy = Opened()
    connect, close = boot._connect, PgDatabase.close

    async def recorded_connect(*args: Any, **kwargs: Any) -> AbstractRobustConnection:
        connection = await connect(*args, **kwargs)
        spy.connections.append(connection)
        return connection

    async def recorded_close(self: PgDatabase) -> None:
        spy.databases_closed += 1
        await close(self)

    monkeypatch.setattr(boot, "_connect", recorded_connect)
    monkeypatch.setattr(PgDatabase, "close", recorded_close)
    return spy


async def test_stop_closes_every_connection_it_opened(settings: Settings, opened: Opened) -> None:
    worker = await bootstrap(settings, roles=frozenset({"relay", "audit"}))
    assert [c.name for c in worker.consumers] == ["audit"]
    await worker.start()
    await worker.stop()
    assert len(opened.connections) == 2  # publishing, audit (no command subscribers)
    assert all(c.is_closed for c in opened.connections)
    assert opened.databases_closed == 1
    assert all(task.done() for task in worker._tasks)


async def test_a_bootstrap_that_fails_half_way_closes_what_it_opened(
    settings: Settings, opened: Opened, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refused(*args: Any, **kwargs: Any) -> None:
        raise PermissionError("ACCESS_REFUSED")

    monkeypatch.setattr(boot, "declare_topology", refused)
    with pytest.raises(PermissionError):
        await bootstrap(settings)
    assert len(opened.connections) == 1
    assert opened.connections[0].is_closed
    assert opened.databases_closed == 1
