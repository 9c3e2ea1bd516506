"""The trash retention sweeper and the share expiry sweeper as background services of the
worker (contract v2).

- Every ``interval`` seconds (and once at start) it sweeps batch after batch until
  nothing more is due; one sweeper at a time across workers (SweepTrash's lock).
- A failure is logged and waits for the next round; it never ends the loop.
- Nothing to drain: each batch commits on its own.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from docbus.handlers.sweep_grants import SweepExpiredGrants
from docbus.handlers.sweep_trash import SweepTrash

log = structlog.get_logger("docbus.worker")


class TrashSweepLoop:
    def __init__(self, sweep: SweepTrash, *, interval: float) -> None:
        self._sweep = sweep
        self._interval = interval

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                if swept := await self._sweep.until_done():
                    log.info("trash_swept", items=swept)
            except Exception:
                log.warning("trash_sweep_failed", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self._interval)

    async def drain(self) -> None:
        """Nothing left half-done: every batch is its own transaction."""


class GrantExpiryLoop:
    """Every ``interval`` seconds (2 by default: an expiry is published well within the
    contract's 10 s), remove expired grants batch after batch; failures wait for the
    next round."""

    def __init__(self, sweep: SweepExpiredGrants, *, interval: float) -> None:
        self._sweep = sweep
        self._interval = interval

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                if swept := await self._sweep.until_done():
                    log.info("grants_expired", grants=swept)
            except Exception:
                log.warning("grant_expiry_sweep_failed", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self._interval)

    async def drain(self) -> None:
        """Nothing left half-done: every batch is its own transaction."""
