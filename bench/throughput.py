"""End-to-end throughput: N commands, published concurrently, until all their events arrived.

The same harness measures the raw consume-publish-ack loop and docbus's uploads and
shares: the clock runs from the first publish until every call returned (a confirm for
the raw loop, a reply for docbus) and every expected event reached the tap.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import aio_pika

from bench.config import BenchConfig
from bench.events import EventTap, raw_key
from bench.infra import cpu_seconds
from bench.raw import COMMANDS, EVENT_KEY, EVENTS, WORK_KEY
from bench.stats import concurrent
from client import DocbusClient

T = TypeVar("T")


async def events_throughput(
    tap: EventTap, items: Sequence[T], call: Callable[[T], Awaitable[object]], *,
    key: Callable[[T], str], lanes: int, timeout: float, what: str,
) -> float:
    """Items per second: ``call`` each item with ``lanes`` in flight, then wait for events."""
    tap.expect([key(item) for item in items])
    started = time.perf_counter()
    await concurrent(call, items, lanes, timeout, what)
    await tap.wait(timeout, f"{what} events")
    return len(items) / (time.perf_counter() - started)


async def raw_pipeline(url: str, config: BenchConfig, pid: int) -> dict[str, float]:
    """msgs/s of the raw consume -> publish confirmed event -> ack loop (process ``pid``),
    and its CPU time per message.

    Commands are published by the docbus client's ``send`` (persistent, mandatory,
    confirmed), exactly as uploads are published, minus reply_to.
    """
    connection = await aio_pika.connect(url)
    async with connection, DocbusClient(url, exchange=COMMANDS) as client:
        tap = EventTap(raw_key)
        await tap.attach(connection, EVENTS, [EVENT_KEY])

        async def send(n: int) -> None:
            await client.send(WORK_KEY, {"id": n, "name": f"raw-{n}.pdf"})

        t, lanes = config.phase_timeout, config.bulk_in_flight
        warm = range(-config.warmup, 0)
        await events_throughput(
            tap, warm, send, key=str, lanes=lanes, timeout=t, what="raw pipeline warm-up"
        )
        cpu = cpu_seconds(pid)
        rate = await events_throughput(
            tap, range(config.raw_messages), send, key=str, lanes=lanes, timeout=t,
            what="raw pipeline",
        )
        cpu_ms = (cpu_seconds(pid) - cpu) / config.raw_messages * 1000
    return {"raw_pipeline_per_s": rate, "raw_pipeline_cpu_ms": cpu_ms}
