"""FastStream subscribers: decode -> command -> use case -> encoded reply.

Every subscriber acknowledges by hand (``AckPolicy.MANUAL``) through the pipeline, never
lets FastStream publish a reply (``no_reply=True``: FastStream would publish it with
``mandatory=True``), and reads from its own channel with a bounded prefetch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import structlog
from aio_pika.abc import AbstractIncomingMessage
from faststream.message import StreamMessage
from faststream.middlewares import AckPolicy
from faststream.rabbit import Channel, RabbitBroker
from faststream.rabbit.annotations import RabbitMessage
from pydantic import BaseModel

from docbus.consumers.lifecycle import lifecycle_queries, lifecycle_use_cases, sharing_queries
from docbus.consumers.pipeline import Pipeline, Run
from docbus.consumers.schemas.inbound import INBOUND
from docbus.consumers.topology import COMMANDS, ROUTES, Route, command_queue
from docbus.core.cursor import CursorCodec
from docbus.core.idempotency import IdempotencyKey
from docbus.core.ports import Clock, IdGenerator, ReplyCache, UnitOfWorkFactory
from docbus.handlers.bus import CommandBus, Commands
from docbus.handlers.create_folder import CreateFolderHandler
from docbus.handlers.get_document import GetDocumentHandler
from docbus.handlers.group_commit import GroupCommit
from docbus.handlers.list_folder import ListFolderHandler
from docbus.handlers.revoke_share import RevokeShareHandler
from docbus.handlers.set_membership import SetMembershipHandler
from docbus.handlers.share_document import ShareDocumentHandler
from docbus.handlers.upload_document import UploadDocumentHandler

log = structlog.get_logger("docbus.subscribers")

Query = Callable[[Any], Awaitable[bytes]]
UseCase = Callable[[Any, Any], Awaitable[dict[str, Any]]]


def idempotency_key(body: BaseModel, raw: AbstractIncomingMessage) -> IdempotencyKey | None:
    """The delivery's key: its message_id, scoped to the sender the broker vouches for
    (``user_id``, validated by RabbitMQ against the login), for this routing key and this
    validated body (canonical JSON: sorted keys, defaults filled in, so that a retry that
    means the same matches). None without a message_id: no protection then."""
    if not raw.message_id:
        return None
    canonical = orjson.dumps(body.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    return IdempotencyKey.of(raw.user_id or "", raw.message_id, raw.routing_key or "", canonical)


def command_runner(bus: Commands, use_case: UseCase) -> Run:
    async def run(body: Any, raw: AbstractIncomingMessage) -> bytes:
        key = idempotency_key(body, raw)
        outcome = await bus.execute(use_case, body.to_command(), key, alone=bool(raw.redelivered))
        if outcome.duplicate:  # answered from the inbox (a redelivery, or a sender's retry)
            log.info("duplicate_message_id")
        elif outcome.refused:
            log.warning("message_id_reused", message_id=raw.message_id, sender=raw.user_id)
        return outcome.reply

    return run


def query_runner(query: Query) -> Run:
    async def run(body: Any, raw: AbstractIncomingMessage) -> bytes:
        return await query(body.to_command())

    return run


def make_broker(url: str = "amqp://guest:guest@localhost:5672/", **options: Any) -> RabbitBroker:
    """A broker whose handlers get the message itself: no dependency injection and no
    body decoding by FastStream (about a third of its per-message cost, measured with
    py-spy), and no FastStream logging (the pipeline logs what matters)."""
    return RabbitBroker(url, apply_types=False, logger=None, **options)


async def keep_message(message: StreamMessage[Any]) -> StreamMessage[Any]:
    """FastStream would JSON-decode the body before the handler runs, and a body that is
    not JSON would then fail outside the pipeline (and stay unacknowledged): hand the
    message over as it is; the pipeline decodes and validates it."""
    return message


def build_runners(
    uow: UnitOfWorkFactory,
    cache: ReplyCache,
    clock: Clock,
    ids: IdGenerator,
    *,
    cursor_key: bytes,
    bus: Commands | None = None,
) -> dict[str, Run]:
    """One runner per routing key: the use cases of the contract, wired to the ports.
    Commands share one bus, so that commands of every kind commit in groups together;
    listings sign their cursors with ``cursor_key``."""
    bus = bus or CommandBus(uow, cache)
    memberships = SetMembershipHandler(clock, ids)
    return {
        "folder.create": command_runner(bus, CreateFolderHandler(clock, ids)),
        "document.upload": command_runner(bus, UploadDocumentHandler(clock, ids)),
        "document.share": command_runner(bus, ShareDocumentHandler(clock, ids)),
        "document.unshare": command_runner(bus, RevokeShareHandler(clock, ids)),
        "org.member.set": command_runner(bus, memberships),
        "org.member.remove": command_runner(bus, memberships),
        "document.get": query_runner(GetDocumentHandler(uow, cache, orjson.dumps)),
        "folder.list": query_runner(
            ListFolderHandler(uow, cache, orjson.dumps, CursorCodec(cursor_key))
        ),
        **{k: command_runner(bus, u) for k, u in lifecycle_use_cases(clock, ids).items()},
        **{
            k: query_runner(q)
            for k, q in lifecycle_queries(uow, cache, CursorCodec(cursor_key)).items()
        },
        **{
            k: query_runner(q)
            for k, q in sharing_queries(uow, clock, CursorCodec(cursor_key)).items()
        },
    }


def register_route(
    broker: RabbitBroker,
    pipeline: Pipeline,
    route: Route,
    run: Run,
    *,
    prefetch: int,
    delivery_limit: int,
) -> None:
    schema = INBOUND[route.routing_key]

    async def handle(msg: RabbitMessage) -> None:
        await pipeline.process(msg.raw_message, schema, run, query=route.query)

    handle.__name__ = route.queue.replace(".", "_")
    broker.subscriber(
        command_queue(route, delivery_limit),
        COMMANDS,
        channel=Channel(prefetch_count=prefetch),
        ack_policy=AckPolicy.MANUAL,
        no_reply=True,
        decoder=keep_message,
        title=route.queue,
        description=schema.__doc__,
    )(handle)


def register_commands(
    broker: RabbitBroker,
    pipeline: Pipeline,
    runners: dict[str, Run],
    *,
    prefetch: int,
    delivery_limit: int,
) -> None:
    for route in ROUTES:
        register_route(
            broker,
            pipeline,
            route,
            runners[route.routing_key],
            prefetch=prefetch,
            delivery_limit=delivery_limit,
        )


class CommandConsumer:
    """The ``commands`` role: every command and query subscriber of one broker, for the
    worker to start and stop."""

    name = "commands"

    def __init__(self, broker: RabbitBroker, pipeline: Pipeline, bus: GroupCommit) -> None:
        self._broker = broker
        self._pipeline = pipeline
        self._bus = bus

    @property
    def broker(self) -> RabbitBroker:
        return self._broker

    async def start(self) -> None:
        await self._broker.start()

    async def stop_consuming(self) -> None:
        await stop_consuming(self._broker)

    async def drained(self, timeout: float) -> bool:
        return await self._pipeline.drained(timeout)

    async def close(self) -> None:
        await self._broker.stop()

    def figures(self) -> dict[str, int]:
        return {
            "in_flight": self._pipeline.in_flight,
            "groups": self._bus.groups,
            "grouped_commands": self._bus.grouped,
            "groups_split": self._bus.split,
        }


async def stop_consuming(broker: RabbitBroker) -> None:
    """basic.cancel every subscriber's consumer, without waiting for handlers.

    FastStream's own stop() first marks the subscriber stopped (so deliveries that keep
    arriving are left unacknowledged: a redelivery after the deploy) and cancels only
    after waiting; here the broker is told first, then in-flight work finishes normally.
    """
    for subscriber in broker.subscribers:
        queue = getattr(subscriber, "_queue_obj", None)
        tag = getattr(subscriber, "_consumer_tag", None)
        if queue is not None and tag is not None and not queue.channel.is_closed:
            with contextlib.suppress(Exception):
                await queue.cancel(tag)
            subscriber._consumer_tag = None  # type: ignore[attr-defined]
