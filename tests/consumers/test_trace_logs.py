"""Log lines of a traced message carry its ids; a DEBUG line per message gives its
outcome and duration; the reply carries the consume span's context."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import structlog
from faststream.rabbit import TestRabbitBroker
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from docbus.adapters.memory import (
    FixedClock,
    InMemoryAuditLog,
    InMemoryDatabase,
    InMemoryReplyCache,
    InMemoryUnitOfWorkFactory,
    SequentialIds,
)
from docbus.adapters.tracing import Tracing
from docbus.consumers.pipeline import Pipeline, RetryPolicy
from docbus.consumers.subscribers import build_runners, make_broker, register_commands
from tests.consumers.conftest import Harness, RecordingResponder

QUERY = {"doc_id": "x", "user_id": "alice"}
GIVEN = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
async def traced(exporter: InMemorySpanExporter) -> AsyncIterator[Harness]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    db, cache = InMemoryDatabase(), InMemoryReplyCache()
    responder = RecordingResponder()
    pipeline = Pipeline(
        responder, RetryPolicy(budget=0.2), poison_after=5,  # type: ignore[arg-type]
        tracing=Tracing(provider),
    )
    broker = make_broker()
    runners = build_runners(
        InMemoryUnitOfWorkFactory(db), cache, FixedClock(), SequentialIds(),
        cursor_key=b"consumers-test-cursor-key",
    )
    register_commands(broker, pipeline, runners, prefetch=8, delivery_limit=20)
    async with TestRabbitBroker(broker) as test_broker:
        yield Harness(test_broker, responder, pipeline, runners, db, cache, InMemoryAuditLog())


def lines(logs: list[dict[str, Any]], event: str) -> list[dict[str, Any]]:
    return [line for line in logs if line["event"] == event]


async def test_every_line_of_a_traced_message_names_its_trace_and_span(
    traced: Harness, exporter: InMemorySpanExporter
) -> None:
    with structlog.testing.capture_logs([structlog.contextvars.merge_contextvars]) as logs:
        await traced.send("document.get", QUERY, headers={"traceparent": GIVEN})
        await traced.send("document.get", b"not json", headers={"traceparent": GIVEN})
    [ok, invalid] = [s for s in exporter.get_finished_spans() if s.name.endswith("process")]
    assert [line["outcome"] for line in lines(logs, "message_handled")] == ["ok", "invalid"]
    assert all(line["duration_ms"] >= 0 for line in lines(logs, "message_handled"))
    assert logs, "something was logged"
    for line in logs:
        assert line["trace_id"] == GIVEN[3:35]
        assert line["span_id"] in {f"{s.context.span_id:016x}" for s in (ok, invalid)}
    assert lines(logs, "message_invalid")[0]["span_id"] == f"{invalid.context.span_id:016x}"
    assert not invalid.status.is_ok


async def test_untraced_lines_name_no_trace(harness: Harness) -> None:
    with structlog.testing.capture_logs([structlog.contextvars.merge_contextvars]) as logs:
        await harness.send("document.get", QUERY, headers={"traceparent": GIVEN})
    [handled] = lines(logs, "message_handled")
    assert handled["outcome"] == "ok"
    assert "trace_id" not in handled
