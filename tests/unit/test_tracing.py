"""Trace context without servers: what the off path passes on, the mode the environment
selects, the client's headers, and each command of a group keeping its own trace."""

from __future__ import annotations

import asyncio
import json
import re
import sys

import pytest
from opentelemetry.sdk.trace import TracerProvider

import docbus_client.tracing as client_tracing
from docbus.adapters.tracing import PassedTrace, new_traceparent, passed_through
from docbus.consumers.telemetry import tracing_mode
from docbus.core import tracing
from docbus.handlers.group_commit import GroupCommit
from tests.unit.conftest import World
from tests.unit.test_group_commit import bounded, grouping, upload

NEW = re.compile(r"00-[0-9a-f]{32}-[0-9a-f]{16}-00")
GIVEN = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_a_valid_traceparent_is_passed_on_as_it_came_with_its_tracestate() -> None:
    assert passed_through({"traceparent": GIVEN, "tracestate": "k=v"}) == PassedTrace(GIVEN, "k=v")
    future = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09"
    assert passed_through({"traceparent": future}) == PassedTrace(future)


@pytest.mark.parametrize(
    "headers",
    [
        None,
        {},
        {"traceparent": "garbage", "tracestate": "k=v"},
        {"traceparent": GIVEN.upper()},
        {"traceparent": GIVEN + "-"},
        {"traceparent": "ff" + GIVEN[2:]},
        {"traceparent": f"00-{'0' * 32}-00f067aa0ba902b7-01"},
        {"traceparent": f"00-4bf92f3577b34da6a3ce929d0e0e4736-{'0' * 16}-01"},
        {"traceparent": GIVEN.encode()},
    ],
)
def test_without_a_valid_traceparent_a_new_trace_is_made_up(headers: dict | None) -> None:
    made_up = passed_through(headers)
    assert NEW.fullmatch(made_up.traceparent)
    assert made_up.tracestate is None
    assert made_up != passed_through(headers)


@pytest.mark.parametrize(
    ("asked", "env", "mode"),
    [
        ("auto", {}, "off"),
        ("auto", {"OTEL_TRACES_EXPORTER": "none"}, "off"),
        ("auto", {"OTEL_TRACES_EXPORTER": "otlp"}, "otlp"),
        ("auto", {"OTEL_TRACES_EXPORTER": "console"}, "console"),
        ("console", {}, "console"),
        ("OTLP", {"OTEL_TRACES_EXPORTER": "none"}, "otlp"),
        ("otlp", {"OTEL_SDK_DISABLED": "true"}, "off"),
        ("auto", {"OTEL_SDK_DISABLED": "TRUE", "OTEL_TRACES_EXPORTER": "otlp"}, "off"),
        ("off", {"OTEL_TRACES_EXPORTER": "otlp"}, "off"),
    ],
)
def test_the_mode_follows_docbus_tracing_then_otel_variables(
    asked: str, env: dict[str, str], mode: str
) -> None:
    assert tracing_mode(asked, env) == mode


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="DOCBUS_TRACING"):
        tracing_mode("jaeger", {})


def test_the_client_injects_the_callers_current_span_and_nothing_without_one() -> None:
    assert client_tracing.trace_headers() == {}
    tracer = TracerProvider().get_tracer("upstream")
    with tracer.start_as_current_span("call") as span:
        headers = client_tracing.trace_headers()
    ids = span.get_span_context()
    assert headers["traceparent"].startswith(f"00-{ids.trace_id:032x}-{ids.span_id:016x}-")


def test_the_client_adds_no_header_without_opentelemetry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # import fails
    monkeypatch.setattr(client_tracing, "_inject", client_tracing._UNKNOWN)
    tracer = TracerProvider().get_tracer("upstream")
    with tracer.start_as_current_span("call"):
        assert client_tracing.trace_headers() == {}
    assert client_tracing._inject is None


def test_resumed_makes_a_trace_current_for_its_block_only() -> None:
    before = PassedTrace(new_traceparent())
    token = tracing.bind(before)
    try:
        inner = PassedTrace(GIVEN)
        with tracing.resumed(inner):
            assert tracing.current() is inner
        assert tracing.current() is before
    finally:
        tracing.unbind(token)
    assert tracing.current() is None


async def test_each_command_of_a_group_keeps_its_own_trace_in_the_outbox() -> None:
    world = World()
    spy = grouping(world)
    traces = {doc: new_traceparent() for doc in ("d1", "d2", "d3")}

    async def traced(doc: str) -> None:
        tracing.bind(PassedTrace(traces[doc]))  # in this task only
        await world.run(upload(doc), f"m-{doc}")

    await bounded(asyncio.gather(*(traced(doc) for doc in traces)))
    bus = world.bus
    assert isinstance(bus, GroupCommit)
    assert bus.grouped >= 2, "the commands shared a unit"
    assert spy.grouped_units >= 1
    kept = {json.loads(m.body)["document"]["doc_id"]: m.traceparent for m in world.db.state.outbox}
    assert kept == traces
