"""The audit consumer: every event on doc.events, once, into the append-only audit log.

It reads ``docbus.audit`` with aio-pika directly, not through a FastStream subscriber.
Every command produces an event, so this consumer handles as many messages as all the
command subscribers together, and it neither replies nor publishes: FastStream's work
per message (context scopes, middlewares, its message object; about 30% of this
consumer's CPU, py-spy) bought nothing here. Measured on the bench machine, the consumer
cost 290 us of worker CPU per event through FastStream and the pipeline (a third of the
worker's CPU per upload); see docs/performance.md for the figure after.

The rules are the pipeline's error table (consumers/pipeline.py: ``poisoned``,
``failure_of``), applied per batch:

- deliveries that arrive while a batch is being written form the next batch (at most
  ``size``); one batch is written at a time, with one INSERT;
- an event holding a value the AMQP library could not decode (adapters/amqp_decoding.py)
  is dead-lettered as invalid, that value hex-encoded (Pipeline.dead_letter_undecodable);
- an event that is not JSON, or lacks ``event_id``/``type``/``org_id``/``occurred_at``, is
  dead-lettered with the reason and acknowledged;
- poison is judged as for commands (Pipeline.poison_of): by the attempts recorded in
  PostgreSQL, not by the broker's delivery count, which also counts deliveries lost to a
  node or connection failure (and which a publisher can set). A redelivered event is
  written on its own, its attempt recorded before and ended after: an event that kills
  the worker ``poison_after`` times is dead-lettered, and the events that were in its
  batch are not counted with it (first deliveries stay batched and record nothing);
- a database outage is retried with backoff within the retry budget (the deliveries stay
  unacknowledged meanwhile); past it, or on an unexpected error, the batch's events are
  dead-lettered with the reason (nothing is dropped silently);
- a delivery is acknowledged only after its batch was written (acks coalesced by the
  Acknowledger); a crash before that means a redelivery, and the log skips events it
  already holds (by ``event_id``).
- With tracing on, a batch's write is a span in the trace of its first event, linked to
  every event's (adapters/tracing.py ``batch``).

Stopping cancels the consumer first (the broker sends nothing new), then finishes the
batches already received.
"""

from __future__ import annotations

import asyncio
from datetime import UTC

import orjson
import structlog
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue, AbstractRobustConnection

from docbus.adapters.amqp_decoding import undecodable
from docbus.adapters.tracing import Tracing
from docbus.consumers import metrics
from docbus.consumers.pipeline import (
    Attempt,
    BudgetExhausted,
    ErrorRow,
    Invalid,
    Pipeline,
    RetryPolicy,
    decode,
    failure_of,
    set_within,
)
from docbus.consumers.schemas.inbound import AuditEventIn
from docbus.consumers.topology import AUDIT_QUEUE_NAME
from docbus.core.ports import AuditEntry
from docbus.handlers.record_audit import RecordAuditEntry

log = structlog.get_logger("docbus.audit")


class AuditConsumer:
    name = "audit"

    def __init__(
        self,
        connection: AbstractRobustConnection,
        record: RecordAuditEntry,
        pipeline: Pipeline,
        retry: RetryPolicy,
        *,
        prefetch: int,
        tracing: Tracing | None = None,
    ) -> None:
        self._connection = connection
        self._tracing = tracing
        self._record = record
        self._pipeline = pipeline  # for its dead letters
        self._retry = retry
        self._prefetch = prefetch
        self._acks = pipeline.acks  # one tracker per channel, whoever acks on it
        self._size = prefetch
        self._pending: list[AbstractIncomingMessage] = []
        self._writing: asyncio.Task[None] | None = None
        self._queue: AbstractQueue | None = None
        self._tag: str | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self.written = 0

    @property
    def connection(self) -> AbstractRobustConnection:
        return self._connection

    async def start(self) -> None:
        channel = await self._connection.channel()
        await channel.set_qos(prefetch_count=self._prefetch)
        # declare_queue (passive), not get_queue: only a declared queue is registered with
        # the robust channel, which consumes it again after a reconnect.
        self._queue = await channel.declare_queue(AUDIT_QUEUE_NAME, passive=True)
        self._tag = await self._queue.consume(self._receive)

    async def stop_consuming(self) -> None:
        """basic.cancel: the broker sends nothing more (what it sent is still handled)."""
        if self._queue is not None and self._tag is not None:
            try:
                await self._queue.cancel(self._tag)
            except Exception:
                log.warning("audit_cancel_failed", exc_info=True)
            self._tag = None

    async def drained(self, timeout: float) -> bool:
        """Wait until every delivery received was written (or dead-lettered) and acked."""
        return await set_within(self._idle, timeout)

    def figures(self) -> dict[str, int]:
        return {"audit_written": self.written}

    async def _receive(self, message: AbstractIncomingMessage) -> None:
        self._pending.append(message)
        self._idle.clear()
        if self._writing is None:
            self._writing = asyncio.ensure_future(self._write_batches())

    async def _write_batches(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending[: self._size], self._pending[self._size:]
                try:
                    await self._handle(batch)
                except Exception:  # a bug: give the batch back rather than strand it
                    log.exception("audit_batch_failed", events=len(batch))
                    await self._give_back(batch)
        finally:
            self._writing = None
            if self._pending:  # cancelled mid-way: what is left is redelivered later
                self._pending = []
            self._idle.set()

    async def _handle(self, batch: list[AbstractIncomingMessage]) -> None:
        entries: list[AuditEntry] = []
        good: list[AbstractIncomingMessage] = []
        for message in batch:
            if message.redelivered:
                continue
            entry = await self._entry_or_dead_letter(message, None)
            if entry is not None:
                entries.append(entry)
                good.append(message)
        if entries:
            await self._write_and_settle(entries, good)
        for message in batch:
            if message.redelivered:
                await self._handle_alone(message)

    async def _handle_alone(self, message: AbstractIncomingMessage) -> None:
        """A redelivery: its attempt recorded before it is handled, ended after (taken
        back if handling raised and the delivery goes back to the queue)."""
        attempt = await self._pipeline.begin_attempt(message)
        done = False
        try:
            entry = await self._entry_or_dead_letter(message, attempt)
            if entry is not None:
                await self._write_and_settle([entry], [message])
            done = True
        finally:
            if attempt is not None:
                await self._pipeline.end_attempt(attempt, done=done)

    async def _write_and_settle(
        self, entries: list[AuditEntry], good: list[AbstractIncomingMessage]
    ) -> None:
        """Write, then ack; past the budget dead-letter; on an unexpected error (one bad
        row fails the whole INSERT) write the events one by one, so that only the bad
        ones are dead-lettered."""
        try:
            if self._tracing is None:
                await self._retry.run(lambda: self._write(entries))
            else:
                with self._tracing.batch("audit write", [m.headers for m in good]):
                    await self._retry.run(lambda: self._write(entries))
        except Exception as error:
            if len(entries) > 1 and not isinstance(error, BudgetExhausted):
                log.warning("audit_batch_write_failed", error=repr(error), events=len(good))
                for entry, message in zip(entries, good, strict=True):
                    await self._write_and_settle([entry], [message])
                return
            await self._fail_all(good, failure_of(error, events=len(good)))
            return
        results = await asyncio.gather(
            *(self._acks.ack(message) for message in good), return_exceptions=True
        )
        for message, result in zip(good, results, strict=True):
            if isinstance(result, BaseException):  # the channel closed: it comes back
                log.warning("audit_ack_failed", error=repr(result))
            metrics.handled(message.routing_key or "", "ok").inc()

    async def _give_back(self, batch: list[AbstractIncomingMessage]) -> None:
        for message in batch:
            try:
                await self._acks.nack(message, requeue=True)
            except Exception:
                log.warning("audit_nack_failed", exc_info=True)

    async def _write(self, entries: list[AuditEntry]) -> None:
        self.written += await self._record(entries)

    async def _entry_or_dead_letter(
        self, message: AbstractIncomingMessage, attempt: Attempt | None
    ) -> AuditEntry | None:
        if bad := undecodable(message):  # a routing key too: doc.events is bound with "#"
            await self._pipeline.dead_letter_undecodable(message, bad, consumer="audit")
            return None
        failure = self._pipeline.poison_of(message, attempt)
        if failure is not None:
            await self._fail_all([message], failure)
            return None
        try:
            event = decode(message, AuditEventIn)
            try:
                body = orjson.loads(message.body)
            except orjson.JSONDecodeError as error:  # pydantic accepts NaN, 1e400; orjson not
                raise Invalid(f"body is not strict JSON: {error}") from None
            if b"\\u0000" in message.body and _holds_nul(body):  # jsonb cannot store it
                raise Invalid("body contains \\u0000, which the audit log cannot store")
        except Invalid as error:
            failure = failure_of(
                error, message_id=message.message_id, routing_key=message.routing_key
            )
            await self._fail_all([message], failure)
            return None
        occurred = event.occurred_at
        if occurred.tzinfo is None:
            occurred = occurred.replace(tzinfo=UTC)
        return AuditEntry(
            event.event_id, event.type, event.org_id, occurred, message.routing_key or "", body
        )

    async def _fail_all(self, messages: list[AbstractIncomingMessage], failure: ErrorRow) -> None:
        """Dead-letter each (confirmed), then ack it; requeue it if the broker refused."""
        for message in messages:
            await self._pipeline.dead_letter(message, failure)
            metrics.MESSAGES.labels(message.routing_key or "", failure.outcome).inc()


def _holds_nul(value: object) -> bool:
    """Whether a decoded JSON value holds a NUL character in any string (or key)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False
