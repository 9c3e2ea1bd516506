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

import orjson
import structlog
from aio_pika.abc import AbstractRobustConnection
from faststream.rabbit import RabbitBroker
from opentelemetry.sdk.trace import TracerProvider
from valkey.asyncio import Valkey

from docbus.adapters import amqp_decoding
from docbus.adapters.amqp_failover import connect_failover, connection_options
from docbus.adapters.amqp_transport import deepen_write_queues
from docbus.adapters.postgres.attempts import PgAttemptLog
from docbus.adapters.postgres.audit import PgAuditLog
from docbus.adapters.postgres.database import PgDatabase
from docbus.adapters.postgres.grouped_unit import PgGroupedUnitFactory
from docbus.adapters.postgres.misses import PgMissedInvalidations
from docbus.adapters.postgres.outbox import PgOutbox
from docbus.adapters.postgres.unit_of_work import PgUnitOfWorkFactory
from docbus.adapters.rabbit_publisher import RabbitEventPublisher
from docbus.adapters.tracing import TracedReplyCache, Tracing
from docbus.adapters.valkey_cache import CircuitBreaker, ValkeyReplyCache, make_client
from docbus.adapters.valkey_streams import (
    StreamGroupReader,
    ValkeyStreamPublisher,
    make_streams_client,
)
from docbus.consumers import gc_policy, metrics, readiness
from docbus.consumers.audit_consumer import AuditConsumer
from docbus.consumers.background import HealthService, Maintenance, RelayLoop
from docbus.consumers.health import HealthServer, Readiness
from docbus.consumers.pipeline import Pipeline, RetryPolicy, Run
from docbus.consumers.responder import Responder
from docbus.consumers.settings import DEVELOPMENT_CURSOR_KEY, Settings, mask_url, with_query
from docbus.consumers.streams_audit import StreamsAuditConsumer
from docbus.consumers.subscribers import (
    CommandConsumer,
    build_runners,
    make_broker,
    register_commands,
)
from docbus.consumers.sweeper import SweepLoop
from docbus.consumers.telemetry import telemetry, tracing_mode
from docbus.consumers.topology import DEAD_QUEUE_NAME, QueueShape, declare_topology
from docbus.consumers.worker import ROLES, Consumer, Service, Worker
from docbus.core.decisions import AccessDecider, BuiltInDecider
from docbus.core.ports import RABBITMQ, VALKEY_STREAMS, EventPublisher, Outbox, ReplyCache
from docbus.handlers.bus import CommandBus
from docbus.handlers.group_commit import GroupCommit
from docbus.handlers.record_audit import RecordAuditEntry
from docbus.handlers.relay_outbox import RelayOutbox
from docbus.handlers.sweep_grants import SweepExpiredGrants
from docbus.handlers.sweep_trash import SweepTrash

T = TypeVar("T")
log = structlog.get_logger("docbus.relay")


def same(part: T) -> T:
    return part


class PipelineFactory(Protocol):
    def __call__(
        self, responder: Responder, retry: RetryPolicy, *, poison_after: int,
        tracing: Tracing | None,
    ) -> Pipeline:
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
    tracer_provider: TracerProvider | None = None
    """Traces with this provider (its exporter: the test's), whatever the settings say."""


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
    gc_policy.settle(settings.worker.gc_thresholds, freeze=settings.worker.gc_freeze)
    await worker.run_until_signalled()


@dataclass(frozen=True)
class _Shared:
    """What every role is built on."""

    settings: Settings
    amqp_urls: list[str]
    """Every node's URL, with the heartbeat."""
    db: PgDatabase
    cache: ValkeyReplyCache
    connection: AbstractRobustConnection
    """The publishing connection: replies, dead letters, events."""
    pipeline: Pipeline
    resources: AsyncExitStack
    tracing: Tracing | None
    """The spans' maker; None: tracing is off (the context is only passed on)."""

    @property
    def traced_cache(self) -> ReplyCache:
        """The cache as the use cases and the relay call it (in spans when tracing)."""
        if self.tracing is None:
            return self.cache
        return TracedReplyCache(self.cache, self.tracing)
    streams: Valkey | None
    """The Valkey Streams client, when events go there (DOCBUS_EVENT_TRANSPORTS)."""
    decider: AccessDecider
    """Who decides access (DOCBUS_ACCESS_DECIDER): every unit of work asks it."""


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
        if isinstance(audit, AuditConsumer):  # the stream reader has no AMQP connection
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
        "event_transports": list(s.worker.transports()),
        "audit_source": s.worker.audit_source,
        "access_decider": s.access.access_decider
        + (f" ({s.cerbos.address})" if s.access.access_decider == "cerbos" else ""),
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
    traced = telemetry(tracing_mode(s.worker.tracing), overrides.tracer_provider)
    if traced is not None:  # closed after the AMQP connections (their last spans flushed)
        resources.callback(traced.close)
    cache = ValkeyReplyCache(
        make_client(s.valkey.url, s.valkey.timeout),
        PgMissedInvalidations(db),
        ttl_seconds=s.valkey.ttl,
        breaker=CircuitBreaker(open_seconds=s.valkey.breaker_open_seconds),
    )
    resources.push_async_callback(cache.aclose)
    cache_figures = metrics.counting("docbus_cache", "Reply cache", lambda: asdict(cache.stats()))
    resources.callback(metrics.forget, cache_figures)
    amqp_urls = [with_query(url, heartbeat=s.rabbit.heartbeat) for url in s.rabbit.urls()]
    # Before any connection: a value pamqp cannot decode must cost its message only, not
    # the connection (every consumer, the relay, the replies) that received it.
    amqp_decoding.install()
    deepen_write_queues()
    # The first connection waits (within the budget) for a node; the others find it up.
    connection = await _connect(
        s, amqp_urls, "docbus-publish", resources, budget=s.rabbit.connect_budget
    )
    await declare_topology(
        connection, _shape(s), audit_bound=s.worker.audit_source == RABBITMQ
    )
    retry = RetryPolicy(budget=s.worker.retry_budget)
    tracing = None if traced is None else traced.tracing
    pipeline = overrides.pipeline(
        Responder(connection), retry, poison_after=s.rabbit.poison_after, tracing=tracing
    )
    pipeline.count_attempts(PgAttemptLog(db))
    streams = _streams(s, resources)
    decider = _decider(s, resources)
    return _Shared(
        s, amqp_urls, db, cache, connection, pipeline, resources, tracing, streams, decider
    )


def _decider(s: Settings, resources: AsyncExitStack) -> AccessDecider:
    """The built-in rule, or Cerbos (its gRPC channel closed with the worker)."""
    if s.access.access_decider == "builtin":
        return BuiltInDecider(SystemClock().now)
    from docbus.adapters import cerbos_decider  # grpc: ~20 MiB, for Cerbos only

    client = cerbos_decider.connect(s.cerbos.address)
    resources.push_async_callback(client.close)
    return cerbos_decider.CerbosDecider(client, SystemClock().now, timeout=s.cerbos.timeout)


def _streams(s: Settings, resources: AsyncExitStack) -> Valkey | None:
    """The streams client, when the relay writes or the audit reads Valkey Streams."""
    if VALKEY_STREAMS not in s.worker.transports():
        if s.worker.audit_source == VALKEY_STREAMS:
            raise ValueError("DOCBUS_AUDIT_SOURCE=valkey-streams needs it among"
                             " DOCBUS_EVENT_TRANSPORTS")
        return None
    client = make_streams_client(s.streams.url or s.valkey.url, s.streams.timeout)
    resources.push_async_callback(client.aclose)
    return client


def _shape(s: Settings) -> QueueShape:
    return QueueShape(
        delivery_limit=s.rabbit.delivery_limit,
        leader_locator=s.rabbit.leader_locator,
        initial_group_size=s.rabbit.initial_group_size,
        declare=s.rabbit.declare_queues,
    )


async def _connect(
    s: Settings, urls: list[str], name: str, resources: AsyncExitStack, *, budget: float = 0.0
) -> AbstractRobustConnection:
    """A robust connection named ``name`` in the management UI, closed with the worker; it
    fails over to the next live node of ``urls`` (adapters/amqp_failover.py)."""
    connection = await connect_failover(
        urls, name, reconnect_interval=s.rabbit.reconnect_interval, budget=budget
    )
    resources.push_async_callback(connection.close)
    return connection


def _commands(shared: _Shared, *, wrap: Callable[[Run], Run]) -> CommandConsumer:
    """Every command and query subscriber, on a consuming connection of their own."""
    s = shared.settings
    broker = _broker(shared)
    uow = PgUnitOfWorkFactory(shared.db, shared.decider)
    cache = shared.traced_cache
    bus = GroupCommit(
        CommandBus(uow, cache, encode=orjson.dumps),
        PgGroupedUnitFactory(shared.db, shared.decider),
        cache, group_size=s.worker.group_commit,
        groups_in_flight=s.worker.groups_in_flight, on_commit=metrics.GROUP_SIZE.observe,
    )
    figures = metrics.counting("docbus_group_commit", "Group commit", lambda: {
        "groups": bus.groups, "grouped_commands": bus.grouped, "splits": bus.split,
    })
    shared.resources.callback(metrics.forget, figures)
    runners = build_runners(
        uow, cache, SystemClock(), UuidIds(), bus=bus,
        cursor_key=s.worker.cursor_key.get_secret_value().encode(),
    )
    if shared.tracing is not None:
        runners = {key: traced(shared.tracing, key, run) for key, run in runners.items()}
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


def traced(tracing: Tracing, key: str, run: Run) -> Run:
    """``run`` in the span of its use case (whose context the events it emits keep)."""

    async def run_traced(body: Any, raw: Any) -> bytes:
        with tracing.use_case(key):
            return await run(body, raw)

    return run_traced


def _broker(shared: _Shared) -> RabbitBroker:
    broker = make_broker(
        shared.amqp_urls[0],
        graceful_timeout=shared.settings.worker.shutdown_deadline,
        # connection_name is RabbitMQ's standard client property; FastStream's type omits it.
        client_properties=cast(Any, {"connection_name": "docbus-consume"}),
    )
    # FastStream hands its connection options to aio-pika's connect_robust but has no
    # parameter for these: every node of the cluster (failover), the reconnect interval,
    # and the coalescing transport (the acks of a loop turn in one write).
    broker._connection_kwargs.update(
        connection_options(shared.amqp_urls, shared.settings.rabbit.reconnect_interval)
    )
    return broker


async def _audit(shared: _Shared) -> AuditConsumer | StreamsAuditConsumer:
    """The audit consumer, on a consuming connection of its own (or on the stream)."""
    s = shared.settings
    if shared.streams is not None and s.worker.audit_source == VALKEY_STREAMS:
        reader = StreamGroupReader(
            shared.streams, s.streams.stream, s.streams.audit_group, f"docbus-{uuid.uuid4()}"
        )
        audit = StreamsAuditConsumer(
            reader, RecordAuditEntry(PgAuditLog(shared.db)),
            RetryPolicy(budget=s.worker.retry_budget), batch=s.streams.audit_batch,
            block_ms=s.streams.block_ms, reclaim_idle_ms=s.streams.reclaim_idle_ms,
        )
        shared.resources.push_async_callback(audit.close)
        return audit
    connection = await _connect(
        s, shared.amqp_urls, "docbus-audit", shared.resources, budget=s.rabbit.connect_budget
    )
    return AuditConsumer(
        connection,
        RecordAuditEntry(PgAuditLog(shared.db)),
        shared.pipeline,
        RetryPolicy(budget=s.worker.retry_budget),
        prefetch=s.rabbit.audit_prefetch,
        tracing=shared.tracing,
    )


def _relay(shared: _Shared, overrides: Overrides) -> RelayLoop:
    """The outbox relay, publishing on the publishing connection (and to the stream)."""
    s = shared.settings
    transports = s.worker.transports()
    publishers = {t: overrides.publisher(_publisher(shared, t)) for t in transports}
    relay = RelayOutbox(
        overrides.outbox(PgOutbox(shared.db, transports)), publishers, shared.traced_cache,
        batch=s.worker.relay_batch, on_failure=_transport_failed,
    )
    return RelayLoop(relay, shared.db, batch=s.worker.relay_batch)


def _publisher(shared: _Shared, transport: str) -> EventPublisher:
    if transport == RABBITMQ:
        return RabbitEventPublisher(
            shared.connection, on_failure=metrics.PUBLISH_FAILURES.inc, tracing=shared.tracing
        )
    assert shared.streams is not None  # _streams made it: the transport is configured
    s = shared.settings.streams
    return ValkeyStreamPublisher(
        shared.streams, s.stream, maxlen=s.maxlen, dedup_seconds=s.dedup_seconds
    )


def _transport_failed(transport: str, error: BaseException | None) -> None:
    """One transport failed while others go on: it rests, its events wait (visible here)."""
    metrics.PUBLISH_FAILURES.inc()
    log.warning("event_transport_failed", transport=transport, error=repr(error))


def _sweeper(shared: _Shared) -> SweepLoop:
    """The trash retention sweeper (contract v2), with the commands role."""
    s = shared.settings.worker
    sweep = SweepTrash(
        PgUnitOfWorkFactory(shared.db, shared.decider), shared.cache, SystemClock(), UuidIds(),
        retention=timedelta(days=s.trash_retention_days), batch=s.trash_sweep_batch,
    )
    return SweepLoop(sweep, interval=s.trash_sweep_seconds, name="trash")


def _grant_sweeper(shared: _Shared) -> SweepLoop:
    """The share expiry sweeper (contract v2), with the commands role."""
    s = shared.settings.worker
    sweep = SweepExpiredGrants(
        PgUnitOfWorkFactory(shared.db, shared.decider), shared.cache, SystemClock(), UuidIds(),
        batch=s.grant_sweep_batch,
    )
    return SweepLoop(sweep, interval=s.grant_sweep_seconds, name="grant_expiry")
