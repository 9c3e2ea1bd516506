"""What tracing costs: the off path per message (a micro-benchmark, no server), and
upload throughput with tracing on over off (a phase of ``docbus bench``).

- ``off_path_ns``: the work tracing-off adds to one command, from the pipeline to the
  reply and the relay (pass the W3C context on, bind it, read it back three times, a
  DEBUG line filtered out), in nanoseconds per message, with and without a
  ``traceparent`` on the delivery.
- ``tracing_overhead``: uploads/s of a worker with ``DOCBUS_TRACING=discard`` (every span
  made, sampled and batched, then dropped: no collector needed) over a worker with
  tracing off, in paired repetitions; one worker runs at a time, the other is stopped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

import structlog

from bench.paired import medians, ratio, repeat
from docbus.adapters.tracing import TRACEPARENT, headers_of, passed_through
from docbus.core import tracing

if TYPE_CHECKING:
    from bench.docbus_bench import Scenario
    from bench.infra import WorkerProcess

GIVEN = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def off_path_ns(messages: int = 200_000) -> dict[str, float]:
    """Nanoseconds tracing-off adds per message, with and without a traceparent."""
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        cache_logger_on_first_use=True,
    )
    log = structlog.get_logger("bench.tracing")
    figures = {}
    for name, headers in (("traced", {TRACEPARENT: GIVEN, "x-other": 1}), ("untraced", {})):
        figures[f"tracing_off_{name}_ns"] = _per_message(messages, headers, log)
    structlog.reset_defaults()
    return figures


def _per_message(messages: int, headers: dict[str, object], log: object) -> float:
    debug = log.debug  # type: ignore[attr-defined]
    started = time.perf_counter_ns()
    for _ in range(messages):
        trace = passed_through(headers)  # Pipeline.process
        bound = tracing.bind(trace)
        attached = trace.attach()
        kept = tracing.current()  # handlers.group_commit._Waiting
        with tracing.resumed(kept):  # the group runs the command
            event = tracing.current()  # adapters.postgres.outbox.PendingEvents.add
            _ = None if event is None else event.traceparent
        headers_of(tracing.current())  # consumers.responder.Responder.reply
        _ = {TRACEPARENT: GIVEN} if _ else {}  # adapters.rabbit_publisher, off
        debug("message_handled", outcome="ok", duration_ms=round(0.0123 * 1000, 3))
        trace.end("ok")
        trace.detach(attached)
        tracing.unbind(bound)
    return (time.perf_counter_ns() - started) / messages


async def tracing_overhead(s: Scenario) -> dict[str, float]:
    """Uploads/s with tracing on (discard) and off, one worker at a time, paired."""
    n = s.config.two_worker_uploads
    running: dict[str, WorkerProcess] = {"off": s.stack.workers[0]}

    async def only(mode: str) -> None:
        for other in [m for m in running if m != mode]:
            await asyncio.to_thread(running.pop(other).stop)
        if mode not in running:
            running[mode] = await asyncio.to_thread(s.stack.start_worker, DOCBUS_TRACING=mode)

    async def side(mode: str, rep: int) -> dict[str, float]:
        await only(mode)
        folder = await s.folder(f"tracing-{mode}-{rep}")
        rate = await s.upload_rate(folder, f"t{mode}{rep}-", n, f"tracing {mode}")
        return {f"upload_tracing_{mode}_per_s": rate}

    async def off(rep: int) -> dict[str, float]:
        return await side("off", rep)

    async def on(rep: int) -> dict[str, float]:
        return await side("discard", rep)

    samples = await repeat(s.config.repetitions, [off, on])
    await only("off")
    return (
        medians(samples)
        | ratio("upload_tracing_ratio", samples, "upload_tracing_discard_per_s",
                "upload_tracing_off_per_s")
        | off_path_ns()
    )


if __name__ == "__main__":
    for key, value in off_path_ns().items():
        print(f"{key}: {value:.0f}")
