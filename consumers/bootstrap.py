"""The composition root: the one place that builds the worker's object graph from settings.

``bootstrap`` connects to PostgreSQL, Valkey and RabbitMQ, declares the topology, wires
the adapters to the use cases and returns a ``Worker`` holding what its roles need:
``commands`` (every command and query subscriber), ``relay`` (the outbox relay) and
``audit`` (the audit consumer). Every connection it opens is registered to be closed, last
opened first; if building fails half-way, what was opened is closed before the error
propagates.

Tests change parts of the graph through ``Overrides``: each wraps (or replaces) the part
production builds. Production passes none.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar, cast

import aio_pika
from aio_pika.abc import AbstractRobustConnection
from faststream.rabbit import RabbitBroker

from adapters import amqp_decoding
from adapters.amqp_transport import CoalescingRobustConnection, deepen_write_queues
from adapters.postgres.audit import PgAuditLog
from adapters.postgres.database import PgDatabase
from adapters.postgres.misses import PgMissedInvalidations
from adapters.postgres.outbox import PgOutbox
from adapters.postgres.unit_of_work import PgUnitOfWorkFactory
from adapters.rabbit_publisher import RabbitEventPublisher
from adapters.valkey_cache import CircuitBreaker, ValkeyReplyCache, make_client
from consumers import metrics
from consumers.audit_consumer import AuditConsumer
from consumers.background import Maintenance, RelayLoop
from consumers.pipeline import Pipeline, RetryPolicy, Run
from consumers.responder import Responder
from consumers.settings import Settings, with_query
from consumers.subscribers import CommandConsumer, build_runners, make_broker, register_commands
from consumers.topology import declare_topology
from consumers.worker import ROLES, Consumer, Service, Worker
from core.ports import EventPublisher, Outbox
from handlers.bus import CommandBus
from handlers.record_audit import RecordAuditEntry
from handlers.relay_outbox import RelayOutbox

T = TypeVar("T")


def same(part: T) -> T:
    return part


class PipelineFactory(Protocol):
    def __call__(self, responder: Responder, retry: RetryPolicy, *, poison_after: int) -> Pipeline:
        ...


@dataclass(frozen=True)
class Overrides:
    """What a test puts around (or in place of) a part of the graph; production uses none."""

    outbox: Callable[[Outbox], Outbox] = same
    """Wraps the relay's outbox."""
    publisher: Callable[[EventPublisher], EventPublisher] = same
    """Wraps the relay's event publisher."""
    runner: Callable[[Run], Run] = same
    """Wraps the runner of every command and query (it returns once the work committed)."""
    pipeline: PipelineFactory = Pipeline
    """Builds the pipeline every delivery of the command subscribers goes through."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class UuidIds:
    def new_id(self) -> str:
        return str(uuid.uuid4())


async def bootstrap(
    settings: Settings, roles: frozenset[str] = ROLES, overrides: Overrides | None = None
) -> Worker:
    """The worker of these roles, connected and wired, not yet consuming."""
    resources = AsyncExitStack()
    try:
        return await _build(settings, roles, overrides or Overrides(), resources)
    except BaseException:
        await resources.aclose()
        raise


async def run_worker(
    settings: Settings, roles: frozenset[str] = ROLES, overrides: Overrides | None = None
) -> None:
    """Build the worker, run it until SIGTERM or SIGINT, stop it (the CLI's ``worker``)."""
    worker = await bootstrap(settings, roles, overrides)
    await worker.run_until_signalled()


@dataclass(frozen=True)
class _Shared:
    """What every role is built on."""

    settings: Settings
    amqp_url: str
    db: PgDatabase
    cache: ValkeyReplyCache
    connection: AbstractRobustConnection
    """The publishing connection: replies, dead letters, events."""
    pipeline: Pipeline
    resources: AsyncExitStack


async def _build(
    s: Settings, roles: frozenset[str], overrides: Overrides, resources: AsyncExitStack
) -> Worker:
    shared = await _shared(s, overrides, resources)
    consumers: list[Consumer] = []
    gauges: list[Callable[[], None]] = []
    if "commands" in roles:
        commands = _commands(shared, wrap=overrides.runner)
        consumers.append(commands)
        gauges.append(commands.observe)
    if "audit" in roles:
        consumers.append(await _audit(shared))
    services: list[Service] = [_relay(shared, overrides)] if "relay" in roles else []
    retention = timedelta(hours=s.worker.inbox_retention_hours)
    services.append(Maintenance(shared.db, shared.cache, retention=retention, gauges=gauges))
    return Worker(
        consumers, services, resources, deadline=s.worker.shutdown_deadline, roles=roles,
        metrics_port=s.worker.metrics_port,
    )


async def _shared(s: Settings, overrides: Overrides, resources: AsyncExitStack) -> _Shared:
    """PostgreSQL, Valkey, the publishing connection, the topology, the pipeline."""
    db = await PgDatabase.connect(
        s.database.url,
        min_size=s.database.pool_min,
        max_size=s.database.pool_max,
        command_timeout=s.database.command_timeout,
    )
    resources.push_async_callback(db.close)
    cache = ValkeyReplyCache(
        make_client(s.valkey.url, s.valkey.timeout),
        PgMissedInvalidations(db),
        ttl_seconds=s.valkey.ttl,
        breaker=CircuitBreaker(open_seconds=s.valkey.breaker_open_seconds),
    )
    resources.push_async_callback(cache.aclose)
    amqp_url = with_query(s.rabbit.url, heartbeat=s.rabbit.heartbeat)
    # Before any connection: a value pamqp cannot decode must cost its message only, not
    # the connection (every consumer, the relay, the replies) that received it.
    amqp_decoding.install()
    deepen_write_queues()
    connection = await _connect(amqp_url, "docbus-publish", resources)
    async with connection.channel() as channel:
        await declare_topology(channel, s.rabbit.delivery_limit)
    retry = RetryPolicy(budget=s.worker.retry_budget)
    pipeline = overrides.pipeline(
        Responder(connection), retry, poison_after=s.rabbit.poison_after
    )
    return _Shared(s, amqp_url, db, cache, connection, pipeline, resources)


async def _connect(url: str, name: str, resources: AsyncExitStack) -> AbstractRobustConnection:
    """A robust connection named ``name`` in the management UI, closed with the worker."""
    connection = await aio_pika.connect_robust(
        url, client_properties={"connection_name": name},
        connection_class=CoalescingRobustConnection,
    )
    resources.push_async_callback(connection.close)
    return connection


def _commands(shared: _Shared, *, wrap: Callable[[Run], Run]) -> CommandConsumer:
    """Every command and query subscriber, on a consuming connection of their own."""
    s = shared.settings
    broker = _broker(shared)
    uow = PgUnitOfWorkFactory(shared.db)
    bus = CommandBus(
        uow, shared.cache, group_size=s.worker.group_commit,
        groups_in_flight=s.worker.groups_in_flight,
    )
    runners = build_runners(uow, shared.cache, SystemClock(), UuidIds(), bus=bus)
    register_commands(
        broker,
        shared.pipeline,
        {key: wrap(run) for key, run in runners.items()},
        prefetch=s.rabbit.prefetch,
        delivery_limit=s.rabbit.delivery_limit,
    )
    commands = CommandConsumer(broker, shared.pipeline, bus)
    shared.resources.push_async_callback(commands.close)
    return commands


def _broker(shared: _Shared) -> RabbitBroker:
    broker = make_broker(
        shared.amqp_url,
        graceful_timeout=shared.settings.worker.shutdown_deadline,
        # connection_name is RabbitMQ's standard client property; FastStream's type omits it.
        client_properties=cast(Any, {"connection_name": "docbus-consume"}),
    )
    # FastStream hands its connection options to aio-pika's connect_robust but has no
    # parameter for this one: the acks of a loop turn in one write.
    broker._connection_kwargs["connection_class"] = CoalescingRobustConnection
    return broker


async def _audit(shared: _Shared) -> AuditConsumer:
    """The audit consumer, on a consuming connection of its own."""
    s = shared.settings
    connection = await _connect(shared.amqp_url, "docbus-audit", shared.resources)
    return AuditConsumer(
        connection,
        RecordAuditEntry(PgAuditLog(shared.db)),
        shared.pipeline,
        RetryPolicy(budget=s.worker.retry_budget),
        prefetch=s.rabbit.audit_prefetch,
        poison_after=s.rabbit.poison_after,
    )


def _relay(shared: _Shared, overrides: Overrides) -> RelayLoop:
    """The outbox relay, publishing on the publishing connection."""
    publisher = RabbitEventPublisher(shared.connection, on_failure=metrics.PUBLISH_FAILURES.inc)
    batch = shared.settings.worker.relay_batch
    relay = RelayOutbox(
        overrides.outbox(PgOutbox(shared.db)), overrides.publisher(publisher), shared.cache,
        batch=batch,
    )
    return RelayLoop(relay, shared.db, batch=batch)
