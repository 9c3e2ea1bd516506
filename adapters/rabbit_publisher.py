"""Publishes outbox events to RabbitMQ: persistent, mandatory, with publisher confirms.

FastStream's defaults would publish non-persistent messages and ignore returns, so the
relay talks to aio-pika directly on a channel of its own: confirms are awaited for a
whole batch at once (pipelined), a returned (unroutable) event counts as not sent, and
only the events the broker acknowledged are reported back to be marked sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractRobustConnection

from core.ports import OutboxMessage

EVENTS_EXCHANGE = "doc.events"


class RabbitEventPublisher:
    def __init__(self, connection: AbstractRobustConnection, *, timeout: float = 10.0) -> None:
        self._connection = connection
        self._timeout = timeout
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None

    async def _events(self) -> AbstractExchange:
        if self._channel is None or self._channel.is_closed or self._exchange is None:
            self._channel = await self._connection.channel(
                publisher_confirms=True, on_return_raises=True
            )
            self._exchange = await self._channel.get_exchange(EVENTS_EXCHANGE, ensure=False)
        return self._exchange

    async def publish(self, messages: Sequence[OutboxMessage]) -> list[int]:
        exchange = await self._events()
        results = await asyncio.gather(
            *(self._publish_one(exchange, m) for m in messages), return_exceptions=True
        )
        return [m.id for m, ok in zip(messages, results, strict=True) if ok is True]

    async def _publish_one(self, exchange: AbstractExchange, message: OutboxMessage) -> bool:
        amqp = aio_pika.Message(
            message.body,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message.event_id,
            timestamp=message.created_at,
            type=message.routing_key,
        )
        await exchange.publish(amqp, message.routing_key, mandatory=True, timeout=self._timeout)
        return True
