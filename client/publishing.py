"""Publishing one command: its AMQP message, the confirm, and errors in docbus terms."""

from __future__ import annotations

import asyncio
import uuid

import aio_pika
from aio_pika import DeliveryMode, Message
from aio_pika.abc import AbstractExchange, AbstractRobustConnection
from aio_pika.exceptions import (
    AMQPError,
    ChannelInvalidStateError,
    ChannelNotFoundEntity,
    DeliveryError,
    PublishError,
)

from client.errors import DocbusConnectionLost, DocbusUnroutable, Unavailable
from client.topology import DIRECT_REPLY_TO

CONTENT_TYPE = "application/json"


def new_message_id() -> str:
    """A fresh idempotency key (uuid4). Keep it to retry the same logical command."""
    return str(uuid.uuid4())


def command_message(body: bytes, message_id: str, correlation_id: str | None) -> Message:
    """A persistent JSON command; with a correlation_id it asks for a direct reply."""
    return Message(
        body,
        content_type=CONTENT_TYPE,
        delivery_mode=DeliveryMode.PERSISTENT,
        message_id=message_id,
        correlation_id=correlation_id,
        reply_to=DIRECT_REPLY_TO if correlation_id is not None else None,
    )


async def publish_confirmed(exchange: AbstractExchange, message: Message, routing_key: str) -> None:
    """Publish with ``mandatory=True`` and wait for the broker's confirm.

    Translates aio-pika's outcomes: a return is :class:`DocbusUnroutable`, a nack is
    :class:`Unavailable`, a closed channel or connection is :class:`DocbusConnectionLost`.
    """
    try:
        await exchange.publish(message, routing_key, mandatory=True)
    except PublishError:
        raise _unroutable(exchange.name, routing_key, "no queue is bound to it") from None
    except ChannelNotFoundEntity:
        raise _unroutable(exchange.name, routing_key, "the exchange does not exist") from None
    except DeliveryError:
        raise Unavailable("unavailable", "the broker refused the command (nack)") from None
    except (AMQPError, ChannelInvalidStateError, ConnectionError) as exc:
        raise DocbusConnectionLost("connection_lost", f"publish failed: {exc!r}") from exc


def _unroutable(exchange: str, routing_key: str, why: str) -> DocbusUnroutable:
    return DocbusUnroutable(
        "unroutable",
        f"{routing_key!r} on exchange {exchange!r} went nowhere: {why}"
        " (has the docbus worker started?)",
    )


class ExchangeCheck:
    """Checks once, on a throwaway channel, that the commands exchange exists.

    Publishing to a missing exchange makes RabbitMQ close the channel (404), which
    would fail every other request in flight; a passive declare on a separate channel
    turns that case into a plain :class:`DocbusUnroutable`. A success is remembered;
    a failure is not, so commands go through as soon as the worker has started.
    """

    def __init__(self, connection: AbstractRobustConnection, exchange: str) -> None:
        self._connection = connection
        self._exchange = exchange
        self._lock = asyncio.Lock()
        self.exists = False

    async def ensure(self) -> None:
        """Return when the exchange exists; raise :class:`DocbusUnroutable` if not."""
        if self.exists:
            return
        async with self._lock:
            try:
                self.exists = self.exists or await self._probe()
            except (AMQPError, ChannelInvalidStateError, ConnectionError) as exc:
                raise DocbusConnectionLost(
                    "connection_lost", f"broker unreachable: {exc!r}"
                ) from exc
        if not self.exists:
            raise _unroutable(self._exchange, "*", "the exchange does not exist")

    async def _probe(self) -> bool:
        probe = aio_pika.Channel(self._connection, publisher_confirms=False)
        await probe.initialize()
        try:
            await probe.declare_exchange(self._exchange, passive=True)
        except ChannelNotFoundEntity:
            return False
        finally:
            await probe.close()
        return True
