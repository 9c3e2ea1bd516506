"""The client's one publishing channel, which also owns the direct reply-to consumer.

Direct reply-to is bound to the channel that consumes it: a request must be published
on that same channel, and its reply is lost for good if the channel closes first. So:

- one robust channel with publisher confirms and ``on_return_raises`` (mandatory
  publishes that no queue takes raise instead of vanishing);
- one ``amq.rabbitmq.reply-to`` consumer (no_ack), shared by every request;
- a nack replaces the channel (``renew``): see there why;
- when the channel closes (connection loss, channel error, ``close()``), every request
  in flight fails at once with :class:`DocbusConnectionLost` instead of waiting for
  its timeout;
- aio-pika's RobustChannel re-consumes registered queues inside ``_on_open``, before
  it runs ``reopen_callbacks``; new requests wait for that callback, so none is
  published on a reopened channel before its reply consumer exists (RabbitMQ would
  close the channel: "fast reply consumer does not exist").

The per-call path is kept lean, because its CPU cost is the client's throughput:

- commands are published with aiormq's ``basic_publish`` on the underlying channel
  that the reply consumer was (re)started on, which the open and reopen callbacks
  record (a closed one fails the publish with :class:`DocbusConnectionLost`, as
  aio-pika's ``Exchange.publish`` would);
- aio-pika keeps owning the reply consumer (it restores it on every reopen), but each
  time it has been (re)started its delivery callback is swapped, in aiormq's
  ``consumers`` table, for one that resolves the request straight from aiormq's
  delivered message: without it every reply builds an ``IncomingMessage`` and runs
  one more task. If that table is not there, replies take aio-pika's path; both
  resolve the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from aio_pika.abc import (
    AbstractChannel,
    AbstractIncomingMessage,
    AbstractRobustChannel,
    AbstractRobustConnection,
)
from aio_pika.exceptions import ChannelInvalidStateError
from aiormq.abc import AbstractChannel as UnderlayChannel
from aiormq.abc import DeliveredMessage

from docbus_client.errors import DocbusConnectionLost, DocbusUnroutable, Unavailable
from docbus_client.pending import PendingReplies
from docbus_client.publishing import ExchangeCheck, command_properties, publish_confirmed
from docbus_client.topology import DIRECT_REPLY_TO


class CommandChannel:
    """Publishes commands with confirms and routes replies to :class:`PendingReplies`."""

    def __init__(
        self,
        connection: AbstractRobustConnection,
        channel: AbstractRobustChannel,
        exchange: str,
        pending: PendingReplies,
    ) -> None:
        self._channel = channel
        self._exchange = exchange
        self._check = ExchangeCheck(connection, exchange)
        self._ready = asyncio.Event()
        self._closing = False
        self._underlay: UnderlayChannel | None = None
        self._consumer_tag = ""
        self.pending = pending

    @classmethod
    async def open(
        cls, connection: AbstractRobustConnection, exchange: str, pending: PendingReplies
    ) -> CommandChannel:
        """Open the channel and start the one reply consumer, feeding ``pending``."""
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        self = cls(connection, channel, exchange, pending)
        replies = await channel.declare_queue(DIRECT_REPLY_TO, passive=True)
        self._consumer_tag = await replies.consume(self._on_reply, no_ack=True)
        await self._attach()
        channel.close_callbacks.add(self._on_closed)
        channel.reopen_callbacks.add(self._on_reopened)
        self._ready.set()
        return self

    async def request(self, routing_key: str, body: bytes, message_id: str) -> bytes:
        """Publish one command with reply_to and a fresh correlation_id, and return the
        body of its reply. Waits for :meth:`ready` first."""
        if not self._is_ready():
            # before expect(): a channel lost meanwhile fails only expected replies
            await self.ready()
        correlation_id, reply = self.pending.expect()
        try:
            await self.publish(routing_key, body, message_id, correlation_id)
            return await reply
        finally:
            self.pending.forget(correlation_id, reply)

    async def publish(
        self, routing_key: str, body: bytes, message_id: str, correlation_id: str | None = None
    ) -> None:
        """Publish one command (mandatory, persistent) and await its confirm. Call
        :meth:`ready` first."""
        underlay = self._underlay
        if underlay is None:
            raise DocbusConnectionLost("connection_lost", "the channel is not open")
        properties = command_properties(message_id, correlation_id)
        try:
            await publish_confirmed(underlay, self._exchange, routing_key, body, properties)
        except DocbusUnroutable:
            self._check.exists = False  # re-check: someone may have deleted the exchange
            raise
        except Unavailable:
            await self.renew(underlay)
            raise

    async def renew(self, underlay: UnderlayChannel) -> None:
        """Replace the underlying channel (after a nack): aio-pika's robust channel opens
        a fresh one and restarts the reply consumer on it; requests in flight on the old
        one fail as on any channel loss (and are resent), new ones wait for the new one.

        RabbitMQ 3.10 binds a channel to the quorum queue leader it first published to: a
        channel whose first publish to a queue fell in a leader election (a failover right
        after a node died) has every later publish to that queue nacked until the dead node
        returns, while a channel opened after the election publishes normally."""
        if underlay is not self._underlay or self._closing:
            return  # renewed already
        self._ready.clear()
        self._underlay = None
        # The confirms still awaited on it fail as on a channel loss (not with aiormq's
        # default CancelledError), so that their commands are resent.
        with contextlib.suppress(Exception):
            await underlay.close(ChannelInvalidStateError("channel replaced after a nack"))

    async def ready(self) -> None:
        """Wait until the channel and its reply consumer are (again) open, and make
        sure that the commands exchange exists (:class:`DocbusUnroutable` if not)."""
        if self._is_ready():
            return
        await self._ready.wait()
        if self._closing:
            raise DocbusConnectionLost("connection_lost", "the client is closed")
        await self._check.ensure()

    def _is_ready(self) -> bool:
        """True when :meth:`ready` has nothing to wait for (checked without a coroutine)."""
        return self._check.exists and self._ready.is_set() and not self._closing

    async def close(self) -> None:
        """Close the channel; requests in flight fail, waiting ones are woken up."""
        self._closing = True
        self._ready.set()
        if not self._channel.is_closed:
            await self._channel.close()
        self.pending.fail_all(_lost("the client was closed"))

    async def _attach(self) -> None:
        """Use the (re)opened underlying channel, on which aio-pika has just
        (re)started the reply consumer, and take that consumer's deliveries."""
        underlay = await self._channel.get_underlay_channel()
        consumers = getattr(underlay, "consumers", None)
        if isinstance(consumers, dict) and self._consumer_tag in consumers:
            consumers[self._consumer_tag] = self._on_delivery
        self._underlay = underlay

    async def _on_delivery(self, message: DeliveredMessage) -> None:
        self.pending.resolve(message.header.properties.correlation_id, message.body)

    async def _on_reply(self, message: AbstractIncomingMessage) -> None:
        self.pending.resolve(message.correlation_id, message.body)

    def _on_closed(self, _: AbstractChannel | None, reason: BaseException | None, /) -> None:
        if self._closing:
            self.pending.fail_all(_lost("the client was closed"))
            return
        if self._channel.is_closed:  # a late duplicate callback must not block a reopened one
            self._ready.clear()
        self.pending.fail_all(_lost(f"the channel closed ({reason!r})"))

    async def _on_reopened(self, _: AbstractRobustChannel | None, /) -> None:
        try:
            await self._attach()
        finally:
            self._ready.set()


def _lost(why: str) -> Callable[[], DocbusConnectionLost]:
    """A factory of fresh errors (one per failed request) for requests in flight."""
    message = (
        f"{why} before the reply arrived; the command may have taken effect,"
        " retry it with the same message_id"
    )
    return lambda: DocbusConnectionLost("connection_lost", message)
