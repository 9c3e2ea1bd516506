"""The client's one publishing channel, which also owns the direct reply-to consumer.

Direct reply-to is bound to the channel that consumes it: a request must be published
on that same channel, and its reply is lost for good if the channel closes first. So:

- one robust channel with publisher confirms and ``on_return_raises`` (mandatory
  publishes that no queue takes raise instead of vanishing);
- one ``amq.rabbitmq.reply-to`` consumer (no_ack), shared by every request;
- when the channel closes (connection loss, channel error, ``close()``), every request
  in flight fails at once with :class:`DocbusConnectionLost` instead of waiting for
  its timeout;
- aio-pika's RobustChannel re-consumes registered queues inside ``_on_open``, before
  it runs ``reopen_callbacks``; new requests wait for that callback, so none is
  published on a reopened channel before its reply consumer exists (RabbitMQ would
  close the channel: "fast reply consumer does not exist").
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractRobustChannel,
    AbstractRobustConnection,
)

from client.errors import DocbusConnectionLost, DocbusUnroutable
from client.pending import PendingReplies
from client.publishing import ExchangeCheck, command_message, publish_confirmed
from client.topology import DIRECT_REPLY_TO


class CommandChannel:
    """Publishes commands with confirms and routes replies to :class:`PendingReplies`."""

    def __init__(
        self,
        connection: AbstractRobustConnection,
        channel: AbstractRobustChannel,
        exchange: AbstractExchange,
        pending: PendingReplies,
    ) -> None:
        self._channel = channel
        self._exchange = exchange
        self._check = ExchangeCheck(connection, exchange.name)
        self._ready = asyncio.Event()
        self._closing = False
        self.pending = pending

    @classmethod
    async def open(
        cls, connection: AbstractRobustConnection, exchange: str, pending: PendingReplies
    ) -> CommandChannel:
        """Open the channel and start the one reply consumer, feeding ``pending``."""
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        target = await channel.get_exchange(exchange, ensure=False)
        self = cls(connection, channel, target, pending)
        replies = await channel.declare_queue(DIRECT_REPLY_TO, passive=True)
        await replies.consume(self._on_reply, no_ack=True)
        channel.close_callbacks.add(self._on_closed)
        channel.reopen_callbacks.add(self._on_reopened)
        self._ready.set()
        return self

    async def publish(
        self, routing_key: str, body: bytes, message_id: str, correlation_id: str | None = None
    ) -> None:
        """Publish one command (mandatory, persistent) and await its confirm. Call
        :meth:`ready` first."""
        message = command_message(body, message_id, correlation_id)
        try:
            await publish_confirmed(self._exchange, message, routing_key)
        except DocbusUnroutable:
            self._check.exists = False  # re-check: someone may have deleted the exchange
            raise

    async def ready(self) -> None:
        """Wait until the channel and its reply consumer are (again) open, and make
        sure that the commands exchange exists (:class:`DocbusUnroutable` if not)."""
        await self._ready.wait()
        if self._closing:
            raise DocbusConnectionLost("connection_lost", "the client is closed")
        await self._check.ensure()

    async def close(self) -> None:
        """Close the channel; requests in flight fail, waiting ones are woken up."""
        self._closing = True
        self._ready.set()
        if not self._channel.is_closed:
            await self._channel.close()
        self.pending.fail_all(_lost("the client was closed"))

    async def _on_reply(self, message: AbstractIncomingMessage) -> None:
        self.pending.resolve(message.correlation_id, message.body)

    def _on_closed(self, _: AbstractChannel | None, reason: BaseException | None, /) -> None:
        if self._closing:
            self.pending.fail_all(_lost("the client was closed"))
            return
        if self._channel.is_closed:  # a late duplicate callback must not block a reopened one
            self._ready.clear()
        self.pending.fail_all(_lost(f"the channel closed ({reason!r})"))

    def _on_reopened(self, _: AbstractRobustChannel | None, /) -> None:
        self._ready.set()


def _lost(why: str) -> Callable[[], DocbusConnectionLost]:
    """A factory of fresh errors (one per failed request) for requests in flight."""
    message = (
        f"{why} before the reply arrived; the command may have taken effect,"
        " retry it with the same message_id"
    )
    return lambda: DocbusConnectionLost("connection_lost", message)
