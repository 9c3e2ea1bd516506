"""The trash retention sweeper and the share expiry sweeper as background services of the
worker (contract v2).

- Every ``interval`` seconds (and once at start) it sweeps batch after batch until
  nothing more is due; one sweeper at a time across workers (each sweep's lock). The
  grant sweeper runs every 2 s by default: an expiry is published well within the
  contract's 10 s.
- A failure is logged and waits for the next round; it never ends the loop.
- Nothing to drain: each batch commits on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol

import structlog

log = structlog.get_logger("docbus.worker")


class Sweep(Protocol):
    async def until_done(self) -> int: ...


class SweepLoop:
    """Every ``interval`` seconds (and once at start), ``sweep.until_done()``; logs
    ``<name>_swept`` with the count when there was any, ``<name>_sweep_failed`` on an
    error (the next round tries again)."""

    def __init__(self, sweep: Sweep, *, interval: float, name: str) -> None:
        self._sweep = sweep
        self._interval = interval
        self._name = name

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                if swept := await self._sweep.until_done():
                    log.info(f"{self._name}_swept", items=swept)
            except Exception:
                log.warning(f"{self._name}_sweep_failed", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self._interval)

    async def drain(self) -> None:
        """Nothing left half-done: every batch is its own transaction."""
