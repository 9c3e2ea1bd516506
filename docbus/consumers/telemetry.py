"""Tracing switched on (or left off) from the environment: OpenTelemetry's SDK, its
exporter, the asyncpg instrumentation.

Rules:

- ``DOCBUS_TRACING`` is ``otlp``, ``console``, ``discard``, ``off`` or ``auto`` (the
  default): auto follows ``OTEL_TRACES_EXPORTER`` (unset or ``none``: off; ``console``:
  console; any other: otlp). ``OTEL_SDK_DISABLED=true`` turns tracing off whatever else
  says. ``discard`` makes, samples and batches every span, then drops it: what tracing
  itself costs, without a collector (``docbus bench``).
- otlp exports over OTLP/HTTP, configured by the standard variables
  (``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_OTLP_TRACES_*``, headers...), in
  batches; console prints each span as JSON on stdout (for a look, not for production).
- The sampler is the one ``OTEL_TRACES_SAMPLER`` names (parent-based always-on by
  default), except that a PostgreSQL or cache call with no message around it (the
  relay's claim, the maintenance loop, a readiness probe) is never a trace of its own.
- Off, nothing of the SDK is loaded or instrumented: the hot path only passes the
  trace context on (adapters/tracing.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import (
    Decision,
    Sampler,
    SamplingResult,
    _get_from_env_or_default,
)
from opentelemetry.trace import Link, SpanKind, get_current_span
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

from docbus.adapters.tracing import Tracing

MODES = ("otlp", "console", "discard", "off", "auto")


def tracing_mode(asked: str, env: Mapping[str, str] = os.environ) -> str:
    """otlp, console or off: what ``DOCBUS_TRACING`` (``asked``) and OTEL_* say."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return "off"
    asked = asked.strip().lower()
    if asked not in MODES:
        raise ValueError(f"DOCBUS_TRACING must be one of {', '.join(MODES)}, not {asked!r}")
    if asked != "auto":
        return asked
    exporter = env.get("OTEL_TRACES_EXPORTER", "").split(",")[0].strip().lower()
    if exporter in ("", "none"):
        return "off"
    return "console" if exporter == "console" else "otlp"


class QuietRoots(Sampler):
    """``inner``, but a CLIENT span without a parent (a call made for no message) is
    dropped."""

    def __init__(self, inner: Sampler) -> None:
        self._inner = inner

    def should_sample(  # noqa: PLR0917 - the SDK calls it with these, by position
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        parent = get_current_span(parent_context).get_span_context()
        if kind is SpanKind.CLIENT and not parent.is_valid:
            return SamplingResult(Decision.DROP)
        return self._inner.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return f"QuietRoots{{{self._inner.get_description()}}}"


def tracer_provider(processor: SpanProcessor) -> TracerProvider:
    """docbus's provider: the env's sampler (quiet roots), service ``docbus`` unless
    ``OTEL_SERVICE_NAME`` names another, spans to ``processor``."""
    attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: "docbus"}
    provider = TracerProvider(
        sampler=QuietRoots(_get_from_env_or_default()), resource=Resource.create(attributes)
    )
    provider.add_span_processor(processor)
    return provider


class Discard(SpanExporter):
    """Exports nowhere (the ``discard`` mode)."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def exporter_for(mode: str) -> SpanExporter:
    if mode == "discard":
        return Discard()
    if mode == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


class Telemetry:
    """Tracing for one worker: the ``Tracing`` its parts use, asyncpg instrumented while
    it lives; ``close`` flushes what is pending (a provider given from outside, a test's,
    is flushed but left running)."""

    def __init__(self, provider: TracerProvider, *, owned: bool) -> None:
        from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

        self.provider = provider
        self.tracing = Tracing(provider)
        self._owned = owned
        self._asyncpg = AsyncPGInstrumentor()  # type: ignore[no-untyped-call]
        self._asyncpg.instrument(tracer_provider=provider)

    def close(self) -> None:
        self._asyncpg.uninstrument()
        self.provider.force_flush()
        if self._owned:
            self.provider.shutdown()


def telemetry(mode: str, provider: TracerProvider | None = None) -> Telemetry | None:
    """Tracing as ``mode`` says (None: off), or with ``provider`` if one is given."""
    if provider is not None:
        return Telemetry(provider, owned=False)
    if mode == "off":
        return None
    return Telemetry(tracer_provider(BatchSpanProcessor(exporter_for(mode))), owned=True)
