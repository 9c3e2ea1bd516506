"""W3C trace context on messages, with or without OpenTelemetry recording spans.

Off (the default), docbus records nothing and only passes the context on
(``passed_through``): a delivery's valid ``traceparent`` (and ``tracestate``) is kept as
it came, one per message is made up when there is none or it is malformed; that value is
what the reply and the events carry. Costs a dict lookup, a regular expression or 192
random bits; no span object, no OpenTelemetry call (docs/decisions.md: the figures).

On, ``Tracing`` starts the spans (docs/decisions.md lists them):

- ``consume``: one per delivery (kind CONSUMER), child of the delivery's context; the
  log lines of the delivery carry its ``trace_id`` and ``span_id``;
- ``use_case``: the use case run for it (INTERNAL); events emitted under it keep its
  context in the outbox;
- ``producing``: the relay's publish of an event (PRODUCER), child of the context kept
  with the event, which the event carries on;
- ``batch``: a write of the audit consumer (CONSUMER), child of the first event's context
  and linked to every event's;
- ``cache``: a call to the reply cache (CLIENT), through ``TracedReplyCache``.

PostgreSQL round trips are spans of the asyncpg instrumentation (consumers/telemetry.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from random import getrandbits
from typing import Any

import structlog
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode, TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from docbus.core import tracing
from docbus.core.ports import Lookup, ReplyCache

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
_SHAPE = re.compile(r"[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}").fullmatch
_ZERO_TRACE, _ZERO_SPAN = "0" * 32, "0" * 16
_W3C = TraceContextTextMapPropagator()


def new_traceparent() -> str:
    """A new trace, not sampled: nothing records it while tracing is off. Its ids are
    random (not secret: ``random``, not ``os.urandom``, a system call per message)."""
    ids = f"{getrandbits(192):048x}"
    return f"00-{ids[:32]}-{ids[32:]}-00"


def valid(traceparent: str) -> bool:
    """W3C's shape, a version other than ff, no all-zero id."""
    return (
        _SHAPE(traceparent) is not None and traceparent[3:35] != _ZERO_TRACE
        and traceparent[36:52] != _ZERO_SPAN and not traceparent.startswith("ff")
    )


def headers_of(trace_: tracing.Trace | None) -> dict[str, Any]:
    """The AMQP headers that carry ``trace_`` on (none without one)."""
    if trace_ is None:
        return {}
    if trace_.tracestate:
        return {TRACEPARENT: trace_.traceparent, TRACESTATE: trace_.tracestate}
    return {TRACEPARENT: trace_.traceparent}


@dataclass(slots=True)  # not frozen: its __init__ is half as costly
class PassedTrace:
    """core.tracing.Trace while tracing is off: the context as it came (or made up)."""

    traceparent: str
    tracestate: str | None = None

    def attach(self) -> object:
        return None

    def detach(self, token: object) -> None:
        return None

    def end(self, outcome: str) -> None:
        return None


def passed_through(headers: Mapping[str, Any] | None) -> PassedTrace:
    """The delivery's context if its ``traceparent`` is valid (version 00 or later,
    no all-zero id), else a new trace; a ``tracestate`` goes along only with its parent."""
    value = headers.get(TRACEPARENT) if headers else None
    if isinstance(value, str) and valid(value):
        state = headers.get(TRACESTATE) if headers else None
        return PassedTrace(value, state if isinstance(state, str) and state else None)
    return PassedTrace(new_traceparent())


class SpanTrace:
    """core.tracing.Trace while tracing is on: a span, whose context it carries on."""

    __slots__ = ("_carrier", "context", "span")

    def __init__(self, span: Span) -> None:
        self.span = span
        self.context = trace.set_span_in_context(span)
        self._carrier: dict[str, str] | None = None

    def _headers(self) -> dict[str, str]:
        if self._carrier is None:
            self._carrier = {}
            _W3C.inject(self._carrier, self.context)
        return self._carrier

    @property
    def traceparent(self) -> str:
        return self._headers()[TRACEPARENT]

    @property
    def tracestate(self) -> str | None:
        return self._headers().get(TRACESTATE)

    def attach(self) -> object:
        return otel_context.attach(self.context)

    def detach(self, token: object) -> None:
        otel_context.detach(token)  # type: ignore[arg-type]

    def end(self, outcome: str) -> None:
        """End the span; an outcome other than ``ok`` is an error status."""
        self.span.set_attribute("docbus.outcome", outcome)
        if outcome != "ok":
            self.span.set_status(Status(StatusCode.ERROR, outcome))
        self.span.end()


def _extracted(headers: Mapping[str, Any] | None) -> otel_context.Context:
    headers = headers or {}
    carrier = {k: v for k in (TRACEPARENT, TRACESTATE) if isinstance(v := headers.get(k), str)}
    return _W3C.extract(carrier)


class Tracing:
    """Spans of docbus, from a tracer provider (consumers/telemetry.py builds it)."""

    def __init__(self, provider: TracerProvider) -> None:
        self._tracer = provider.get_tracer("docbus")

    def consume(
        self, headers: Mapping[str, Any] | None, routing_key: str, message_id: str | None
    ) -> SpanTrace:
        """The delivery's span, started (not yet current: ``attach`` it); its ids are
        bound to the log lines of the delivery."""
        span = self._tracer.start_span(
            f"{routing_key} process", _extracted(headers), SpanKind.CONSUMER,
            attributes=_messaging(routing_key, message_id),
        )
        ids = span.get_span_context()
        structlog.contextvars.bind_contextvars(
            trace_id=f"{ids.trace_id:032x}", span_id=f"{ids.span_id:016x}"
        )
        return SpanTrace(span)

    @contextmanager
    def use_case(self, name: str) -> Iterator[None]:
        """The use case's span, current for the block and bound as the core's trace."""
        with self._tracer.start_as_current_span(f"use_case {name}") as span:
            token = tracing.bind(SpanTrace(span))
            try:
                yield
            finally:
                tracing.unbind(token)

    @contextmanager
    def producing(self, traceparent: str | None, routing_key: str) -> Iterator[dict[str, Any]]:
        """The span of an event's publish, child of ``traceparent``; yields the headers
        that carry it on."""
        parent = _extracted({TRACEPARENT: traceparent} if traceparent else None)
        with self._tracer.start_as_current_span(
            f"{routing_key} publish", parent, SpanKind.PRODUCER,
            attributes=_messaging(routing_key, None),
        ):
            headers: dict[str, Any] = {}
            _W3C.inject(headers)
            yield headers

    @contextmanager
    def batch(self, name: str, headers: Sequence[Mapping[str, Any] | None]) -> Iterator[None]:
        """A span for work done for several messages at once: child of the first one's
        context, linked to each one's."""
        contexts = [_extracted(h) for h in headers]
        links = [
            Link(ids) for c in contexts
            if (ids := trace.get_current_span(c).get_span_context()).is_valid
        ]
        parent = contexts[0] if contexts else None
        with self._tracer.start_as_current_span(
            name, parent, SpanKind.CONSUMER, links=links,
            attributes={"docbus.messages": len(headers)},
        ):
            yield

    @contextmanager
    def cache(self, operation: str) -> Iterator[Span]:
        with self._tracer.start_as_current_span(
            f"cache {operation}", kind=SpanKind.CLIENT, attributes={"db.system.name": "valkey"}
        ) as span:
            yield span


def _messaging(routing_key: str, message_id: str | None) -> dict[str, str]:
    attributes = {
        "messaging.system": "rabbitmq",
        "messaging.rabbitmq.destination.routing_key": routing_key,
    }
    if message_id:
        attributes["messaging.message.id"] = message_id
    return attributes


class TracedReplyCache:
    """core.ports.ReplyCache with a span around every call (valkey has no OpenTelemetry
    instrumentation: redis's patches the ``redis`` package only)."""

    def __init__(self, cache: ReplyCache, tracing_: Tracing) -> None:
        self._cache = cache
        self._tracing = tracing_

    async def lookup(self, name: str, scopes: Sequence[str]) -> Lookup:
        with self._tracing.cache("lookup") as span:
            found = await self._cache.lookup(name, scopes)
            span.set_attribute("docbus.cache.hit", found.value is not None)
            return found

    async def fill(
        self, name: str, token: str | None, value: bytes, *, until: datetime | None = None
    ) -> None:
        with self._tracing.cache("fill"):
            await self._cache.fill(name, token, value, until=until)

    async def invalidate(self, scopes: Sequence[str]) -> None:
        with self._tracing.cache("invalidate") as span:
            span.set_attribute("docbus.cache.scopes", len(scopes))
            await self._cache.invalidate(scopes)
