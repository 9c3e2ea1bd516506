"""Events on Valkey Streams: the relay's events/s to RabbitMQ only, to the stream only, and
to both (DOCBUS_EVENT_TRANSPORTS=rabbitmq,valkey-streams).

The relay runs here, in the bench's process, as the worker builds it (PgOutbox, the
RabbitMQ publisher with confirms, the stream publisher, the reply cache), on a database
and a vhost of its own: the run's worker relays the run's outbox, and must neither take
these events nor audit them. Rules:

- each side fills the outbox with ``events`` committed events (two cache scopes each, as
  an upload has), then times the relay until the outbox is empty;
- paired repetitions (bench.paired): every side once per repetition, the order
  alternating; the ratio ``stream_both_ratio`` (both over RabbitMQ only) is taken within
  each repetition;
- what a side published is removed before the next (the queue purged, the stream and its
  de-dup keys deleted), so every side starts from the same state.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping

import aio_pika
import orjson

from bench import paired
from bench.docbus_bench import Scenario
from bench.infra import AMQP_SERVER, PG_SERVER, rabbitmqctl
from bench.stats import BenchError
from docbus.adapters.postgres.database import PgDatabase
from docbus.adapters.postgres.migrate import drop_database, ensure_database, upgrade_async
from docbus.adapters.postgres.misses import PgMissedInvalidations
from docbus.adapters.postgres.outbox import WRITE_OUTBOX, PgOutbox
from docbus.adapters.rabbit_publisher import RabbitEventPublisher
from docbus.adapters.valkey_cache import ValkeyReplyCache, make_client
from docbus.adapters.valkey_streams import ValkeyStreamPublisher, make_streams_client
from docbus.consumers.topology import AUDIT_QUEUE_NAME, declare_topology
from docbus.core.ports import RABBITMQ, VALKEY_STREAMS, EventPublisher
from docbus.handlers.relay_outbox import RelayOutbox

EVENTS = {"smoke": 300, "default": 20_000, "full": 50_000}
BATCH = 500  # DOCBUS_RELAY_BATCH's default
SIDES = {"rabbit": (RABBITMQ,), "stream": (VALKEY_STREAMS,), "both": (RABBITMQ, VALKEY_STREAMS)}


class _World:
    """The phase's database, vhost, connections and stream key prefix."""

    def __init__(self, valkey_url: str) -> None:
        tag = uuid.uuid4().hex[:10]
        self.pg_url = f"{PG_SERVER}/docbus_bench_streams_{tag}"
        self.vhost = f"docbus-bench-streams-{tag}"
        self.prefix = f"docbus-bench-streams:{tag}:"
        self.valkey_url = valkey_url

    async def __aenter__(self) -> _World:
        await ensure_database(self.pg_url)
        await upgrade_async(self.pg_url)
        rabbitmqctl("add_vhost", self.vhost)
        rabbitmqctl("set_permissions", "-p", self.vhost, "guest", ".*", ".*", ".*")
        self.db = await PgDatabase.connect(self.pg_url, min_size=2, max_size=4)
        self.amqp = await aio_pika.connect_robust(f"{AMQP_SERVER}/{self.vhost}")
        await declare_topology(self.amqp, 20)  # doc.events, and docbus.audit bound to it
        self.streams = make_streams_client(self.valkey_url)
        self.cache = ValkeyReplyCache(make_client(self.valkey_url, 1.0),
                                      PgMissedInvalidations(self.db), prefix=self.prefix)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.cache.aclose()
        await self.streams.aclose()
        await self.amqp.close()
        await self.db.close()
        await drop_database(self.pg_url)
        rabbitmqctl("delete_vhost", self.vhost)

    async def fill(self, count: int) -> None:
        for start in range(0, count, 5000):
            ids = [str(uuid.uuid4()) for _ in range(start, min(start + 5000, count))]
            bodies = [orjson.dumps({
                "event_id": i, "type": "DocumentUploaded", "org_id": "bench-org",
                "occurred_at": "2026-12-01T00:00:00Z", "document": {"doc_id": i, "version": 1},
            }) for i in ids]
            scopes = [orjson.dumps([f"d:{i}", "f:bench-org:root"]).decode() for i in ids]
            await self.db.execute(WRITE_OUTBOX, ids, ["document.uploaded"] * len(ids), bodies,
                                  scopes, [None] * len(ids))

    def relay(self, transports: tuple[str, ...], stream: str) -> RelayOutbox:
        publishers: dict[str, EventPublisher] = {}
        if RABBITMQ in transports:
            publishers[RABBITMQ] = RabbitEventPublisher(self.amqp)
        if VALKEY_STREAMS in transports:
            publishers[VALKEY_STREAMS] = ValkeyStreamPublisher(
                self.streams, stream, maxlen=1_000_000, dedup_seconds=3600
            )
        return RelayOutbox(PgOutbox(self.db, transports), publishers, self.cache, BATCH)

    async def clear(self) -> None:
        async with self.amqp.channel() as channel:
            queue = await channel.declare_queue(AUDIT_QUEUE_NAME, passive=True)
            await queue.purge()
        keys = [k async for k in self.streams.scan_iter(match=f"{self.prefix}*", count=5000)]
        for start in range(0, len(keys), 5000):
            await self.streams.unlink(*keys[start:start + 5000])


async def _side(world: _World, name: str, count: int, rep: int) -> Mapping[str, float]:
    await world.fill(count)
    relay = world.relay(SIDES[name], f"{world.prefix}{rep}:{name}")
    started = time.perf_counter()
    while await relay() == BATCH:
        pass
    elapsed = time.perf_counter() - started
    left = await world.db.fetchval("SELECT count(*) FROM outbox")
    if left:
        raise BenchError(f"streams, {name}: {left} events still in the outbox")
    await world.clear()
    return {f"stream_{name}_per_s": count / elapsed}


def _bound(world: _World, name: str, count: int) -> paired.Side:
    async def side(rep: int) -> Mapping[str, float]:
        return await _side(world, name, count, rep)

    return side


async def streams(scenario: Scenario) -> dict[str, float]:
    """``stream_rabbit_per_s``, ``stream_stream_per_s``, ``stream_both_per_s`` (medians) and
    ``stream_both_ratio`` (both over RabbitMQ only, paired, with its spread)."""
    config = scenario.config
    count = EVENTS.get(config.mode, EVENTS["default"])
    async with _World(scenario.stack.valkey_url) as world:
        samples = await paired.repeat(
            config.repetitions, [_bound(world, name, count) for name in SIDES]
        )
    figures = paired.medians(samples)
    figures |= paired.ratio("stream_both_ratio", samples, "stream_both_per_s",
                            "stream_rabbit_per_s")
    figures["stream_events"] = float(count)
    return figures
