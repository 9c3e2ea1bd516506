"""Contract v2, section 6: one command, one trace, from the client's publish through the
worker, the relay and the audit consumer; with tracing off, the context is passed on.

The worker runs in process (consumers/bootstrap.py), on real PostgreSQL, Valkey and
RabbitMQ, in a database and vhost of its own; with tracing on it shares the test's
tracer provider, whose in-memory exporter collects every span.
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aio_pika
import orjson
import pytest
from aio_pika.abc import AbstractIncomingMessage
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from docbus.consumers.bootstrap import Overrides, bootstrap
from docbus.consumers.settings import Settings
from docbus.consumers.telemetry import QuietRoots, tracer_provider
from docbus.consumers.worker import Worker
from docbus_client import DocbusClient
from tests.fixtures.postgres import migrated_scratch_database
from tests.fixtures.rabbit import own_vhost
from tests.integration.test_bootstrap import eventually

pytestmark = pytest.mark.integration
TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]")


@pytest.fixture(scope="module")
async def own_pg_url() -> AsyncIterator[str]:
    async for url in migrated_scratch_database("docbus_trace"):
        yield url


@pytest.fixture(scope="module")
def own_rabbit_url() -> Iterator[str]:
    with own_vhost("docbus-trace") as url:
        yield url


@pytest.fixture
def settings(
    own_pg_url: str, own_rabbit_url: str, valkey_url: str, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    monkeypatch.setenv("DOCBUS_DATABASE_URL", own_pg_url)
    monkeypatch.setenv("DOCBUS_RABBIT_URL", own_rabbit_url)
    monkeypatch.setenv("DOCBUS_VALKEY_URL", valkey_url)
    monkeypatch.setenv("DOCBUS_SHUTDOWN_DEADLINE", "10")
    for name in [n for n in os.environ if n.startswith("OTEL_")] + ["DOCBUS_TRACING"]:
        monkeypatch.delenv(name, raising=False)
    return Settings()


class Events:
    """Every event docbus publishes, as delivered to a queue of the test's own."""

    def __init__(self) -> None:
        self.received: list[AbstractIncomingMessage] = []

    async def bind(self, url: str) -> aio_pika.abc.AbstractRobustConnection:
        connection = await aio_pika.connect_robust(url)
        channel = await connection.channel()
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind("doc.events", "#")
        await queue.consume(self._on_event, no_ack=True)
        return connection

    async def _on_event(self, message: AbstractIncomingMessage) -> None:
        self.received.append(message)


async def request(
    url: str, body: dict[str, Any], headers: dict[str, Any]
) -> AbstractIncomingMessage:
    """Send org.member.set as a plain AMQP client would; the reply, with its headers."""
    async with await aio_pika.connect(url) as connection:
        channel = await connection.channel()
        replies = await channel.get_queue("amq.rabbitmq.reply-to", ensure=False)
        got: asyncio.Future[AbstractIncomingMessage] = asyncio.get_running_loop().create_future()

        async def on_reply(message: AbstractIncomingMessage) -> None:
            if not got.done():
                got.set_result(message)

        await replies.consume(on_reply, no_ack=True)
        message_id = uuid.uuid4().hex
        exchange = await channel.get_exchange("docbus.commands", ensure=False)
        await exchange.publish(
            aio_pika.Message(
                orjson.dumps(body), content_type="application/json", message_id=message_id,
                reply_to="amq.rabbitmq.reply-to", correlation_id=message_id, headers=headers,
            ),
            "org.member.set",
        )
        async with asyncio.timeout(10):
            return await got


def membership() -> dict[str, str]:
    uid = uuid.uuid4().hex[:8]
    return {"org_id": f"org-{uid}", "user_id": f"u-{uid}", "role": "member"}


async def audited(worker: Worker, count: int) -> None:
    audit = next(c for c in worker.consumers if c.name == "audit")
    await eventually(lambda: audit.figures()["audit_written"] >= count, "the event is audited")


async def test_one_command_is_one_trace_from_the_client_to_the_audit_log(
    settings: Settings,
) -> None:
    exporter = InMemorySpanExporter()
    provider = tracer_provider(SimpleSpanProcessor(exporter))
    worker = await bootstrap(settings, overrides=Overrides(tracer_provider=provider))
    events = Events()
    listening = await events.bind(settings.rabbit.url)
    await worker.start()
    try:
        async with DocbusClient(settings.rabbit.url) as docbus:
            with provider.get_tracer("upstream").start_as_current_span("upstream") as upstream:
                body = membership()
                await docbus.set_membership(body["org_id"], body["user_id"], "member")
        await audited(worker, 1)
        await eventually(
            lambda: any(s.name == "audit write" for s in exporter.get_finished_spans()),
            "the audit write's span ended",
        )
    finally:
        await worker.stop()
        await listening.close()
    trace_id = upstream.get_span_context().trace_id
    spans = [s for s in exporter.get_finished_spans() if s.name != "upstream"]
    assert {s.context.trace_id for s in spans} == {trace_id}, names(spans)
    by_name = {s.name: s for s in spans}
    consume = by_name["org.member.set process"]
    assert consume.kind is SpanKind.CONSUMER
    assert consume.parent is not None
    assert consume.parent.span_id == upstream.get_span_context().span_id
    use_case = by_name["use_case org.member.set"]
    assert use_case.parent is not None and use_case.parent.span_id == consume.context.span_id
    assert sql(spans), names(spans)
    assert all(s.parent is not None for s in sql(spans))
    assert "cache invalidate" in by_name
    [publish] = [s for s in spans if s.kind is SpanKind.PRODUCER]
    assert publish.parent is not None and publish.parent.span_id == use_case.context.span_id
    write = by_name["audit write"]
    assert write.parent is not None and write.parent.span_id == publish.context.span_id
    [event] = events.received
    carried = str((event.headers or {})["traceparent"])
    assert carried.startswith(f"00-{trace_id:032x}-{publish.context.span_id:016x}-")


def names(spans: list[ReadableSpan]) -> list[str]:
    return sorted(f"{s.name} {s.context.trace_id:032x}" for s in spans)


def sql(spans: list[ReadableSpan]) -> list[ReadableSpan]:
    return [
        s for s in spans
        if s.instrumentation_scope and s.instrumentation_scope.name.endswith("asyncpg")
    ]


async def test_with_tracing_off_the_reply_and_the_event_carry_the_commands_traceparent(
    settings: Settings,
) -> None:
    worker = await bootstrap(settings)
    events = Events()
    listening = await events.bind(settings.rabbit.url)
    await worker.start()
    try:
        sent = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"
        reply = await request(
            settings.rabbit.url, membership(), {"traceparent": sent, "tracestate": "a=1"}
        )
        assert reply.headers == {"traceparent": sent, "tracestate": "a=1"}
        made_up = await request(settings.rabbit.url, membership(), {"traceparent": "garbage"})
        assert TRACEPARENT.fullmatch(str((made_up.headers or {}).get("traceparent")))
        await eventually(lambda: len(events.received) == 2, "both events are relayed")
    finally:
        await worker.stop()
        await listening.close()
    carried = sorted(str((e.headers or {}).get("traceparent")) for e in events.received)
    assert carried == sorted([sent, str((made_up.headers or {})["traceparent"])])


def test_a_database_call_made_for_no_message_is_no_trace_of_its_own() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=QuietRoots(TracerProvider().sampler))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("relay claim", kind=SpanKind.CLIENT):
        pass
    with tracer.start_as_current_span("process", kind=SpanKind.CONSUMER), \
            tracer.start_as_current_span("SELECT", kind=SpanKind.CLIENT):
        pass
    assert sorted(s.name for s in exporter.get_finished_spans()) == ["SELECT", "process"]
