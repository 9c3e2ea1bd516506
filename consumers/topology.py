"""Names and shapes of every exchange and queue, in one place (contract version 1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from aio_pika.abc import AbstractChannel
from faststream.rabbit import ExchangeType, QueueType, RabbitExchange, RabbitQueue

COMMANDS = RabbitExchange("docbus.commands", type=ExchangeType.TOPIC, durable=True)
EVENTS = RabbitExchange("doc.events", type=ExchangeType.TOPIC, durable=True)
DEAD = RabbitExchange("docbus.dead", type=ExchangeType.FANOUT, durable=True)
DEAD_QUEUE_NAME = "docbus.dead"
AUDIT_QUEUE_NAME = "docbus.audit"
ERROR_HEADER = "x-docbus-error"


@dataclass(frozen=True, slots=True)
class Route:
    routing_key: str
    queue: str
    query: bool = False


ROUTES: tuple[Route, ...] = (
    Route("folder.create", "docbus.folder.create"),
    Route("document.upload", "docbus.document.upload"),
    Route("document.share", "docbus.document.share"),
    Route("document.unshare", "docbus.document.unshare"),
    Route("document.get", "docbus.document.get", query=True),
    Route("folder.list", "docbus.folder.list", query=True),
    Route("org.member.set", "docbus.org.member.set"),
    Route("org.member.remove", "docbus.org.member.remove"),
    # contract v2: lives of documents and folders
    Route("document.rename", "docbus.document.rename"),
    Route("document.move", "docbus.document.move"),
    Route("document.revert", "docbus.document.revert"),
    Route("document.trash", "docbus.document.trash"),
    Route("document.restore", "docbus.document.restore"),
    Route("document.purge", "docbus.document.purge"),
    Route("folder.rename", "docbus.folder.rename"),
    Route("folder.move", "docbus.folder.move"),
    Route("folder.trash", "docbus.folder.trash"),
    Route("folder.restore", "docbus.folder.restore"),
    Route("folder.purge", "docbus.folder.purge"),
    Route("folder.children", "docbus.folder.children", query=True),
    Route("trash.list", "docbus.trash.list", query=True),
    # contract v2: sharing
    Route("folder.share", "docbus.folder.share"),
    Route("folder.unshare", "docbus.folder.unshare"),
    Route("document.shares", "docbus.document.shares", query=True),
    Route("access.explain", "docbus.access.explain", query=True),
    Route("shared.with_me", "docbus.shared.with_me", query=True),
)


def work_queue_arguments(delivery_limit: int) -> dict[str, Any]:
    """Quorum queue that dead-letters at least once to docbus.dead past the delivery limit."""
    return {
        "x-queue-type": "quorum",
        "x-dead-letter-exchange": DEAD.name,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
        "x-delivery-limit": delivery_limit,
    }


def work_queue(name: str, routing_key: str, delivery_limit: int) -> RabbitQueue:
    # The arguments are RabbitMQ's own names; FastStream's TypedDict spells them otherwise.
    arguments: Any = work_queue_arguments(delivery_limit)
    return RabbitQueue(
        name,
        queue_type=QueueType.QUORUM,
        durable=True,
        routing_key=routing_key,
        arguments=arguments,
    )


def command_queue(route: Route, delivery_limit: int) -> RabbitQueue:
    return work_queue(route.queue, route.routing_key, delivery_limit)


def audit_queue(delivery_limit: int) -> RabbitQueue:
    return work_queue(AUDIT_QUEUE_NAME, "#", delivery_limit)


def dead_queue() -> RabbitQueue:
    return RabbitQueue(
        DEAD_QUEUE_NAME,
        queue_type=QueueType.QUORUM,
        durable=True,
        arguments=cast(Any, {"x-queue-type": "quorum"}),
    )


async def declare_topology(channel: AbstractChannel, delivery_limit: int) -> None:
    """Declare every exchange, queue and binding of the contract (idempotent).

    Run at every start so that a client may publish as soon as a worker started once.
    """
    commands = await channel.declare_exchange(COMMANDS.name, "topic", durable=True)
    events = await channel.declare_exchange(EVENTS.name, "topic", durable=True)
    dead = await channel.declare_exchange(DEAD.name, "fanout", durable=True)
    dead_q = await channel.declare_queue(
        DEAD_QUEUE_NAME, durable=True, arguments={"x-queue-type": "quorum"}
    )
    await dead_q.bind(dead, routing_key="")
    for route in ROUTES:
        queue = await channel.declare_queue(
            route.queue, durable=True, arguments=work_queue_arguments(delivery_limit)
        )
        await queue.bind(commands, routing_key=route.routing_key)
    audit = await channel.declare_queue(
        AUDIT_QUEUE_NAME, durable=True, arguments=work_queue_arguments(delivery_limit)
    )
    await audit.bind(events, routing_key="#")
