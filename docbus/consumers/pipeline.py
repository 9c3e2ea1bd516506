"""Every delivery goes through here: the error table of docbus, in one place.

| what happened                    | reply (if reply_to)  | the message                      |
| -------------------------------- | -------------------- | -------------------------------- |
| done (or a final domain decision)| the recorded reply   | acked after the reply is out     |
| not JSON / wrong content type /  | ``invalid`` with     | dead-lettered with the reason,   |
| schema / query without reply_to  | details              | then acked                       |
| dependency down (Unavailable)    | none while retrying  | held and retried with backoff and|
|                                  |                      | jitter (prefetch bounds how many |
|                                  |                      | wait); past the budget:          |
|                                  |                      | ``unavailable`` + dead-lettered  |
| poison (see below)               | ``unavailable``      | dead-lettered as poison          |
| anything else (a bug)            | ``unavailable``, no  | dead-lettered, logged with the   |
|                                  | internals            | traceback                        |

A message is acknowledged only after its transaction committed and its reply (or dead
letter) was confirmed by the broker; a crash before that means a redelivery, which the
inbox turns into the same reply.

Poison: with an AttemptLog (production: PostgreSQL), a message on whose redeliveries
``poison_after`` workers died (began it, never ended it); deliveries lost to a broker
connection or node failure never count. Without one, the broker's ``x-delivery-count``
(trusted on redeliveries only) reaching ``poison_after``.

The table is implemented once, by ``poisoned`` and ``failure_of`` (each gives the row's
``ErrorRow``); the audit consumer applies the same rows to its batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import orjson
import structlog
from aio_pika.abc import AbstractIncomingMessage
from pydantic import BaseModel, ValidationError

from docbus.adapters.amqp_decoding import undecodable
from docbus.adapters.tracing import PassedTrace, SpanTrace, Tracing, passed_through
from docbus.consumers import metrics
from docbus.consumers.acks import Acknowledger
from docbus.consumers.responder import NOT_CONNECTED, Responder, is_docbus_queue
from docbus.consumers.schemas.fields import NotStrictJson, load_json, storable
from docbus.core import tracing
from docbus.core.errors import InvalidCommand, Unavailable

log = structlog.get_logger("docbus.pipeline")

T = TypeVar("T")
Run = Callable[[Any, AbstractIncomingMessage], Awaitable[bytes]]


class Invalid(Exception):
    def __init__(self, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


def error_reply(code: str, message: str, details: list[dict[str, Any]] | None = None) -> bytes:
    return orjson.dumps(
        {"ok": False, "error": {"code": code, "message": message, "details": details or []}}
    )


def decode(raw: AbstractIncomingMessage, schema: type[BaseModel]) -> Any:
    """The validated body, or Invalid saying what breaks the contract.

    - ``content_type`` is application/json (parameters allowed);
    - ``message_id``, ``correlation_id`` and the routing key hold no NUL and no lone
      surrogate (PostgreSQL cannot store them), and ``reply_to`` names no docbus queue;
    - the body is UTF-8 JSON without duplicate keys or NaN (``load_json``), and fits
      ``schema``, validated in Python mode: a lone surrogate fails in its own field.
    """
    content_type = (raw.content_type or "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise Invalid(f"content_type must be application/json, not {raw.content_type!r}")
    check_properties(raw)
    try:
        return schema.model_validate(load_json(raw.body))
    except NotStrictJson as error:
        details = [{"field": error.field, "error": error.error}]
        raise Invalid(f"body is not strict JSON: {error.error}", details) from None
    except ValidationError as error:
        details = [
            {"field": ".".join(map(str, e["loc"])) or "(body)", "error": e["msg"]}
            for e in error.errors(include_url=False, include_input=False)
        ]
        raise Invalid(f"body does not match {schema.__name__}", details) from None


def check_properties(raw: AbstractIncomingMessage) -> None:
    """Invalid if a property docbus stores or answers with could not be used as it is."""
    for name in ("message_id", "correlation_id", "routing_key"):
        if not storable(getattr(raw, name)):
            raise Invalid(
                f"{name} holds NUL or a lone surrogate, which docbus cannot store",
                [{"field": f"properties.{name}", "error": "NUL or lone surrogate"}],
            )
    if raw.reply_to and is_docbus_queue(raw.reply_to):
        raise Invalid(
            f"reply_to names a queue of docbus ({raw.reply_to!r}), not a reply queue",
            [{"field": "properties.reply_to", "error": "a docbus queue"}],
        )


@dataclass
class RetryPolicy:
    budget: float = 30.0
    base: float = 0.05
    cap: float = 2.0
    margin: float = 5.0  # what the last attempt, started just before the budget, may take

    async def run(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """Retry Unavailable with capped exponential backoff and full jitter, within budget.

        A hard limit of budget + margin covers the whole run, however an attempt hangs
        (a statement stuck on a dependency, a broken connection that never answers): a
        handler must never outlive the broker's consumer timeout. Reaching it counts as
        the budget exhausted; what the cancelled attempt did not commit is rolled back.
        """
        limit = asyncio.timeout(self.budget + self.margin)
        try:
            async with limit:
                return await self._retry(attempt)
        except TimeoutError:
            if not limit.expired():
                raise
            raise BudgetExhausted(
                f"no outcome within {self.budget + self.margin:g} s (hard limit)"
            ) from None

    async def _retry(self, attempt: Callable[[], Awaitable[T]]) -> T:
        deadline = time.monotonic() + self.budget
        for n in range(1_000_000):
            try:
                return await attempt()
            except Unavailable as error:
                delay = random.uniform(0, min(self.cap, self.base * 2**n))
                if time.monotonic() + delay > deadline:
                    raise BudgetExhausted(str(error)) from error
                log.warning("dependency_unavailable", error=str(error), retry_in=round(delay, 3))
                metrics.RETRIES.inc()
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")


class BudgetExhausted(Exception):
    pass


@dataclass(frozen=True)
class ErrorRow:
    """A row of the error table: how a delivery that is not completed ends."""

    outcome: str
    """For the metrics: invalid, unavailable, poison or error."""
    reason: str
    """Why, in the dead letter's ``x-docbus-error`` header."""
    code: str
    """The reply's error code: invalid or unavailable."""
    message: str
    """The reply's message (nothing internal)."""
    details: list[dict[str, Any]] = field(default_factory=list)

    def reply(self) -> bytes:
        return error_reply(self.code, self.message, self.details)


NOT_PROCESSED = "the message could not be processed"


def poisoned(raw: AbstractIncomingMessage, poison_after: int) -> ErrorRow | None:
    """The poison row, if the broker delivered ``raw`` ``poison_after`` times already
    (the rule without an AttemptLog: the audit consumer's, and the in-memory tests')."""
    deliveries = delivery_count(raw)
    if deliveries < poison_after:
        return None
    reason = f"poison: delivered {deliveries + 1} times without being completed"
    return ErrorRow("poison", reason, "unavailable", NOT_PROCESSED)


class AttemptLog(Protocol):
    """Where the worker records the redeliveries it begins to handle (shared by workers)."""

    async def begin(self, key: str) -> int:
        """Record an attempt; return how many attempts began before it and never ended."""
        ...

    async def end(self, key: str, *, done: bool) -> None:
        """The attempt ended with the worker alive: ``done`` (forget the key) or handed
        back to the queue (take the attempt back)."""
        ...


@dataclass(frozen=True)
class Attempt:
    key: str
    died: int
    """Attempts that began before this one and never ended: the workers died in them."""


def delivery_key(raw: AbstractIncomingMessage) -> str:
    """What identifies a message across its redeliveries: a digest of its routing key,
    message_id and body. A publisher cannot give another message's key to its own
    without sending that very command (which the inbox treats as the same one)."""
    digest = hashlib.sha256()
    for part in (raw.exchange or "", raw.routing_key or "", raw.message_id or ""):
        digest.update(part.encode("utf-8", "surrogateescape") + b"\0")
    digest.update(raw.body)
    return digest.hexdigest()


def poisoned_attempt(attempt: Attempt, poison_after: int) -> ErrorRow | None:
    """The poison row, if workers died handling this message ``poison_after`` times (on
    its redeliveries; the first delivery is not recorded, to keep it free)."""
    if attempt.died < poison_after:
        return None
    reason = f"poison: {attempt.died} workers died handling it"
    return ErrorRow("poison", reason, "unavailable", NOT_PROCESSED)


def failure_of(error: Exception, **context: object) -> ErrorRow:
    """The row for what handling raised, logged (with ``context``) at the row's level:
    invalid input (info), the retry budget exhausted (error), anything else (a bug: error,
    with the traceback; the sender learns nothing internal)."""
    if isinstance(error, Invalid | InvalidCommand):
        details = getattr(error, "details", [])
        log.info("message_invalid", reason=error.message, details=details, **context)
        return ErrorRow("invalid", f"invalid: {error.message}", "invalid", error.message, details)
    if isinstance(error, BudgetExhausted):
        log.error("retry_budget_exhausted", error=str(error), **context)
        return ErrorRow(
            "unavailable", f"unavailable: {error}", "unavailable",
            "a dependency stayed unavailable; try again later",
        )
    log.error("message_failed", exc_info=error, **context)
    reason = f"internal error: {type(error).__name__}"
    return ErrorRow("error", reason, "unavailable", NOT_PROCESSED)


class Pipeline:
    def __init__(
        self,
        responder: Responder,
        retry: RetryPolicy,
        *,
        poison_after: int,
        acks: Acknowledger | None = None,
        tracing: Tracing | None = None,
    ) -> None:
        self._responder = responder
        self._tracing = tracing
        self._acks = acks or Acknowledger()
        self._retry = retry
        self._poison_after = poison_after
        self._attempts: AttemptLog | None = None
        self.in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def process(
        self, raw: AbstractIncomingMessage, schema: type[BaseModel], run: Run, *, query: bool
    ) -> None:
        """Handle one delivery under its trace (module docstring: the error table); log
        its outcome and duration at DEBUG (a no-op when DEBUG is off)."""
        self.in_flight += 1
        self._idle.clear()
        structlog.contextvars.bind_contextvars(
            message_id=raw.message_id,
            correlation_id=raw.correlation_id,
            routing_key=raw.routing_key,
        )
        started = time.perf_counter()
        key = raw.routing_key or ""
        metrics.IN_FLIGHT.inc()
        trace = self._trace_of(raw, key)
        bound = tracing.bind(trace)
        attached = trace.attach()
        outcome = "requeued"
        try:
            try:
                outcome = await self._process(raw, schema, run, query=query)
            except Exception:
                outcome = await self._give_back(raw)
            elapsed = time.perf_counter() - started
            metrics.handled(key, outcome).inc()
            metrics.handling(key).observe(elapsed)
            log.debug("message_handled", outcome=outcome, duration_ms=round(elapsed * 1000, 3))
        finally:
            trace.end(outcome)
            trace.detach(attached)
            tracing.unbind(bound)
            metrics.IN_FLIGHT.dec()
            structlog.contextvars.clear_contextvars()
            self.in_flight -= 1
            if self.in_flight == 0:
                self._idle.set()

    def _trace_of(self, raw: AbstractIncomingMessage, key: str) -> PassedTrace | SpanTrace:
        """The delivery's span when tracing is on; else its context, passed through."""
        if self._tracing is None:
            return passed_through(raw.headers)
        return self._tracing.consume(raw.headers, key, raw.message_id)

    def count_attempts(self, log: AttemptLog) -> None:
        """Judge poison by the attempts recorded in ``log`` (production: PostgreSQL), not
        by the broker's delivery count, which also counts deliveries lost to a broker
        failure. Without it, the header rule (``poisoned``) applies."""
        self._attempts = log

    async def drained(self, timeout: float) -> bool:
        """Wait until no delivery is in flight; False if the timeout came first."""
        return await set_within(self._idle, timeout)

    async def _process(
        self, raw: AbstractIncomingMessage, schema: type[BaseModel], run: Run, *, query: bool
    ) -> str:
        """Handle one delivery; return its outcome (for the metrics)."""
        if bad := undecodable(raw):
            return await self.dead_letter_undecodable(raw, bad, consumer="commands")
        if raw.redelivered:  # counted by the fault suite: raw duplicates after a crash
            log.info("message_redelivered", deliveries=delivery_count(raw) + 1)
        attempt = await self.begin_attempt(raw)
        outcome = "requeued"  # if handling raises, process() gives the delivery back
        try:
            outcome = await self._attempt(raw, schema, run, query=query, attempt=attempt)
        finally:
            if attempt is not None:
                await self.end_attempt(attempt, done=outcome != "requeued")
        return outcome

    async def begin_attempt(self, raw: AbstractIncomingMessage) -> Attempt | None:
        """Record a redelivery's attempt before handling it (the first delivery: none)."""
        if self._attempts is None or not raw.redelivered:
            return None
        key = delivery_key(raw)
        try:
            return Attempt(key, await self._attempts.begin(key))
        except Exception as error:  # the broker's delivery limit stays the backstop
            log.warning("attempt_not_recorded", error=repr(error))
            return None

    async def end_attempt(self, attempt: Attempt, *, done: bool) -> None:
        assert self._attempts is not None
        try:
            await self._attempts.end(attempt.key, done=done)
        except Exception as error:
            log.warning("attempt_not_ended", error=repr(error))

    def poison_of(self, raw: AbstractIncomingMessage, attempt: Attempt | None) -> ErrorRow | None:
        """The poison row of a delivery (its attempt begun): by the attempts recorded when
        there is an AttemptLog, else by the broker's delivery count."""
        if self._attempts is None:
            return poisoned(raw, self._poison_after)
        return poisoned_attempt(attempt, self._poison_after) if attempt else None

    async def _attempt(
        self, raw: AbstractIncomingMessage, schema: type[BaseModel], run: Run, *, query: bool,
        attempt: Attempt | None,
    ) -> str:
        """Handle one delivery (its attempt recorded); return its outcome."""
        failure = self.poison_of(raw, attempt)
        if failure is not None:
            await self._fail(raw, failure)
            return failure.outcome
        try:
            body = decode(raw, schema)
            if query and not raw.reply_to:
                raise Invalid("a query needs reply_to")
            reply = await self._retry.run(lambda: run(body, raw))
        except Exception as error:
            failure = failure_of(error)
            await self._fail(raw, failure)
            return failure.outcome
        await self._responder.reply(raw, reply, confirmed=not query)
        await self._acks.ack(raw)
        return "ok"

    @property
    def acks(self) -> Acknowledger:
        """The pipeline's acknowledger: whatever else acks on its channels must use it."""
        return self._acks

    async def dead_letter(self, raw: AbstractIncomingMessage, failure: ErrorRow) -> None:
        """Dead-letter a delivery handled outside ``process`` (the audit consumer's), as
        ``failure`` says."""
        await self._fail(raw, failure)

    async def dead_letter_undecodable(
        self, raw: AbstractIncomingMessage, bad: dict[str, str], *, consumer: str
    ) -> str:
        """Dead-letter a delivery holding values the AMQP library could not decode
        (adapters/amqp_decoding.py) as invalid, naming the fields; counted per field. If
        even the sanitized dead letter cannot be published for any reason but a lost
        connection, reject it: the queue dead-letters it itself, never redelivered."""
        fields = sorted(bad)
        for kind in sorted({name.split(".")[0] for name in fields}):
            metrics.UNDECODABLE.labels(consumer, kind).inc()
        why = f"undecodable AMQP values in {', '.join(fields)}"
        log.warning("message_undecodable", fields=bad)
        try:
            await self._responder.dead_letter(raw, f"invalid: {why}"[:1000])
        except NOT_CONNECTED:
            return await self._give_back(raw)
        except Exception:
            log.exception("undecodable_rejected")
            await self._acks.nack(raw, requeue=False)
            return "rejected"
        details = [{"field": name, "error": "not decodable"} for name in fields]
        with contextlib.suppress(Exception):  # the answer is a courtesy; the letter is out
            await self._responder.reply(raw, error_reply("invalid", why, details))
        await self._acks.ack(raw)
        return "invalid"

    async def _give_back(self, raw: AbstractIncomingMessage) -> str:
        """The reply or the acknowledgement failed (a broker connection lost on the way):
        requeue the delivery rather than leave it unacknowledged, where it would hold a
        prefetch slot for as long as its channel lives. The inbox answers the redelivery
        with the stored reply."""
        log.exception("delivery_requeued")
        with contextlib.suppress(Exception):
            await self._acks.nack(raw, requeue=True)
        return "requeued"

    async def _fail(self, raw: AbstractIncomingMessage, failure: ErrorRow) -> None:
        """Dead-letter (confirmed), answer the sender, then ack; requeue if the broker refused."""
        try:
            await self._responder.dead_letter(raw, failure.reason)
            await self._responder.reply(raw, failure.reply())
        except Exception:
            log.exception("dead_letter_failed", reason=failure.reason)
            await self._acks.nack(raw, requeue=True)
            return
        log.warning("message_dead_lettered", reason=failure.reason)
        await self._acks.ack(raw)


async def set_within(event: asyncio.Event, timeout: float) -> bool:
    """Wait for ``event``; False if ``timeout`` seconds passed first."""
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return False
    return True


def delivery_count(raw: AbstractIncomingMessage) -> int:
    """How many times the queue delivered this message before (0 the first time).

    - Not ``redelivered``: 0, whatever ``x-delivery-count`` says. RabbitMQ 3.10 keeps a
      publisher's own header on the first delivery; only on a redelivery does the quorum
      queue set it (replacing the publisher's), so only then can it be trusted.
    - ``redelivered``: the header's count (at least 1, also if it is missing or not a
      positive integer: the message was delivered before, at least once).
    """
    if not raw.redelivered:
        return 0
    value = (raw.headers or {}).get("x-delivery-count")
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return 1
