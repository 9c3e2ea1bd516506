"""Names and shapes of every exchange and queue, in one place (contract version 1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from aio_pika.abc import AbstractConnection
from aiormq.exceptions import ChannelNotFoundEntity
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
    # contract v2: search
    Route("document.search", "docbus.document.search", query=True),
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
    # declare=False: FastStream only checks that the queue exists (a passive declare);
    # declare_topology made it as the settings say, or found an operator's own.
    return RabbitQueue(
        name,
        queue_type=QueueType.QUORUM,
        durable=True,
        routing_key=routing_key,
        arguments=arguments,
        declare=False,
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


@dataclass(frozen=True, slots=True)
class QueueShape:
    """How docbus declares its quorum queues (DOCBUS_RABBIT_* settings).

    - ``leader_locator``: ``balanced`` spreads new queues' leaders over the nodes
      (RabbitMQ 3.10+; ``client-local`` puts them on the declaring client's node); empty:
      not set, so the broker's default or an operator's policy decides.
    - ``initial_group_size``: members of a new queue (0: not set, every node).
    - ``declare``: ``missing`` declares only queues that do not exist and uses existing
      ones as they are, so that an operator may pre-create them (or steer them with
      policies) with other arguments; ``always`` declares every queue with these arguments
      and fails with PRECONDITION_FAILED on a queue made with others.
    """

    delivery_limit: int = 20
    leader_locator: str = "balanced"
    initial_group_size: int = 3
    declare: str = "missing"

    def arguments(self) -> dict[str, Any]:
        arguments = work_queue_arguments(self.delivery_limit)
        return arguments | self.cluster_arguments()

    def cluster_arguments(self) -> dict[str, Any]:
        arguments: dict[str, Any] = {}
        if self.leader_locator:
            arguments["x-queue-leader-locator"] = self.leader_locator
        if self.initial_group_size:
            arguments["x-quorum-initial-group-size"] = self.initial_group_size
        return arguments


async def declare_topology(
    connection: AbstractConnection, shape: QueueShape | int, *, audit_bound: bool = True
) -> None:
    """Declare every exchange, queue and binding of the contract (idempotent).

    Run at every start so that a client may publish as soon as a worker started once.
    ``shape`` (or just the delivery limit) says how queues are declared. When the audit
    reads Valkey Streams (``audit_bound`` False), docbus.audit is unbound from doc.events:
    nobody consumes it, and it must not grow without end.
    """
    if isinstance(shape, int):
        shape = QueueShape(delivery_limit=shape)
    async with connection.channel() as channel:
        commands = await channel.declare_exchange(COMMANDS.name, "topic", durable=True)
        events = await channel.declare_exchange(EVENTS.name, "topic", durable=True)
        dead = await channel.declare_exchange(DEAD.name, "fanout", durable=True)
        dead_arguments = {"x-queue-type": "quorum"} | shape.cluster_arguments()
        queues = [(DEAD_QUEUE_NAME, dead, "", dead_arguments)]
        queues += [(r.queue, commands, r.routing_key, shape.arguments()) for r in ROUTES]
        queues.append((AUDIT_QUEUE_NAME, events, "#", shape.arguments()))
        for name, exchange, key, arguments in queues:
            if shape.declare == "always" or not await _exists(connection, name):
                queue = await channel.declare_queue(name, durable=True, arguments=arguments)
            else:
                queue = await channel.declare_queue(name, passive=True)
            if name == AUDIT_QUEUE_NAME and not audit_bound:
                await queue.unbind(exchange, routing_key=key)
            else:
                await queue.bind(exchange, routing_key=key)


async def _exists(connection: AbstractConnection, name: str) -> bool:
    """Whether the queue exists (a passive declare on a channel of its own: a missing
    queue closes the channel)."""
    channel = await connection.channel()
    try:
        await channel.declare_queue(name, passive=True)
    except ChannelNotFoundEntity:
        return False
    finally:
        if not channel.is_closed:
            await channel.close()
    return True
