"""One benchmark run: the phases in order, then the report; everything removed at the end."""

from __future__ import annotations

import asyncio
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
from rich.console import Console

from bench import docbus_bench as db
from bench import lifecycle, loops, sharing
from bench.cerbos_cost import cerbos_cost
from bench.chart import write_chart
from bench.config import BenchConfig
from bench.events import LIFECYCLE_BINDINGS, EventTap, docbus_key
from bench.infra import Stack
from bench.profile import Spy
from bench.queries import folder_size, gets, listing
from bench.raw import RawProcess, RawRpcClient, declare_raw_topology
from bench.report import json_line, print_tables, with_ratios
from bench.rpc import request_reply
from bench.search import search
from bench.stats import BenchError
from bench.streams import streams
from bench.throughput import RawPipeline
from bench.tracing_cost import tracing_overhead
from docbus.devtools.embedded_valkey import valkey_binary
from docbus_client import DocbusClient

MEASURED: dict[str, float] = {}  # the current run's figures so far (see ``run``)
Phase = Callable[[db.Scenario], Awaitable[dict[str, float]]]
DOCBUS_PHASES: tuple[tuple[str, Phase], ...] = (
    ("docbus warm-up", db.warmup),
    ("docbus uploads and shares", db.commands),
    ("renames, moves and trashes", lifecycle.renames_moves_trashes),
    ("folder.list hits and misses", listing),
    ("document.get hits and misses", gets),
    ("first page by folder size", folder_size),
    ("subtree moves, renames, trashes, restores", lifecycle.subtree_ops),
    ("sharing at scale (folder shares five levels up)", sharing.sharing),
    ("uploads with the store full", db.stored),
    ("worker memory over K commands", db.memory),
    ("one and two workers", db.two_workers),
    ("tracing on and off", tracing_overhead),
    ("access decided by Cerbos and built in", cerbos_cost),
    ("events on Valkey Streams (relay)", streams),
    ("document.search", search),
)


def main(
    config: BenchConfig, chart: Path | None = None, py_spy: Path | None = None,
    loop: str | None = None, only: str | None = None,
) -> int:
    """Run the benchmark; print the table, write the chart, end with the JSON line.

    ``loop``: ``auto``, ``uvloop`` or ``asyncio`` (default: the worker's DOCBUS_EVENT_LOOP),
    the one loop of the worker, the raw baselines and the bench's clients (``bench.loops``).
    The chart goes to ``chart``, by default to a new temporary directory: a run never
    rewrites a file of the repository unless asked to. ``only``: run the docbus phases
    whose name holds it (and the warm-up), not the others; their figures, ratios and
    targets are then missing from the tables and the JSON line, and no chart is drawn.
    """
    out, progress = Console(width=120), Console(stderr=True, width=120)
    try:
        event_loop = loops.resolve(loop or loops.configured())
        figures, meta = loops.run(run(config, progress, event_loop, py_spy, only), event_loop)
    except BenchError as error:
        progress.print(f"[red]bench failed:[/red] {error}")
        _print_partial(progress, MEASURED)
        return 1
    except Exception as error:  # e.g. a server restarted under the run: say so, briefly
        progress.print(f"[red]bench failed:[/red] {type(error).__name__}: {error}"
                       " (did a server stop or restart during the run?)")
        _print_partial(progress, MEASURED)
        return 1
    figures = with_ratios(figures)
    meta["chart"] = None
    if only is None:  # the chart shows every phase
        chart = chart_path(chart)
        write_chart(chart, figures)
        meta["chart"] = str(chart.resolve())
    print_tables(out, figures, meta)
    out.print(f"chart: {meta['chart']}")
    sys.stdout.write(json_line(figures, meta) + "\n")
    sys.stdout.flush()
    return 0


def chart_path(asked: Path | None) -> Path:
    """Where the chart goes: where asked, else a new temporary directory (never into the
    repository unasked: a run must not dirty the clone's tracked docs/performance.png)."""
    if asked is not None:
        return asked
    return Path(tempfile.mkdtemp(prefix="docbus-bench-chart-")) / "performance.png"


def _print_partial(progress: Console, measured: dict[str, float]) -> None:
    """The figures of the steps that finished, on stderr (stdout gets no JSON line)."""
    if measured:
        progress.print("figures of the steps that finished:")
        progress.file.write(json.dumps({k: round(v, 4) for k, v in measured.items()}) + "\n")


async def run(
    config: BenchConfig, progress: Console, event_loop: str, py_spy: Path | None = None,
    only: str | None = None,
) -> tuple[dict[str, float], dict[str, Any]]:
    """Every phase against a fresh stack; the stack is removed whatever happens.

    Runs on ``event_loop``, as do the stack's workers and the raw baselines. Each step's
    figures also go to ``MEASURED`` as soon as the step ends: what a failed run can still
    report."""
    MEASURED.clear()
    started = time.monotonic()
    loops.check("the bench's clients", loops.running(), event_loop)
    stack = Stack(event_loop=event_loop)
    figures: dict[str, float] = {}
    failed = True
    try:
        progress.print(f"[bold]docbus bench ({config.mode})[/bold]: vhost {stack.vhost}, "
                       f"database {stack.database}, event loop {event_loop} (worker, raw "
                       f"baselines, clients), {config.repetitions} paired repetitions "
                       f"({config.throughput_repetitions} for uploads and shares)")
        await stack.open()
        await declare_raw_topology(stack.amqp_url)
        worker = await asyncio.to_thread(stack.start_worker)
        spy = Spy(worker.pid, py_spy) if py_spy is not None else None
        progress.print(f"worker pid {worker.pid}, logs in {stack.log_dir}")
        baselines = Baselines(stack.amqp_url, config.prefetch, event_loop)
        try:
            await asyncio.to_thread(baselines.start)
            figures |= await _baselines(stack, config, progress, baselines)
            figures |= await _docbus(stack, config, progress, spy, baselines, only=only)
        finally:
            baselines.stop()
        meta = _meta(config, event_loop) | {
            "postgresql": await _server_version(stack.pg_url),
            "vhost": stack.vhost, "database": stack.database,
        }
        failed = False
    finally:
        if failed:
            progress.print(f"worker logs kept in {stack.log_dir}")
        left = await stack.close(keep_logs=failed)
        if left:
            progress.print(f"[red]could not remove:[/red] {', '.join(left)}")
    figures["elapsed_s"] = time.monotonic() - started
    return figures, meta


class Baselines:
    """The two raw processes, alive for the whole run, on the run's event loop: the docbus
    phases measure their raw references again right next to (or interleaved with) their
    own samples."""

    def __init__(self, url: str, prefetch: int, loop: str) -> None:
        self.pipeline = RawProcess("pipeline", url, prefetch, loop)
        self.responder = RawProcess("responder", url, prefetch, loop)

    def start(self) -> None:
        self.pipeline.start()
        self.responder.start()

    def stop(self) -> None:
        self.pipeline.stop()
        self.responder.stop()


async def _baselines(
    stack: Stack, config: BenchConfig, progress: Console, raw: Baselines
) -> dict[str, float]:
    url = stack.amqp_url
    async with RawPipeline(url, raw.pipeline.pid) as pipeline:
        figures = await _phase(progress, "raw consume-publish-ack", pipeline.measure(config))
    figures |= await _phase(progress, "request-reply: raw client, FastStream, docbus client",
                            request_reply(url, config))
    return figures


def phases(only: str | None) -> tuple[tuple[str, Phase], ...]:
    """The docbus phases to run: all, or the warm-up and those whose name holds ``only``."""
    if only is None:
        return DOCBUS_PHASES
    chosen = tuple(p for p in DOCBUS_PHASES if p[0] == "docbus warm-up" or only in p[0])
    if len(chosen) == 1:
        raise BenchError(f"no phase named like {only!r}: "
                         + ", ".join(name for name, _ in DOCBUS_PHASES))
    return chosen


async def _docbus(
    stack: Stack, config: BenchConfig, progress: Console, spy: Spy | None, raw: Baselines,
    *, only: str | None = None,
) -> dict[str, float]:
    figures: dict[str, float] = {}
    connection = await aio_pika.connect(stack.amqp_url)
    async with connection, DocbusClient(
        stack.amqp_url, timeout=30.0, connection_name="docbus-bench"
    ) as client, RawPipeline(stack.amqp_url, raw.pipeline.pid) as pipeline:
        tap = EventTap(docbus_key)
        await tap.attach(connection, "doc.events",
                         ["document.uploaded", "document.shared.*", *LIFECYCLE_BINDINGS])
        raw_client = RawRpcClient()
        await raw_client.open(stack.amqp_url)
        scenario = db.Scenario(stack, config, client, tap, raw_client, pipeline)
        await scenario.prepare()
        for name, phase in phases(only):
            if spy is not None:
                spy.start(name)
            figures |= await _phase(progress, name, phase(scenario))
            if spy is not None and (summary := spy.stop()):
                progress.print(f"    profile: {summary}")
        await raw_client.close()
    return figures


async def _phase(
    progress: Console, name: str, work: Awaitable[dict[str, float]]
) -> dict[str, float]:
    began = time.monotonic()
    progress.print(f"  {name} ...", end="")
    figures = await work
    progress.print(f" {time.monotonic() - began:.1f}s")
    MEASURED.update(figures)
    return figures


def _meta(config: BenchConfig, event_loop: str) -> dict[str, Any]:
    """What the run ran on: versions and the machine (strings, outside the figures)."""
    return {
        "mode": config.mode, "event_loop": event_loop, "repetitions": config.repetitions,
        "throughput_repetitions": config.throughput_repetitions,
        "cpus": _cpus(), "python": platform.python_version(),
        "machine": platform.machine(), "rabbitmq": _rabbitmq_version(),
        "valkey_server": _command_version([valkey_binary(), "--version"]),
        **{name: _version(name) for name in ("aio-pika", "aiormq", "faststream", "asyncpg",
                                             "uvloop")},
    }


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


async def _server_version(pg_url: str) -> str:
    conn = await asyncpg.connect(pg_url)
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0


def _command_version(argv: list[str]) -> str:
    try:
        done = subprocess.run(  # noqa: S603 - a version query of a known program
            argv, capture_output=True, text=True, timeout=20, check=False
        )
    except OSError:
        return "unknown"
    return done.stdout.strip().splitlines()[0] if done.stdout.strip() else "unknown"


def _rabbitmq_version() -> str:
    ctl = shutil.which("rabbitmqctl")
    return _command_version([ctl, "-q", "version"]) if ctl else "unknown"
