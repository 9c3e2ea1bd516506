"""Operator tools for docbus.dead: list, replay, purge.

Replay re-publishes a dead letter to the exchange and routing key it came from with its
original body, properties and ``message_id``: a replay of a command that already took
effect is answered as a duplicate, never applied twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue

from adapters import amqp_decoding
from consumers.responder import persistent_copy
from consumers.topology import COMMANDS, DEAD_QUEUE_NAME, ERROR_HEADER

DOCBUS_HEADERS = (
    ERROR_HEADER,
    "x-docbus-original-exchange",
    "x-docbus-original-routing-key",
    "x-docbus-failed-at",
    "x-docbus-original-user-id",
    "x-docbus-original-expiration",
)
BROKER_HEADERS = (
    "x-death",
    "x-first-death-exchange",
    "x-first-death-queue",
    "x-first-death-reason",
    "x-delivery-count",
    "x-last-death-exchange",
    "x-last-death-queue",
    "x-last-death-reason",
)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    message_id: str | None
    routing_key: str
    exchange: str
    reason: str
    failed_at: str
    body: bytes

    @classmethod
    def of(cls, message: AbstractIncomingMessage) -> DeadLetter:
        headers: dict[str, Any] = dict(message.headers or {})
        exchange, routing_key = origin(message)
        reason = headers.get(ERROR_HEADER) or _broker_reason(headers)
        return cls(
            message.message_id,
            routing_key,
            exchange,
            str(reason),
            str(headers.get("x-docbus-failed-at", "")),
            message.body,
        )


def origin(message: AbstractIncomingMessage) -> tuple[str, str]:
    """(exchange, routing key) the message was first published to."""
    headers: dict[str, Any] = dict(message.headers or {})
    if "x-docbus-original-routing-key" in headers:
        return (
            str(headers.get("x-docbus-original-exchange") or COMMANDS.name),
            str(headers["x-docbus-original-routing-key"]),
        )
    deaths = headers.get("x-death") or []
    if deaths:
        first = deaths[-1]
        keys = first.get("routing-keys") or [message.routing_key or ""]
        return str(first.get("exchange") or COMMANDS.name), str(keys[0])
    return COMMANDS.name, message.routing_key or ""


def _broker_reason(headers: dict[str, Any]) -> str:
    reason = headers.get("x-first-death-reason")
    if reason == "delivery_limit":
        return "delivery limit reached: the worker never completed it (crash or timeout)"
    return f"dead-lettered by the broker: {reason or 'unknown reason'}"


async def _take(channel: AbstractChannel, limit: int) -> list[AbstractIncomingMessage]:
    # docbus.dead may hold what the broker dead-lettered itself, undecodable values and all:
    # read it tolerantly, or one such letter would end the tool's connection.
    amqp_decoding.install()
    queue: AbstractQueue = await channel.declare_queue(DEAD_QUEUE_NAME, passive=True)
    taken: list[AbstractIncomingMessage] = []
    while len(taken) < limit:
        message = await queue.get(no_ack=False, fail=False)
        if message is None:
            break
        taken.append(message)
    return taken


async def list_dead(url: str, limit: int = 100) -> list[DeadLetter]:
    """Peek: the messages are taken unacknowledged and given back when the channel closes."""
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        taken = await _take(channel, limit)
        return [DeadLetter.of(m) for m in taken]


async def replay_dead(
    url: str, limit: int = 100, select: Callable[[DeadLetter], bool] = lambda _: True
) -> list[DeadLetter]:
    """Re-publish (confirmed, mandatory) the selected dead letters, then remove them."""
    connection = await aio_pika.connect(url)
    replayed: list[DeadLetter] = []
    async with connection:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        for message in await _take(channel, limit):
            letter = DeadLetter.of(message)
            if not select(letter):
                continue
            exchange = await channel.get_exchange(letter.exchange, ensure=False)
            await exchange.publish(_original(message), letter.routing_key, mandatory=True)
            await message.ack()
            replayed.append(letter)
    return replayed


async def purge_dead(url: str) -> int:
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(DEAD_QUEUE_NAME, passive=True)
        result = await queue.purge()
        return int(result.message_count or 0)


def _original(message: AbstractIncomingMessage) -> aio_pika.Message:
    headers = {
        k: v
        for k, v in (message.headers or {}).items()
        if k not in DOCBUS_HEADERS and k not in BROKER_HEADERS
    }
    return persistent_copy(message, headers)
