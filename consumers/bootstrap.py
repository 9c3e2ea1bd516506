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
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Protocol, TypeVar, cast

import aio_pika
import orjson
from aio_pika.abc import AbstractRobustConnection
from faststream.rabbit import RabbitBroker

from adapters import amqp_decoding
from adapters.amqp_transport import CoalescingRobustConnection, deepen_write_queues
from adapters.postgres.audit import PgAuditLog
from adapters.postgres.database import PgDatabase
from adapters.postgres.grouped_unit import PgGroupedUnitFactory
from adapters.postgres.misses import PgMissedInvalidations
from adapters.postgres.outbox import PgOutbox
from adapters.postgres.unit_of_work import PgUnitOfWorkFactory
from adapters.rabbit_publisher import RabbitEventPublisher
from adapters.valkey_cache import CircuitBreaker, ValkeyReplyCache, make_client
from consumers import metrics, readiness
from consumers.audit_consumer import AuditConsumer
from consumers.background import HealthService, Maintenance, RelayLoop
from consumers.health import HealthServer, Readiness
from consumers.pipeline import Pipeline, RetryPolicy, Run
from consumers.responder import Responder
from consumers.settings import DEVELOPMENT_CURSOR_KEY, Settings, mask_url, with_query
from consumers.subscribers import CommandConsumer, build_runners, make_broker, register_commands
from consumers.sweeper import GrantExpiryLoop, TrashSweepLoop
from consumers.topology import DEAD_QUEUE_NAME, declare_topology
from consumers.worker import ROLES, Consumer, Service, Worker
from core.ports import EventPublisher, Outbox
from handlers.bus import CommandBus
from handlers.group_commit import GroupCommit
from handlers.record_audit import RecordAuditEntry
from handlers.relay_outbox import RelayOutbox
from handlers.sweep_grants import SweepExpiredGrants
from handlers.sweep_trash import SweepTrash

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
    connections = [shared.connection]
    probes = [readiness.postgres(shared.db), readiness.valkey(shared.cache)]
    if "commands" in roles:
        commands = _commands(shared, wrap=overrides.runner)
        consumers.append(commands)
        probes.append(readiness.consumers(commands.broker))
    if "audit" in roles:
        audit = await _audit(shared)
        consumers.append(audit)
        connections.append(audit.connection)
    probes += [
        readiness.rabbitmq(connections),
        readiness.outbox(shared.db, s.worker.ready_outbox_backlog),
    ]
    services: list[Service] = [_relay(shared, overrides)] if "relay" in roles else []
    if "commands" in roles:
        services += [_sweeper(shared), _grant_sweeper(shared)]
    retention = timedelta(hours=s.worker.inbox_retention_hours)
    readings = [partial(_count_dead_letters, shared.connection)]
    services.append(Maintenance(shared.db, shared.cache, retention=retention, readings=readings))
    if s.worker.http_port:
        services.append(HealthService(HealthServer(
            Readiness(probes), s.worker.http_host, s.worker.http_port
        )))
    return Worker(
        consumers, services, resources, deadline=s.worker.shutdown_deadline, roles=roles,
        about=await _about(shared),
    )


async def _about(shared: _Shared) -> dict[str, object]:
    """The start-up line: what runs, against what (passwords masked)."""
    s = shared.settings
    try:
        migration = await shared.db.fetchval("SELECT version_num FROM alembic_version")
    except Exception:
        migration = None
    return {
        "version": metrics.BUILD_VERSION,
        "database": mask_url(s.database.url),
        "rabbitmq": mask_url(s.rabbit.url),
        "valkey": mask_url(s.valkey.url),
        "valkey_server": await shared.cache.server(),
        "migration": migration,
        "http": f"{s.worker.http_host}:{s.worker.http_port}" if s.worker.http_port else None,
        # make run needs no key; production must see here that it runs on the public one
        "cursor_key": "development (public; set DOCBUS_CURSOR_KEY)"
        if s.worker.cursor_key.get_secret_value() == DEVELOPMENT_CURSOR_KEY
        else "set",
    }


async def _count_dead_letters(connection: AbstractRobustConnection) -> None:
    """docbus_dead_letters: how many messages wait in docbus.dead (a passive declare)."""
    async with connection.channel() as channel:
        queue = await channel.declare_queue(DEAD_QUEUE_NAME, passive=True)
        metrics.DEAD_LETTERS.set(queue.declaration_result.message_count or 0)


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
    cache_figures = metrics.counting("docbus_cache", "Reply cache", lambda: asdict(cache.stats()))
    resources.callback(metrics.forget, cache_figures)
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
    bus = GroupCommit(
        CommandBus(uow, shared.cache, encode=orjson.dumps), PgGroupedUnitFactory(shared.db),
        shared.cache, group_size=s.worker.group_commit,
        groups_in_flight=s.worker.groups_in_flight, on_commit=metrics.GROUP_SIZE.observe,
    )
    figures = metrics.counting("docbus_group_commit", "Group commit", lambda: {
        "groups": bus.groups, "grouped_commands": bus.grouped, "splits": bus.split,
    })
    shared.resources.callback(metrics.forget, figures)
    runners = build_runners(
        uow, shared.cache, SystemClock(), UuidIds(), bus=bus,
        cursor_key=s.worker.cursor_key.get_secret_value().encode(),
    )
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


def _sweeper(shared: _Shared) -> TrashSweepLoop:
    """The trash retention sweeper (contract v2), with the commands role."""
    s = shared.settings.worker
    sweep = SweepTrash(
        PgUnitOfWorkFactory(shared.db), shared.cache, SystemClock(), UuidIds(),
        retention=timedelta(days=s.trash_retention_days), batch=s.trash_sweep_batch,
    )
    return TrashSweepLoop(sweep, interval=s.trash_sweep_seconds)


def _grant_sweeper(shared: _Shared) -> GrantExpiryLoop:
    """The share expiry sweeper (contract v2), with the commands role."""
    s = shared.settings.worker
    sweep = SweepExpiredGrants(
        PgUnitOfWorkFactory(shared.db), shared.cache, SystemClock(), UuidIds(),
        batch=s.grant_sweep_batch,
    )
    return GrantExpiryLoop(sweep, interval=s.grant_sweep_seconds)
