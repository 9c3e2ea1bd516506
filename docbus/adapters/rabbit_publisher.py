"""Publishes outbox events to RabbitMQ: persistent, mandatory, with publisher confirms.

FastStream's defaults would publish non-persistent messages and ignore returns, so the
relay talks to aio-pika directly on a channel of its own: confirms are awaited for a
whole batch at once (pipelined), a returned (unroutable) event counts as not sent, and
only the events the broker acknowledged are reported back to be marked sent.

An event that was not sent stays in the outbox for the next round; each such failure is
logged (``event_publish_failed``, with the event and the error) and reported to
``on_failure`` (the worker counts it), so that a relay stuck on one event is visible.

A batch with a failed event is not retried on the same channel: the channel is closed
and the next round opens a fresh one. RabbitMQ 3.10 binds a channel to the quorum queue
leader it first published to; a channel whose first publish fell in a leader election
(a reconnection right after a node died) keeps sending to the dead leader and has every
later publish to that queue nacked until the dead node returns, while a channel opened
after the election publishes normally (docs/reliability.md, "The 18.6 s gap of
cluster_two_workers").

An event carries the ``traceparent`` kept with it in the outbox (contract v2, section 6):
as it was when tracing is off, that of the publish's span (its child) when on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from typing import Any

import structlog
from aio_pika.abc import AbstractChannel, AbstractRobustConnection

from docbus.adapters.amqp import Properties, publish
from docbus.adapters.tracing import TRACEPARENT, Tracing
from docbus.core.ports import OutboxMessage

EVENTS_EXCHANGE = "doc.events"

log = structlog.get_logger("docbus.relay")


def _ignore() -> None:
    return None


class RabbitEventPublisher:
    def __init__(
        self,
        connection: AbstractRobustConnection,
        *,
        timeout: float = 10.0,
        on_failure: Callable[[], None] = _ignore,
        tracing: Tracing | None = None,
    ) -> None:
        self._connection = connection
        self._tracing = tracing
        self._timeout = timeout
        self._on_failure = on_failure
        self._channel: AbstractChannel | None = None

    async def _events(self) -> AbstractChannel:
        if self._channel is None or self._channel.is_closed:
            self._channel = await self._connection.channel(
                publisher_confirms=True, on_return_raises=True
            )
        return self._channel

    async def publish(self, messages: Sequence[OutboxMessage]) -> list[int]:
        channel = await self._events()
        results = await asyncio.gather(
            *(self._publish_one(channel, m) for m in messages), return_exceptions=True
        )
        sent = []
        for message, result in zip(messages, results, strict=True):
            if isinstance(result, BaseException):
                self._failed(message, result)
            else:
                sent.append(message.id)
        if len(sent) < len(messages):
            await self._drop(channel)
        return sent

    async def _drop(self, channel: AbstractChannel) -> None:
        """Forget ``channel`` (closing it): the next batch goes out on a fresh one."""
        if channel is self._channel:
            self._channel = None
        with contextlib.suppress(Exception):
            await channel.close()

    def _failed(self, message: OutboxMessage, error: BaseException) -> None:
        log.warning(
            "event_publish_failed", event_id=message.event_id, routing_key=message.routing_key,
            error=repr(error),
        )
        self._on_failure()

    async def _publish_one(self, channel: AbstractChannel, message: OutboxMessage) -> None:
        if self._tracing is None:
            headers = {TRACEPARENT: message.traceparent} if message.traceparent else {}
            await self._send(channel, message, headers)
            return
        with self._tracing.producing(message.traceparent, message.routing_key) as headers:
            await self._send(channel, message, headers)

    async def _send(
        self, channel: AbstractChannel, message: OutboxMessage, headers: dict[str, Any]
    ) -> None:
        properties = Properties(
            content_type="application/json",
            headers=headers,
            delivery_mode=2,  # persistent
            priority=0,
            message_id=message.event_id,
            timestamp=message.created_at,
            message_type=message.routing_key,
        )
        await publish(
            channel, message.body, properties, message.routing_key, exchange=EVENTS_EXCHANGE,
            mandatory=True, timeout=self._timeout,
        )
