"""The composition root: builds every adapter and use case, runs the worker, stops it.

``Worker`` wires PostgreSQL, Valkey and RabbitMQ to the use cases and runs up to three
roles in one process: ``commands`` (every command and query subscriber), ``relay`` (the
outbox relay) and ``audit`` (the audit consumer).

Shutdown (SIGTERM) in order, within ``DOCBUS_SHUTDOWN_DEADLINE``: stop consuming
(basic.cancel, so the broker sends nothing new), finish the deliveries in flight
(each is acknowledged as usual), drain the outbox, then close connections. Nothing is
left unacknowledged, so a deploy causes no redelivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import signal
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import aio_pika
import structlog
from aio_pika.abc import AbstractRobustConnection
from faststream.rabbit import RabbitBroker

from adapters.amqp_transport import CoalescingRobustConnection, deepen_write_queues
from adapters.postgres.audit import PgAuditLog
from adapters.postgres.database import PgDatabase
from adapters.postgres.misses import PgMissedInvalidations, PgMissedInvalidationsListener
from adapters.postgres.outbox import PgOutbox, PgOutboxListener, outbox_backlog
from adapters.postgres.repositories import prune_inbox
from adapters.postgres.unit_of_work import PgUnitOfWorkFactory
from adapters.rabbit_publisher import RabbitEventPublisher
from adapters.valkey_cache import CircuitBreaker, ValkeyReplyCache, make_client
from consumers import metrics
from consumers.audit_consumer import AuditConsumer
from consumers.faults import CrashingOutbox, CrashingPublisher, CrashPoints
from consumers.pipeline import Pipeline, RetryPolicy
from consumers.responder import Responder
from consumers.settings import Settings, with_query
from consumers.subscribers import build_runners, make_broker, register_commands
from consumers.topology import declare_topology
from core.errors import Unavailable
from core.ports import EventPublisher, Outbox
from handlers.bus import CommandBus
from handlers.record_audit import RecordAuditEntry
from handlers.relay_outbox import RelayOutbox
from handlers.sweep_trash import SweepTrash

log = structlog.get_logger("docbus.worker")
ROLES = frozenset({"commands", "relay", "audit"})


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class UuidIds:
    def new_id(self) -> str:
        return str(uuid.uuid4())


@dataclass
class Worker:
    settings: Settings
    roles: frozenset[str] = ROLES
    db: PgDatabase | None = None
    connection: AbstractRobustConnection | None = None
    broker: RabbitBroker | None = None
    pipeline: Pipeline | None = None
    relay: RelayOutbox | None = None
    cache: ValkeyReplyCache | None = None
    bus: CommandBus | None = None
    audit: AuditConsumer | None = None
    audit_connection: AbstractRobustConnection | None = None
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        s = self.settings
        crash = CrashPoints(s.worker.crash_at)
        self.db = await PgDatabase.connect(
            s.database.url,
            min_size=s.database.pool_min,
            max_size=s.database.pool_max,
            command_timeout=s.database.command_timeout,
        )
        self.cache = ValkeyReplyCache(
            make_client(s.valkey.url, s.valkey.timeout),
            PgMissedInvalidations(self.db),
            ttl_seconds=s.valkey.ttl,
            breaker=CircuitBreaker(open_seconds=s.valkey.breaker_open_seconds),
        )
        amqp_url = with_query(s.rabbit.url, heartbeat=s.rabbit.heartbeat)
        deepen_write_queues()
        self.connection = await aio_pika.connect_robust(
            amqp_url,
            client_properties={"connection_name": "docbus-publish"},
            connection_class=CoalescingRobustConnection,
        )
        async with self.connection.channel() as channel:
            await declare_topology(channel, s.rabbit.delivery_limit)
        responder = Responder(self.connection)
        self.pipeline = Pipeline(
            responder,
            RetryPolicy(budget=s.worker.retry_budget),
            poison_after=s.rabbit.poison_after,
            crash_points=crash,
        )
        self.broker = make_broker(
            amqp_url,
            graceful_timeout=s.worker.shutdown_deadline,
            # connection_name is RabbitMQ's standard client property; FastStream's type omits it.
            client_properties=cast(Any, {"connection_name": "docbus-consume"}),
        )
        # FastStream hands its connection options to aio-pika's connect_robust but has no
        # parameter for this one: the acks of a loop turn in one write.
        self.broker._connection_kwargs["connection_class"] = CoalescingRobustConnection
        uow = PgUnitOfWorkFactory(self.db)
        if "commands" in self.roles:
            self._register_commands(uow)
            self._spawn(self._sweep_loop(uow))
        await self.broker.start()
        if "audit" in self.roles:
            self.audit_connection = await aio_pika.connect_robust(
                amqp_url,
                client_properties={"connection_name": "docbus-audit"},
                connection_class=CoalescingRobustConnection,
            )
            self.audit = AuditConsumer(
                self.audit_connection,
                RecordAuditEntry(PgAuditLog(self.db)),
                self.pipeline,
                RetryPolicy(budget=s.worker.retry_budget),
                prefetch=s.rabbit.audit_prefetch,
                poison_after=s.rabbit.poison_after,
            )
            await self.audit.start()
        if "relay" in self.roles:
            outbox: Outbox = CrashingOutbox(
                PgOutbox(self.db), crash, naive=s.worker.faults_naive_relay
            )
            publisher: EventPublisher = CrashingPublisher(
                RabbitEventPublisher(self.connection), crash
            )
            self.relay = RelayOutbox(outbox, publisher, self.cache, batch=s.worker.relay_batch)
            self._spawn(self._relay_loop())
        self._spawn(self._maintenance_loop())
        metrics.serve(s.worker.metrics_port)
        log.info("worker_started", roles=sorted(self.roles))

    def _register_commands(self, uow: PgUnitOfWorkFactory) -> None:
        assert self.broker is not None
        assert self.pipeline is not None
        assert self.cache is not None
        self.bus = CommandBus(
            uow, self.cache, group_size=self.settings.worker.group_commit,
            groups_in_flight=self.settings.worker.groups_in_flight,
        )
        register_commands(
            self.broker,
            self.pipeline,
            build_runners(uow, self.cache, SystemClock(), UuidIds(), bus=self.bus),
            prefetch=self.settings.rabbit.prefetch,
            delivery_limit=self.settings.rabbit.delivery_limit,
        )

    def _spawn(self, coro: Any) -> None:
        self._tasks.append(asyncio.create_task(coro))

    async def _relay_loop(self) -> None:
        assert self.db is not None
        assert self.relay is not None
        async with PgOutboxListener(self.db) as listener:
            while not self._stopping.is_set():
                await self._relay_round()
                await listener.wait(timeout=0.5)

    async def _relay_round(self) -> int:
        """Publish until the outbox is empty (or a round publishes nothing)."""
        assert self.relay
        total = 0
        delay = 0.05
        while True:
            try:
                sent = await self.relay()
            except Unavailable as error:
                log.warning("relay_unavailable", error=str(error))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                return total
            except Exception:
                # Anything else (e.g. the broker connection is down while aio-pika
                # reconnects) must not end the relay task: its rows stay for the next round.
                log.exception("relay_failed")
                await asyncio.sleep(0.5)
                return total
            total += sent
            metrics.EVENTS_RELAYED.inc(sent)
            if sent < self.settings.worker.relay_batch:
                return total

    async def _sweep_loop(self, uow: PgUnitOfWorkFactory) -> None:
        """Purge what stayed in the trash past the retention (one sweeper at a time across
        workers: the others find the lock taken and wait for the next round)."""
        assert self.cache is not None
        s = self.settings.worker
        sweep = SweepTrash(
            uow, self.cache, SystemClock(), UuidIds(),
            retention=timedelta(days=s.trash_retention_days), batch=s.trash_sweep_batch,
        )
        while not self._stopping.is_set():
            try:
                if swept := await sweep.until_done():
                    log.info("trash_swept", items=swept)
            except Exception:
                log.warning("trash_sweep_failed", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), s.trash_sweep_seconds)

    async def _maintenance_loop(self) -> None:
        """Apply missed cache invalidations (at once when another worker records one, and
        every second anyway) and prune the inbox past its retention (every minute)."""
        assert self.db is not None
        assert self.cache is not None
        last_prune = 0.0
        async with PgMissedInvalidationsListener(self.db) as missed:
            while not self._stopping.is_set():
                with contextlib.suppress(Exception):
                    await self.cache.repair()
                await self._observe()
                if time.monotonic() - last_prune > 60:
                    last_prune = time.monotonic()
                    await self._prune_inbox()
                await missed.wait(timeout=1.0)

    async def _observe(self) -> None:
        """Refresh the gauges that are read rather than counted."""
        assert self.db is not None
        assert self.cache is not None
        stats = dataclasses.asdict(self.cache.stats())
        for figure, value in stats.items():
            if isinstance(value, int):
                metrics.CACHE.labels(figure).set(value)
        if self.bus is not None:
            metrics.GROUP_COMMIT.labels("groups").set(self.bus.groups)
            metrics.GROUP_COMMIT.labels("grouped_commands").set(self.bus.grouped)
            metrics.GROUP_COMMIT.labels("split").set(self.bus.split)
        with contextlib.suppress(Exception):
            metrics.OUTBOX_BACKLOG.set(await outbox_backlog(self.db))

    async def _prune_inbox(self) -> None:
        assert self.db is not None
        retention = timedelta(hours=self.settings.worker.inbox_retention_hours)
        try:
            pruned = await prune_inbox(self.db, datetime.now(UTC) - retention)
        except Exception:
            log.warning("inbox_prune_failed", exc_info=True)
            return
        if pruned:
            log.info("inbox_pruned", rows=pruned)

    async def stop(self) -> None:
        """Stop consuming, finish in-flight deliveries, drain the outbox, close."""
        deadline = time.monotonic() + self.settings.worker.shutdown_deadline
        log.info("worker_stopping")
        if self.broker is not None:
            await stop_consuming(self.broker)
        if self.audit is not None:
            await self.audit.stop_consuming()
        if self.pipeline is not None and not await self.pipeline.drained(_left(deadline)):
            log.error("shutdown_deadline_passed", in_flight=self.pipeline.in_flight)
        if self.audit is not None and not await self.audit.drained(_left(deadline)):
            log.error("shutdown_deadline_passed", consumer="audit")
        self._stopping.set()
        for task in self._tasks:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                async with asyncio.timeout(_left(deadline)):
                    await task
        if self.relay is not None:
            with contextlib.suppress(Exception, TimeoutError):
                async with asyncio.timeout(_left(deadline)):
                    await self._relay_round()
        await self.close()
        if self.bus is not None:
            log.info(
                "worker_stopped", groups=self.bus.groups, grouped_commands=self.bus.grouped,
                groups_split=self.bus.split,
            )
        else:
            log.info("worker_stopped")

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self.broker is not None:
            await self.broker.stop()
        if self.audit_connection is not None:
            await self.audit_connection.close()
        if self.connection is not None:
            await self.connection.close()
        if self.cache is not None:
            await self.cache.aclose()
        if self.db is not None:
            await self.db.close()

    async def run_until_signalled(self) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await self.start()
        await stop.wait()
        await self.stop()


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


def _left(deadline: float) -> float:
    return max(0.1, deadline - time.monotonic())
