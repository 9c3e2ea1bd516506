"""ValkeyReplyCache when its server is stopped, restarted from a snapshot, or hung.

Each test runs its own valkey-server process (so it may stop, restart and SIGSTOP it)
and one or two workers: caches sharing that server, a key prefix and one record of
missed invalidations (the fake of the PostgreSQL table). Breakers run on a fake clock,
so "after open_seconds" is a call to ``advance`` rather than a sleep.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

import orjson
import pytest
from valkey.asyncio import Valkey

from docbus.adapters.circuit_breaker import CircuitBreaker
from docbus.adapters.memory import (
    InMemoryDatabase,
    InMemoryMissedInvalidations,
    InMemoryUnitOfWorkFactory,
)
from docbus.adapters.valkey_cache import ValkeyReplyCache, make_client
from docbus.core.cursor import CursorCodec
from docbus.core.entities import Folder
from docbus.core.errors import Unavailable
from docbus.core.ports import Lookup, MissedInvalidations
from docbus.core.values import OrgRole
from docbus.devtools.embedded_valkey import EmbeddedValkey, free_port, start_valkey
from docbus.handlers.list_folder import ListFolder, ListFolderHandler

pytestmark = pytest.mark.integration

TIMEOUT = 0.25
BOUND = 1.5  # what any call may cost while the server is away
NAME, DOC, USER = "doc:1:alice", "d:doc-1", "u:alice"
SCOPES = (DOC, USER)
T = TypeVar("T")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Server:
    """A valkey-server of the test's own, restartable on the same port and directory."""

    def __init__(self, data_dir: Path) -> None:
        self.port, self.data_dir = free_port(), str(data_dir)
        self.process: EmbeddedValkey = start_valkey("127.0.0.1", self.port, data_dir=self.data_dir)
        self.url = self.process.url

    def restart(self) -> None:
        self.process.stop()
        self.process = start_valkey("127.0.0.1", self.port, data_dir=self.data_dir)


class Workers:
    """Caches as separate workers would hold them: own client, own breaker, shared rest."""

    def __init__(self, url: str, prefix: str, misses: MissedInvalidations) -> None:
        self.url, self.prefix, self.misses = url, prefix, misses
        self.clock = FakeClock()
        self.made: list[tuple[ValkeyReplyCache, Valkey]] = []

    def new(self, misses: MissedInvalidations | None = None) -> ValkeyReplyCache:
        client = make_client(self.url, TIMEOUT)
        breaker = CircuitBreaker(open_seconds=1.0, clock=self.clock)
        cache = ValkeyReplyCache(
            client, misses or self.misses, prefix=self.prefix, breaker=breaker
        )
        self.made.append((cache, client))
        return cache

    def client(self, cache: ValkeyReplyCache) -> Valkey:
        return next(client for made, client in self.made if made is cache)

    async def close(self) -> None:
        for cache, _ in self.made:
            await cache.aclose()


class DownMissedInvalidations:
    """The PostgreSQL record, unreachable."""

    async def record(self, scopes: Sequence[str]) -> None:
        raise ConnectionRefusedError("postgres down")

    async def pending(self, limit: int = 1000) -> list[tuple[int, str]]:
        raise ConnectionRefusedError("postgres down")

    async def resolved(self, ids: Sequence[int]) -> None:
        raise ConnectionRefusedError("postgres down")


class SlowToRecord(InMemoryMissedInvalidations):
    """The PostgreSQL record, taking its time to commit a row."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def record(self, scopes: Sequence[str]) -> None:
        await self.release.wait()
        await super().record(scopes)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    own = Server(tmp_path)
    yield own
    own.process.stop()


@pytest.fixture
def misses() -> InMemoryMissedInvalidations:
    return InMemoryMissedInvalidations()


@pytest.fixture
async def workers(
    server: Server, key_prefix: str, misses: InMemoryMissedInvalidations
) -> AsyncIterator[Workers]:
    made = Workers(server.url, key_prefix, misses)
    yield made
    await made.close()


async def timed(call: Awaitable[T]) -> tuple[T, float]:
    started = time.perf_counter()
    result = await call
    return result, time.perf_counter() - started


async def put(cache: ValkeyReplyCache, value: bytes) -> None:
    found = await cache.lookup(NAME, SCOPES)
    await cache.fill(NAME, found.token, value)
    assert (await cache.lookup(NAME, SCOPES)).value == value


async def test_a_stopped_server_turns_every_call_into_a_quick_miss(
    server: Server, workers: Workers, misses: InMemoryMissedInvalidations
) -> None:
    cache = workers.new()
    await put(cache, b"cached")
    server.process.stop()
    for _ in range(3):
        found, took = await timed(cache.lookup(NAME, SCOPES))
        assert (found, took < BOUND) == (Lookup(None, None), True)
    _, took = await timed(cache.fill(NAME, "anything", b"x"))
    _, took_invalidate = await timed(cache.invalidate([DOC, USER]))
    assert (took < BOUND, took_invalidate < BOUND) == (True, True)
    assert sorted(misses.rows.values()) == [DOC, USER]
    assert cache.stats().breaker == "open"


async def test_queries_are_answered_from_the_database_while_the_server_is_down(
    server: Server, workers: Workers
) -> None:
    db = InMemoryDatabase()
    db.state.folders["reports"] = Folder.root("reports", "acme", "reports")
    db.state.memberships[("acme", "alice")] = OrgRole.MEMBER
    list_folder = ListFolderHandler(
        InMemoryUnitOfWorkFactory(db), workers.new(), orjson.dumps,
        CursorCodec(b"integration-test-key"),
    )
    server.process.stop()
    reply, took = await timed(list_folder(ListFolder("reports", "alice")))
    assert orjson.loads(reply)["ok"] is True
    assert took < BOUND


async def restore_stale_snapshot(
    server: Server, prefix: str, cached: ValkeyReplyCache, writer: ValkeyReplyCache
) -> None:
    """The server comes back from a snapshot older than an acknowledged invalidation."""
    await put(cached, b"old")
    async with Valkey.from_url(server.url) as admin:
        await admin.save()
    await writer.invalidate([DOC])
    server.restart()
    async with Valkey.from_url(server.url) as admin:
        assert await admin.keys(f"{prefix}r:*") != []  # the old reply is back


async def test_a_server_restarted_from_an_old_snapshot_is_flushed_before_any_hit(
    server: Server, workers: Workers, key_prefix: str
) -> None:
    reader, writer = workers.new(), workers.new()
    await workers.client(reader).connection_pool.disconnect()  # to connect afresh later
    await restore_stale_snapshot(server, key_prefix, reader, writer)
    flushes = reader.stats().flushes
    assert (await reader.lookup(NAME, SCOPES)).value is None  # closed breaker, new connection
    workers.clock.advance(1.0)
    found = await reader.lookup(NAME, SCOPES)
    assert (found.value, reader.stats().flushes) == (None, flushes + 1)
    async with Valkey.from_url(server.url) as admin:
        assert await admin.keys(f"{key_prefix}r:*") == []
    await reader.fill(NAME, found.token, b"new")
    assert (await reader.lookup(NAME, SCOPES)).value == b"new"


async def test_a_worker_started_after_a_restart_from_an_old_snapshot_serves_nothing_old(
    server: Server, workers: Workers, key_prefix: str
) -> None:
    await restore_stale_snapshot(server, key_prefix, workers.new(), workers.new())
    newcomer = workers.new()
    assert (await newcomer.lookup(NAME, SCOPES)).value is None
    assert newcomer.stats().flushes == 1


async def test_invalidations_missed_during_an_outage_are_applied_before_the_next_hit(
    server: Server, workers: Workers, misses: InMemoryMissedInvalidations
) -> None:
    cache = workers.new()
    await put(cache, b"old")
    server.process.stop()
    await cache.invalidate([DOC])
    server.restart()  # empty, but the breaker cannot know that
    workers.clock.advance(1.0)
    assert (await cache.lookup(NAME, SCOPES)).value is None
    assert (misses.rows, cache.stats().repaired, cache.stats().breaker) == ({}, 1, "closed")


async def test_a_hung_server_costs_one_timeout_and_serves_nothing_stale_after(
    server: Server, workers: Workers, misses: InMemoryMissedInvalidations
) -> None:
    writer, reader = workers.new(), workers.new()
    await put(reader, b"before")
    await writer.lookup("warm-up", [USER])
    server.process.pause()
    try:
        _, took_invalidate = await timed(writer.invalidate([DOC]))
        found, took_lookup = await timed(reader.lookup(NAME, SCOPES))
        _, took_fill = await timed(reader.fill(NAME, "whatever", b"x"))
        _, took_open = await timed(reader.lookup(NAME, SCOPES))
    finally:
        server.process.resume()
    assert found == Lookup(None, None)
    assert max(took_invalidate, took_lookup, took_fill) < BOUND
    assert took_open < 0.01
    assert list(misses.rows.values()) == [DOC]
    workers.clock.advance(1.0)
    after = await reader.lookup(NAME, SCOPES)
    assert (after.value, misses.rows, reader.stats().breaker) == (None, {}, "closed")
    await writer.repair()  # the writer's probe: it re-applies its own missed invalidation
    after = await reader.lookup(NAME, SCOPES)
    await reader.fill(NAME, after.token, b"after")
    assert (await writer.lookup(NAME, SCOPES)).value == b"after"


async def test_repair_applies_an_invalidation_another_worker_missed(
    workers: Workers, misses: InMemoryMissedInvalidations
) -> None:
    cache = workers.new()
    await put(cache, b"old")
    await misses.record([DOC])  # what a worker cut off from the server did
    assert (await cache.repair(), misses.rows) == (1, {})
    assert (await cache.lookup(NAME, SCOPES)).value is None


async def test_repair_turns_the_cache_off_when_it_cannot_apply_missed_invalidations(
    server: Server, workers: Workers, misses: InMemoryMissedInvalidations
) -> None:
    cache = workers.new()
    await put(cache, b"old")
    server.process.stop()
    await misses.record([DOC])
    assert await cache.repair() == 0
    assert (cache.stats().breaker, list(misses.rows.values())) == ("open", [DOC])


async def test_an_invalidation_that_can_be_neither_applied_nor_recorded_is_unavailable(
    server: Server, workers: Workers
) -> None:
    cache = workers.new(DownMissedInvalidations())
    server.process.stop()
    with pytest.raises(Unavailable):
        await cache.invalidate([DOC])
    assert (await cache.lookup(NAME, SCOPES)) == Lookup(None, None)
    await cache.fill(NAME, "token", b"x")


async def test_the_cache_stays_off_while_missed_invalidations_cannot_be_read(
    workers: Workers,
) -> None:
    cache = workers.new(DownMissedInvalidations())
    assert await cache.lookup(NAME, SCOPES) == Lookup(None, None)
    workers.clock.advance(1.0)
    assert await cache.lookup(NAME, SCOPES) == Lookup(None, None)
    assert cache.stats().breaker == "open"


async def test_an_invalidation_still_being_recorded_when_the_cache_recovers_is_not_lost(
    server: Server, workers: Workers
) -> None:
    misses = SlowToRecord()
    cache = workers.new(misses)
    await put(cache, b"old")
    server.process.pause()
    await cache.lookup(NAME, SCOPES)  # times out: the breaker opens
    server.process.resume()
    recording = asyncio.create_task(cache.invalidate([DOC]))
    await asyncio.sleep(0.01)
    workers.clock.advance(1.0)
    assert (await cache.lookup(NAME, SCOPES)).value is None  # the probe found no record yet
    assert cache.stats().breaker == "closed"
    misses.release.set()
    await recording
    assert (await cache.lookup(NAME, SCOPES)).value is None
