"""The caller's trace context on every command the client publishes (W3C ``traceparent``
and ``tracestate`` headers, contract v2 section 6).

Rules:

- Only with opentelemetry-api installed (the optional extra ``docbus[tracing]``); the
  client imports it at the first publish, and without it adds no header at all.
- The context injected is the caller's current one, through the globally configured
  propagator (W3C trace context by default); with no span current, nothing is added and
  docbus starts a trace of its own.
- The client records no span itself: that is the calling service's instrumentation.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any

Inject = Callable[[MutableMapping[str, Any]], None]
_UNKNOWN: Any = object()
_inject: Inject | None = _UNKNOWN


def _injector() -> Inject | None:
    """OpenTelemetry's ``propagate.inject``, or None without opentelemetry-api (once)."""
    global _inject  # noqa: PLW0603 - a cache of one import
    if _inject is _UNKNOWN:
        try:
            from opentelemetry import propagate
        except ImportError:
            _inject = None
        else:
            _inject = propagate.inject
    return _inject


def trace_headers() -> dict[str, Any]:
    """The AMQP headers carrying the caller's current trace context (empty without one)."""
    headers: dict[str, Any] = {}
    inject = _injector()
    if inject is not None:
        inject(headers)
    return headers
