"""Replies and dead letters, on a publishing connection of their own.

- A reply goes to the default exchange with routing key = reply_to and the request's
  correlation_id, with ``mandatory=False``: a mandatory publish to direct reply-to comes
  back as a return even when it was delivered (RabbitMQ 3.10).
- No reply goes to a queue of docbus's own (``is_docbus_queue``): it would land among
  its work or its dead letters. The pipeline refuses such a request as ``invalid``.
- A nack is answered by closing the channel and sending again on a fresh one, a few
  times (``NACK_PAUSES``): RabbitMQ 3.10 binds a channel to the quorum queue leader it
  first published to, and a channel whose first publish to a queue fell in a leader
  election (a reconnection right after a node died) has every later publish to that
  queue nacked until the dead node returns; a fresh channel opened after the election
  publishes normally (docs/reliability.md, "The 18.6 s gap of cluster_two_workers").
- A reply the broker still refuses (the reply_to queue rejects messages, e.g. full
  with ``x-overflow: reject-publish``) is logged and counted, and the delivery goes on
  to be acknowledged: its effect stands, and retrying would only be refused again. A
  dead letter still refused raises (the original is not acknowledged).
- A dead letter keeps the original body and properties, adds ``x-docbus-error`` (why) and
  where it came from, is persistent and confirmed before the original is acknowledged.
- Nothing undecodable is published again (adapters/amqp_decoding.py): no reply when
  reply_to or correlation_id was undecodable, no message_id when it was; a dead letter
  drops such properties and headers and keeps them, hex-encoded, in
  ``x-docbus-bad-properties``.
- A reply carries the ``traceparent`` (and ``tracestate``) of the message's trace
  (core.tracing: the consume span's when tracing is on, the request's own when off).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import aio_pika
import structlog
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustConnection
from aiormq.exceptions import AMQPConnectionError, ChannelClosed, DeliveryError, PublishError

from docbus.adapters import amqp
from docbus.adapters.amqp_decoding import (
    BAD_PROPERTIES_HEADER,
    BadTimestamp,
    clean_headers,
    text,
    undecodable,
)
from docbus.adapters.tracing import headers_of
from docbus.consumers import metrics
from docbus.consumers.topology import (
    AUDIT_QUEUE_NAME,
    COMMANDS,
    DEAD,
    DEAD_QUEUE_NAME,
    ERROR_HEADER,
    EVENTS,
    ROUTES,
)
from docbus.core import tracing

log = structlog.get_logger("docbus.responder")

# Errors that mean "no connection right now": the robust connection is reconnecting.
NOT_CONNECTED: tuple[type[BaseException], ...] = (
    RuntimeError,  # "Connection was not opened", "<Connection> closed", invalid channel state
    AMQPConnectionError,  # includes ConnectionClosed
    ChannelClosed,
)


# Pauses before sending a nacked publish again on a fresh channel: a leader election
# takes about a second or two after a node dies.
NACK_PAUSES = (0.2, 0.5, 1.0)


DOCBUS_NAMES = frozenset(
    {AUDIT_QUEUE_NAME, DEAD_QUEUE_NAME, COMMANDS.name, EVENTS.name, DEAD.name}
    | {route.queue for route in ROUTES}
)


def is_docbus_queue(name: str) -> bool:
    """Whether ``name`` is docbus's own: a reply routed there would land among its work
    (or its dead letters). Anything ``docbus.*`` and every name of the topology."""
    return name.startswith("docbus.") or name in DOCBUS_NAMES


class Responder:
    """Replies and dead letters. While the publishing connection reconnects (it may come
    back after the consuming one), a publish waits for it, up to ``patience`` seconds,
    instead of failing a delivery that has already taken effect."""

    def __init__(
        self,
        connection: AbstractRobustConnection,
        *,
        timeout: float = 10.0,
        patience: float = 30.0,
    ) -> None:
        self._connection = connection
        self._timeout = timeout
        self._patience = patience
        self._channels: dict[bool, AbstractChannel] = {}
        self._opening = asyncio.Lock()
        self._retiring: set[asyncio.Task[None]] = set()

    async def _patiently(self, publish: Callable[[], Awaitable[object]]) -> None:
        """Run ``publish``, again while the connection is down (a publish cut off mid-way
        may then be sent twice: a duplicate reply or dead letter, never a missing one),
        and again on a fresh channel after a nack, up to ``len(NACK_PAUSES)`` times
        (then the nack's ``DeliveryError`` is raised)."""
        deadline = time.monotonic() + self._patience
        delay = 0.05
        nacks = 0
        while True:
            try:
                await publish()
                return
            except DeliveryError as error:
                if isinstance(error, PublishError) or nacks == len(NACK_PAUSES):
                    raise
                log.warning("responder_nacked", error=repr(error), retry_in=NACK_PAUSES[nacks])
                await asyncio.sleep(NACK_PAUSES[nacks])
                nacks += 1
            except NOT_CONNECTED as error:
                if time.monotonic() + delay > deadline:
                    raise
                log.warning("responder_waiting_for_broker", error=repr(error))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

    async def _send(
        self, channel: AbstractChannel, confirmed: bool, body: bytes,
        properties: amqp.Properties, routing_key: str, **options: Any,
    ) -> None:
        """Publish on ``channel``; a nack closes it, so that the next try opens another."""
        try:
            await amqp.publish(
                channel, body, properties, routing_key, timeout=self._timeout, **options
            )
        except DeliveryError as error:
            if isinstance(error, PublishError):  # a return: the channel is fine
                raise
            if self._channels.get(confirmed) is channel:
                del self._channels[confirmed]
                self._retire(channel)
            raise

    def _retire(self, channel: AbstractChannel) -> None:
        """Close ``channel`` once the publishes still on it are settled (confirmed,
        nacked or timed out): closing it now would cancel their confirms."""

        async def close_later() -> None:
            await asyncio.sleep(self._timeout + 1)
            with contextlib.suppress(Exception):
                await channel.close()

        task = asyncio.create_task(close_later())
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def _open(self, *, confirmed: bool = True) -> AbstractChannel:
        channel = self._channels.get(confirmed)
        if channel is not None and not channel.is_closed:
            return channel
        async with self._opening:
            channel = self._channels.get(confirmed)
            if channel is None or channel.is_closed:
                channel = await self._connection.channel(
                    publisher_confirms=confirmed, on_return_raises=confirmed
                )
                self._channels[confirmed] = channel
            return channel

    async def reply(
        self, request: AbstractIncomingMessage, body: bytes, *, confirmed: bool = True
    ) -> None:
        """Publish the reply if the request asked for one (once per handled delivery; twice
        at worst, when the connection broke mid-publish: see ``_patiently``).

        A command's reply is confirmed by the broker before the command is acknowledged; a
        query's need not be (it has no effect: a lost reply is a client timeout and retry),
        which saves a round trip on the hot read path."""
        reply_to = text(request.reply_to)
        if not reply_to or text(request.correlation_id) != request.correlation_id:
            return
        if is_docbus_queue(reply_to):
            log.warning("reply_not_sent", reply_to=reply_to, reason="docbus queue")
            metrics.REPLIES_NOT_SENT.labels("docbus_queue").inc()
            return
        properties = amqp.Properties(
            content_type="application/json",
            headers=headers_of(tracing.current()),
            priority=0,
            correlation_id=request.correlation_id,
            message_id=text(request.message_id),
        )

        async def publish() -> None:
            channel = await self._open(confirmed=confirmed)
            await self._send(channel, confirmed, body, properties, reply_to, mandatory=False)

        try:
            await self._patiently(publish)
        except DeliveryError as error:  # a nack: the queue refused it, and would again
            log.warning("reply_refused_by_broker", reply_to=reply_to, error=repr(error))
            metrics.REPLIES_NOT_SENT.labels("refused_by_broker").inc()

    async def dead_letter(self, original: AbstractIncomingMessage, reason: str) -> None:
        letter = dead_letter_of(original, reason)

        async def publish() -> None:
            channel = await self._open()
            await self._send(
                channel, True, letter.body, letter.properties, text(original.routing_key) or "",
                exchange=DEAD.name, mandatory=True,
            )

        await self._patiently(publish)


def dead_letter_of(original: AbstractIncomingMessage, reason: str) -> aio_pika.Message:
    """The original message, persistent, with why and whence in its headers (and what
    was undecodable, hex-encoded, instead of itself)."""
    headers, _ = clean_headers(original.headers)
    headers[ERROR_HEADER] = reason[:1000]
    headers["x-docbus-original-exchange"] = text(original.exchange) or ""
    headers["x-docbus-original-routing-key"] = text(original.routing_key) or ""
    headers["x-docbus-failed-at"] = datetime.now(UTC).isoformat()
    if text(original.user_id):  # the broker checks user_id against our login: keep it aside
        headers["x-docbus-original-user-id"] = original.user_id
    if original.expiration is not None:  # a dead letter must not expire
        headers["x-docbus-original-expiration"] = str(original.expiration)
    if bad := undecodable(original):
        headers[BAD_PROPERTIES_HEADER] = bad
    return persistent_copy(original, headers)


def persistent_copy(original: AbstractIncomingMessage, headers: dict[str, Any]) -> aio_pika.Message:
    """The message's body and properties, persistent, with these headers (no user_id or
    expiration: the broker checks the one, and a kept message must not expire; no
    undecodable property: it could not be encoded)."""
    timestamp = None if isinstance(original.timestamp, BadTimestamp) else original.timestamp
    return aio_pika.Message(
        original.body,
        headers=headers,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        priority=original.priority,
        timestamp=timestamp,
        content_type=text(original.content_type),
        content_encoding=text(original.content_encoding),
        correlation_id=text(original.correlation_id),
        reply_to=text(original.reply_to),
        message_id=text(original.message_id),
        type=text(original.type),
        app_id=text(original.app_id),
    )
