"""Latency percentiles and the bounded request loops that every measurement uses."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


class BenchError(RuntimeError):
    """A phase could not finish (timeout, wrong reply): the run stops, nothing is reported."""


def percentile(samples: Sequence[float], pct: float) -> float:
    """The nearest-rank percentile of ``samples`` (``pct`` in 0..100)."""
    if not samples:
        raise BenchError("no samples")
    ordered = sorted(samples)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class Run:
    """What a loop did: how many calls, in how many seconds, each call's latency (s)."""

    count: int
    elapsed: float
    latencies: tuple[float, ...]

    @property
    def rate(self) -> float:
        """Calls per second."""
        return self.count / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies, 50) * 1000

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies, 99) * 1000


class Lanes(Generic[T]):
    """``lanes`` coroutines that share one iterator of items: ``lanes`` calls in flight.

    Bounded twice: by the number of items and by ``timeout`` seconds (BenchError).
    """

    def __init__(self, call: Callable[[T], Awaitable[object]], lanes: int, timeout: float) -> None:
        self._call = call
        self._lanes = lanes
        self._timeout = timeout

    async def run(self, items: Sequence[T], what: str) -> Run:
        source = iter(items)
        latencies: list[float] = []
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._timeout):
                await asyncio.gather(
                    *(self._lane(source, latencies) for _ in range(min(self._lanes, len(items))))
                )
        except TimeoutError:
            done = f"{len(latencies)}/{len(items)}"
            raise BenchError(f"{what}: {done} done in {self._timeout}s") from None
        return Run(len(latencies), time.perf_counter() - started, tuple(latencies))

    async def _lane(self, source: Iterator[T], latencies: list[float]) -> None:
        for item in source:
            began = time.perf_counter()
            await self._call(item)
            latencies.append(time.perf_counter() - began)


async def sequential(
    call: Callable[[T], Awaitable[object]], items: Sequence[T], timeout: float, what: str
) -> Run:
    """One call at a time: the latency figures."""
    return await Lanes(call, 1, timeout).run(items, what)


async def concurrent(
    call: Callable[[T], Awaitable[object]], items: Sequence[T], lanes: int, timeout: float,
    what: str,
) -> Run:
    """``lanes`` calls in flight: the throughput figures."""
    return await Lanes(call, lanes, timeout).run(items, what)
