"""The worker's readiness probes: what ``/readyz`` checks (see consumers/health.py).

Required: PostgreSQL answers, every broker connection of the worker is up, every command
subscriber holds a consumer on an open channel, and the outbox backlog is under its
threshold. Optional (down = degraded): the Valkey cache. Each probe also sets the
``docbus_connection_up`` gauge of its server.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from aio_pika.abc import AbstractRobustConnection
from faststream.rabbit import RabbitBroker

from docbus.adapters.postgres.database import PgDatabase
from docbus.adapters.postgres.outbox import outbox_backlog
from docbus.adapters.valkey_cache import ValkeyReplyCache
from docbus.consumers import metrics
from docbus.consumers.health import Probe


def _gauged(server: str, check: Callable[[], Awaitable[bool]]) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        try:
            up = await check()
        except Exception:
            up = False
        metrics.CONNECTION_UP.labels(server).set(1 if up else 0)
        return up

    return probe


def postgres(db: PgDatabase) -> Probe:
    async def check() -> bool:
        return bool(await db.fetchval("SELECT 1") == 1)

    return Probe("postgresql", _gauged("postgresql", check))


def rabbitmq(connections: Sequence[AbstractRobustConnection]) -> Probe:
    async def check() -> bool:
        return all(c.connected.is_set() and not c.is_closed for c in connections)

    return Probe("rabbitmq", _gauged("rabbitmq", check))


def consumers(broker: RabbitBroker) -> Probe:
    """Every subscriber's consumer is registered on an open channel (the worker's own view,
    never the broker's consumer count, which lags behind a node loss)."""

    async def check() -> bool:
        connection = getattr(broker, "_connection", None)  # FastStream's consuming connection
        if connection is None or connection.is_closed or not connection.connected.is_set():
            return False
        for subscriber in broker.subscribers:
            queue = getattr(subscriber, "_queue_obj", None)
            if queue is None or getattr(subscriber, "_consumer_tag", None) is None:
                return False
            if queue.channel.is_closed:
                return False
        return True

    return Probe("consumers", check)


def outbox(db: PgDatabase, threshold: int) -> Probe:
    async def check() -> bool:
        return await outbox_backlog(db) < threshold

    return Probe("outbox", check)


def valkey(cache: ValkeyReplyCache) -> Probe:
    return Probe("valkey", _gauged("valkey", cache.ping), required=False)
