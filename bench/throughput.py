"""End-to-end throughput: N commands, published concurrently, until all their events arrived.

The same harness measures the raw consume-publish-ack loop and docbus's uploads and
shares: the clock runs from the first publish until every call returned (a confirm for
the raw loop, a reply for docbus) and every expected event reached the tap.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from typing import TypeVar

import aio_pika

from bench.config import BenchConfig
from bench.events import EventTap, raw_key
from bench.infra import cpu_seconds
from bench.raw import COMMANDS, EVENT_KEY, EVENTS, WORK_KEY
from bench.stats import concurrent
from docbus_client import DocbusClient

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


class RawPipeline:
    """The bench's side of the raw consume -> publish confirmed event -> ack loop (process
    ``pid``): a publisher and an event tap, opened once, measured as often as asked.

    Commands are published by the docbus client's ``send`` (persistent, mandatory,
    confirmed), exactly as uploads are published, minus reply_to. Every measurement uses
    command ids never used before (the tap counts each id once).
    """

    def __init__(self, url: str, pid: int) -> None:
        self._url, self._pid = url, pid
        self._stack = AsyncExitStack()
        self._client: DocbusClient | None = None
        self._tap = EventTap(raw_key)
        self._next_id = 0

    async def __aenter__(self) -> RawPipeline:
        connection = await aio_pika.connect(self._url)
        self._stack.push_async_callback(connection.close)
        self._client = await self._stack.enter_async_context(
            DocbusClient(self._url, exchange=COMMANDS)
        )
        await self._tap.attach(connection, EVENTS, [EVENT_KEY])
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._stack.aclose()

    async def measure(self, config: BenchConfig) -> dict[str, float]:
        """msgs/s of ``raw_messages`` commands (after ``warmup`` more), and the CPU time
        of the raw process per message."""
        await self._run(config.warmup, config, "raw pipeline warm-up")
        cpu = cpu_seconds(self._pid)
        rate = await self._run(config.raw_messages, config, "raw pipeline")
        cpu_ms = (cpu_seconds(self._pid) - cpu) / config.raw_messages * 1000
        return {"raw_pipeline_per_s": rate, "raw_pipeline_cpu_ms": cpu_ms}

    async def _run(self, count: int, config: BenchConfig, what: str) -> float:
        client = self._client
        assert client is not None, "use RawPipeline in async with"
        ids = range(self._next_id, self._next_id + count)
        self._next_id += count

        async def send(n: int) -> None:
            await client.send(WORK_KEY, {"id": n, "name": f"raw-{n}.pdf"})

        return await events_throughput(
            self._tap, ids, send, key=str, lanes=config.bulk_in_flight,
            timeout=config.phase_timeout, what=what,
        )
