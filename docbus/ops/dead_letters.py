"""Operator tools for docbus.dead: list, replay, purge.

Replay re-publishes a dead letter to the exchange and routing key it came from with its
original body, properties and ``message_id``: a replay of a command that already took
effect is answered as a duplicate, never applied twice.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue
from aiormq.exceptions import ChannelClosed, ChannelNotFoundEntity, DeliveryError, PublishError

from docbus.adapters import amqp_decoding
from docbus.adapters.amqp_failover import connect_first
from docbus.consumers.responder import persistent_copy
from docbus.consumers.topology import COMMANDS, DEAD_QUEUE_NAME, ERROR_HEADER
from docbus.ops.reach import OperatorError

DETAILS_HEADER = "x-docbus-error-details"
DOCBUS_HEADERS = (
    ERROR_HEADER,
    DETAILS_HEADER,
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
    details: list[Any] = field(default_factory=list)
    correlation_id: str | None = None
    reply_to: str | None = None

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
            _details(headers.get(DETAILS_HEADER)),
            message.correlation_id,
            message.reply_to,
        )

    def as_json(self) -> dict[str, Any]:
        """Everything an operator needs, nothing cut: the body as text when it is UTF-8,
        else base64 (``body_base64``)."""
        out: dict[str, Any] = {
            "message_id": self.message_id,
            "exchange": self.exchange,
            "routing_key": self.routing_key,
            "reason": self.reason,
            "details": self.details,
            "failed_at": self.failed_at,
            "correlation_id": self.correlation_id,
            "reply_to": self.reply_to,
        }
        try:
            out["body"] = self.body.decode("utf-8")
        except UnicodeDecodeError:
            out["body_base64"] = base64.b64encode(self.body).decode("ascii")
        return out


def _details(raw: Any) -> list[Any]:
    """The validation details the worker attached (a JSON list), if any."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    if not isinstance(raw, str):
        return []
    try:
        details = json.loads(raw)
    except ValueError:
        return []
    return details if isinstance(details, list) else []


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


async def _dead_queue(channel: AbstractChannel) -> AbstractQueue:
    try:
        return await channel.declare_queue(DEAD_QUEUE_NAME, passive=True)
    except ChannelNotFoundEntity:
        raise OperatorError(
            f"no queue {DEAD_QUEUE_NAME} on this vhost: run `docbus migrate` (or start a"
            " worker once), and check DOCBUS_RABBIT_URL's vhost"
        ) from None


async def _take(channel: AbstractChannel, limit: int) -> list[AbstractIncomingMessage]:
    # docbus.dead may hold what the broker dead-lettered itself, undecodable values and all:
    # read it tolerantly, or one such letter would end the tool's connection.
    amqp_decoding.install()
    queue = await _dead_queue(channel)
    taken: list[AbstractIncomingMessage] = []
    while len(taken) < limit:
        message = await queue.get(no_ack=False, fail=False)
        if message is None:
            break
        taken.append(message)
    return taken


async def list_dead(url: str, limit: int = 100) -> list[DeadLetter]:
    """Peek: the messages are taken unacknowledged and given back when the channel closes."""
    connection = await connect_first(url)
    async with connection:
        channel = await connection.channel()
        taken = await _take(channel, limit)
        return [DeadLetter.of(m) for m in taken]


@dataclass(frozen=True)
class Replay:
    """What a replay did: the letters re-published (and removed from docbus.dead), and
    those it could not (left in docbus.dead), each with why."""

    replayed: list[DeadLetter] = field(default_factory=list)
    failed: list[tuple[DeadLetter, str]] = field(default_factory=list)


async def replay_dead(
    url: str, limit: int = 100, select: Callable[[DeadLetter], bool] = lambda _: True
) -> Replay:
    """Re-publish (confirmed, mandatory) the selected dead letters, removing each one the
    broker confirmed. A letter that cannot be re-published (no queue takes it any more,
    the broker nacks it) stays in docbus.dead, and the replay goes on with the next one.

    The letters are taken on one channel and published on another: after a nack the
    publishing channel is replaced (RabbitMQ 3.10 may keep nacking a channel bound to a
    quorum queue's former leader; docs/decisions.md), the taken letters stay where they are.
    """
    connection = await connect_first(url)
    done = Replay()
    async with connection:
        taking = await connection.channel()
        publishing = await connection.channel(publisher_confirms=True, on_return_raises=True)
        for message in await _take(taking, limit):
            letter = DeadLetter.of(message)
            if not select(letter):
                continue
            try:
                exchange = await publishing.get_exchange(letter.exchange, ensure=False)
                await exchange.publish(_original(message), letter.routing_key, mandatory=True)
            except (DeliveryError, ChannelClosed) as error:
                done.failed.append((letter, _why_not(error, letter)))
                await message.nack(requeue=True)
                if not isinstance(error, PublishError):  # nacked, or the channel closed
                    with contextlib.suppress(Exception):
                        await publishing.close()
                    publishing = await connection.channel(
                        publisher_confirms=True, on_return_raises=True
                    )
                continue
            await message.ack()
            done.replayed.append(letter)
    return done


def _why_not(error: Exception, letter: DeadLetter) -> str:
    where = f"{letter.exchange}/{letter.routing_key}"
    if isinstance(error, PublishError):
        return f"unroutable: no queue takes {where}"
    if isinstance(error, ChannelNotFoundEntity):
        return f"no exchange {letter.exchange!r}"
    if isinstance(error, DeliveryError):
        return f"nacked by the broker ({where})"
    return f"channel closed: {error}"


async def purge_dead(url: str) -> int:
    connection = await connect_first(url)
    async with connection:
        queue = await _dead_queue(await connection.channel())
        result = await queue.purge()
        return int(result.message_count or 0)


def _original(message: AbstractIncomingMessage) -> aio_pika.Message:
    headers = {
        k: v
        for k, v in (message.headers or {}).items()
        if k not in DOCBUS_HEADERS and k not in BROKER_HEADERS
    }
    return persistent_copy(message, headers)
