"""The audit consumer on Valkey Streams (DOCBUS_AUDIT_SOURCE=valkey-streams).

The same log as the RabbitMQ audit consumer (consumers/audit_consumer.py), read from the
stream the relay writes (adapters/valkey_streams.py), in the group ``group``:

- a loop reads up to ``batch`` new entries (XREADGROUP, blocking ``block_ms``), writes
  the good ones with one INSERT, then acknowledges them (XACK): a crash before the ack
  leaves them pending, and the log skips events it already holds (by ``event_id``);
- at most every ``reclaim_every`` seconds, entries pending longer than ``reclaim_idle_ms``
  (their consumer died, or a write failed) are claimed and handled first (XAUTOCLAIM);
- an entry without a body or routing key, whose body is not strict JSON, lacks
  ``event_id``/``type``/``org_id``/``occurred_at`` or holds ``\\u0000`` is copied to
  ``<stream>:dead`` with the reason and acknowledged (RabbitMQ may be the thing that is
  down, so the dead letters stay on the stream's server);
- a database outage is retried within the retry budget; past it the entries stay pending
  (unacknowledged) and are reclaimed later: nothing is dropped. An unexpected error on a
  batch writes its entries one by one, so that only the bad ones are dead-lettered;
- stopping ends the loop after the batch in hand (a read blocks ``block_ms`` at most).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC

import structlog
from pydantic import ValidationError

from docbus.adapters.valkey_streams import StreamEntry, StreamGroupReader
from docbus.consumers import metrics
from docbus.consumers.audit_consumer import _holds_nul
from docbus.consumers.pipeline import BudgetExhausted, Invalid, RetryPolicy
from docbus.consumers.schemas.fields import NotStrictJson, load_json
from docbus.consumers.schemas.inbound import AuditEventIn
from docbus.core.ports import AuditEntry
from docbus.handlers.record_audit import RecordAuditEntry

log = structlog.get_logger("docbus.audit")


def audit_entry(entry: StreamEntry) -> AuditEntry:
    """The audit entry of a stream entry; Invalid saying what is wrong with it."""
    body, routing_key = entry.fields.get(b"body"), entry.text("routing_key")
    if body is None or not routing_key:
        raise Invalid("entry lacks body or routing_key")
    try:
        raw = load_json(body)
        event = AuditEventIn.model_validate(raw)
    except NotStrictJson as error:
        raise Invalid(f"body is not strict JSON: {error.error}") from None
    except ValidationError as error:
        raise Invalid(f"body does not match AuditEventIn: {error.error_count()} errors") from None
    if _holds_nul(raw):
        raise Invalid("body contains \\u0000, which the audit log cannot store")
    occurred = event.occurred_at
    if occurred.tzinfo is None:
        occurred = occurred.replace(tzinfo=UTC)
    return AuditEntry(event.event_id, event.type, event.org_id, occurred, routing_key, raw)


class StreamsAuditConsumer:
    name = "audit"

    def __init__(
        self,
        reader: StreamGroupReader,
        record: RecordAuditEntry,
        retry: RetryPolicy,
        *,
        batch: int = 256,
        block_ms: int = 1000,
        reclaim_idle_ms: int = 30_000,
        reclaim_every: float = 1.0,
        dead_maxlen: int = 100_000,
    ) -> None:
        self._reader = reader
        self._record = record
        self._retry = retry
        self._batch, self._block = batch, block_ms
        self._idle_ms, self._every = reclaim_idle_ms, reclaim_every
        self._dead_maxlen = dead_maxlen
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._reclaimed_at = 0.0
        self.written = 0
        self.reclaimed = 0

    async def start(self) -> None:
        await self._reader.ensure_group()
        self._stopping.clear()
        self._task = asyncio.ensure_future(self._loop())

    async def stop_consuming(self) -> None:
        self._stopping.set()

    async def drained(self, timeout: float) -> bool:
        if self._task is None:
            return True
        done, _ = await asyncio.wait([self._task], timeout=timeout)
        return bool(done)

    async def close(self) -> None:
        """Stop at once (what is not acked is reclaimed later)."""
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def figures(self) -> dict[str, int]:
        return {"audit_written": self.written, "audit_reclaimed": self.reclaimed}

    async def _loop(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                await self.step()
                failures = 0
            except Exception as error:  # the server is down: wait, the entries stay pending
                failures += 1
                log.warning("audit_stream_read_failed", error=repr(error))
                await asyncio.sleep(min(0.1 * 2**failures, 2.0))

    async def step(self) -> int:
        """Reclaim (when due), read, write and ack one batch; how many entries it held."""
        entries = await self._reclaim_due()
        if not entries:
            entries = await self._reader.read(self._batch, self._block)
        if entries:
            await self._handle(entries)
        return len(entries)

    async def _reclaim_due(self) -> list[StreamEntry]:
        now = time.monotonic()
        if now - self._reclaimed_at < self._every:
            return []
        self._reclaimed_at = now
        entries = await self._reader.reclaim(self._idle_ms, self._batch)
        if entries:
            self.reclaimed += len(entries)
            log.info("audit_stream_reclaimed", entries=len(entries))
        return entries

    async def _handle(self, entries: list[StreamEntry]) -> None:
        good: list[tuple[StreamEntry, AuditEntry]] = []
        for entry in entries:
            try:
                good.append((entry, audit_entry(entry)))
            except Invalid as error:
                await self._dead_letter(entry, error.message)
        if good:
            await self._write_and_ack(good)

    async def _write_and_ack(self, good: list[tuple[StreamEntry, AuditEntry]]) -> None:
        try:
            self.written += await self._retry.run(lambda: self._record([a for _, a in good]))
        except BudgetExhausted:
            log.warning("audit_stream_write_unavailable", entries=len(good))
            return  # pending: reclaimed once idle
        except Exception as error:
            if len(good) == 1:
                await self._dead_letter(good[0][0], f"audit write failed: {error!r}")
                return
            for one in good:
                await self._write_and_ack([one])
            return
        await self._reader.ack([entry.id for entry, _ in good])
        for _, audit in good:
            metrics.MESSAGES.labels(audit.routing_key, "ok").inc()

    async def _dead_letter(self, entry: StreamEntry, reason: str) -> None:
        log.warning("audit_stream_dead_letter", entry_id=entry.id, reason=reason)
        await self._reader.dead_letter(entry, reason, maxlen=self._dead_maxlen)
        metrics.MESSAGES.labels(entry.text("routing_key") or "", "invalid").inc()
