"""Publishing one command: its AMQP properties, the confirm, and errors in docbus terms.

The hot path hands the properties to aiormq's ``basic_publish`` itself, which is all
that aio-pika's ``Exchange.publish`` does underneath: building an ``aio_pika.Message``
only for it to be turned into the same ``Basic.Properties`` cost more of the client's
CPU per call than anything else of its own.
"""

from __future__ import annotations

import asyncio
import os

import aio_pika
import aiormq
from aio_pika.abc import AbstractRobustConnection
from aio_pika.exceptions import (
    AMQPError,
    ChannelInvalidStateError,
    ChannelNotFoundEntity,
    DeliveryError,
    PublishError,
)
from aiormq.abc import AbstractChannel as UnderlayChannel

from docbus_client.errors import DocbusConnectionLost, DocbusUnroutable, Unavailable
from docbus_client.topology import DIRECT_REPLY_TO
from docbus_client.tracing import trace_headers

CONTENT_TYPE = "application/json"
PERSISTENT = 2
"""AMQP delivery mode 2: the broker writes the message to disk."""

_UUID4_CLEAR = ~(0xF000 << 64) & ~(0xC000 << 48)
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)


def new_message_id() -> str:
    """A fresh idempotency key (uuid4). Keep it to retry the same logical command."""
    # str(uuid.uuid4()) without the UUID object: the same 122 bits from os.urandom,
    # version 4 and the RFC 4122 variant, in the canonical 8-4-4-4-12 form.
    digits = "%032x" % (int.from_bytes(os.urandom(16)) & _UUID4_CLEAR | _UUID4_SET)
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def command_properties(message_id: str, correlation_id: str | None) -> aiormq.spec.Basic.Properties:
    """A persistent JSON command; with a correlation_id it asks for a direct reply; with
    the caller's trace context in its headers (client/tracing.py).

    The same properties ``aio_pika.Message(...).properties`` gives (including its
    headers table, empty without a trace, and priority 0)."""
    return aiormq.spec.Basic.Properties(
        content_type=CONTENT_TYPE,
        headers=trace_headers(),
        delivery_mode=PERSISTENT,
        priority=0,
        correlation_id=correlation_id,
        reply_to=None if correlation_id is None else DIRECT_REPLY_TO,
        message_id=message_id,
    )


async def publish_confirmed(
    channel: UnderlayChannel,
    exchange: str,
    routing_key: str,
    body: bytes,
    properties: aiormq.spec.Basic.Properties,
) -> None:
    """Publish with ``mandatory=True`` on ``channel`` and wait for the broker's confirm.

    Translates the outcomes: a return is :class:`DocbusUnroutable`, a nack is
    :class:`Unavailable`, a closed channel or connection is :class:`DocbusConnectionLost`.
    """
    try:
        if channel.is_closed:
            raise ChannelInvalidStateError(f"{channel!r} closed")
        await channel.basic_publish(
            body,
            exchange=exchange,
            routing_key=routing_key,
            properties=properties,
            mandatory=True,
        )
    except PublishError:
        raise _unroutable(exchange, routing_key, "no queue is bound to it") from None
    except ChannelNotFoundEntity:
        raise _unroutable(exchange, routing_key, "the exchange does not exist") from None
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
