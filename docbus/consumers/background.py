"""The worker's background services: the outbox relay and the maintenance loop."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta

import structlog

from docbus.adapters.postgres.database import PgDatabase
from docbus.adapters.postgres.inbox import prune_inbox
from docbus.adapters.postgres.misses import PgMissedInvalidationsListener
from docbus.adapters.postgres.outbox import PgOutboxListener, outbox_backlog, outbox_oldest_age
from docbus.adapters.valkey_cache import ValkeyReplyCache
from docbus.consumers import metrics
from docbus.consumers.health import HealthServer
from docbus.core.errors import Unavailable
from docbus.handlers.relay_outbox import RelayOutbox

log = structlog.get_logger("docbus.worker")


class RelayLoop:
    """Publishes the outbox: at once when a commit notifies, every half second anyway.

    - A round publishes batch after batch until one comes back short (the outbox is empty).
    - A dependency down (``Unavailable``) ends the round; the next one waits longer each
      time (capped exponential backoff, 50 ms to 2 s), back to none after a round that
      worked.
    - Any other error (e.g. the broker connection is down while aio-pika reconnects) is
      logged and ends the round, never the loop: its rows stay for the next round.
    """

    def __init__(self, relay: RelayOutbox, db: PgDatabase, *, batch: int) -> None:
        self._relay = relay
        self._db = db
        self._batch = batch
        self._backoff = 0.0

    async def run(self, stopping: asyncio.Event) -> None:
        async with PgOutboxListener(self._db) as listener:
            while not stopping.is_set():
                await self.round()
                await listener.wait(timeout=0.5)

    async def drain(self) -> None:
        await self.round()

    async def round(self) -> int:
        """Publish until the outbox is empty (or a round fails); how many were published."""
        total = 0
        while True:
            try:
                sent = await self._relay()
            except Unavailable as error:
                self._backoff = min(max(self._backoff * 2, 0.05), 2.0)
                log.warning("relay_unavailable", error=str(error), retry_in=self._backoff)
                await asyncio.sleep(self._backoff)
                return total
            except Exception:
                log.exception("relay_failed")
                await asyncio.sleep(0.5)
                return total
            self._backoff = 0.0
            total += sent
            metrics.EVENTS_RELAYED.inc(sent)
            if sent < self._batch:
                return total


class Maintenance:
    """Keeps the cache honest and the inbox short, and refreshes the gauges.

    - Missed cache invalidations are applied at once when another worker records one, and
      every second anyway.
    - The inbox is pruned past its retention every minute (a failure waits for the next).
    - The gauges read rather than counted (outbox backlog and age, and the ``readings``
      the composition root adds, e.g. dead letters waiting) are refreshed every second.
    """

    def __init__(
        self,
        db: PgDatabase,
        cache: ValkeyReplyCache,
        *,
        retention: timedelta,
        readings: Sequence[Callable[[], Awaitable[None]]] = (),
    ) -> None:
        self._db = db
        self._cache = cache
        self._retention = retention
        self._readings = readings

    async def run(self, stopping: asyncio.Event) -> None:
        last_prune = 0.0
        async with PgMissedInvalidationsListener(self._db) as missed:
            while not stopping.is_set():
                with contextlib.suppress(Exception):
                    await self._cache.repair()
                await self._observe()
                if time.monotonic() - last_prune > 60:
                    last_prune = time.monotonic()
                    await self._prune_inbox()
                await missed.wait(timeout=1.0)

    async def drain(self) -> None:
        return None

    async def _observe(self) -> None:
        """Refresh the gauges that are read rather than counted."""
        with contextlib.suppress(Exception):
            metrics.OUTBOX_BACKLOG.set(await outbox_backlog(self._db))
            metrics.OUTBOX_AGE.set(await outbox_oldest_age(self._db))
        for reading in self._readings:
            with contextlib.suppress(Exception):
                await reading()

    async def _prune_inbox(self) -> None:
        try:
            pruned = await prune_inbox(self._db, datetime.now(UTC) - self._retention)
        except Exception:
            log.warning("inbox_prune_failed", exc_info=True)
            return
        if pruned:
            log.info("inbox_pruned", rows=pruned)


class HealthService:
    """/healthz, /readyz and /metrics for as long as the worker runs its services."""

    def __init__(self, server: HealthServer) -> None:
        self._server = server

    async def run(self, stopping: asyncio.Event) -> None:
        await self._server.start()
        try:
            await stopping.wait()
        finally:
            await self._server.close()

    async def drain(self) -> None:
        return None
