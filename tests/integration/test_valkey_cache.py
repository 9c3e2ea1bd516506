"""ValkeyReplyCache on the real servers (Valkey 8 and Redis 7): what the fake cannot show."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from valkey.asyncio import Valkey

from docbus.adapters.memory import InMemoryMissedInvalidations
from docbus.adapters.valkey_cache import ValkeyReplyCache, make_client
from tests.fixtures.valkey import cleanup_prefix

pytestmark = pytest.mark.integration

NAME, SCOPES = "doc:1:alice", ("d:doc-1", "u:alice")
Workers = Callable[..., ValkeyReplyCache]


@pytest.fixture(params=["valkey", "redis"])
def url(request: pytest.FixtureRequest) -> str:
    found: str = request.getfixturevalue(f"{request.param}_url")
    return found


@pytest.fixture
async def admin(url: str) -> AsyncIterator[Valkey]:
    async with Valkey.from_url(url) as client:
        yield client


@pytest.fixture
async def worker(url: str, key_prefix: str) -> AsyncIterator[Workers]:
    """Makes caches sharing the server and the prefix, as separate workers would."""
    made: list[ValkeyReplyCache] = []

    def new(prefix: str = key_prefix, ttl_seconds: int = 300) -> ValkeyReplyCache:
        made.append(ValkeyReplyCache(
            make_client(url, 1.0), InMemoryMissedInvalidations(), prefix=prefix,
            ttl_seconds=ttl_seconds,
        ))
        return made[-1]

    yield new
    for cache in made:
        await cache.aclose()
    await cleanup_prefix(url, key_prefix)


async def put(cache: ValkeyReplyCache, value: bytes) -> None:
    found = await cache.lookup(NAME, SCOPES)
    await cache.fill(NAME, found.token, value)


async def test_a_worker_sees_the_invalidations_of_another(worker: Workers) -> None:
    reader, writer = worker(), worker()
    await put(reader, b"old")
    assert (await writer.lookup(NAME, SCOPES)).value == b"old"
    await writer.invalidate(["u:alice"])
    assert (await reader.lookup(NAME, SCOPES)).value is None


async def test_replies_expire_after_the_ttl_and_versions_after_four(
    worker: Workers, admin: Valkey, key_prefix: str
) -> None:
    await put(worker(ttl_seconds=60), b"reply")
    [value_key] = await admin.keys(f"{key_prefix}r:*")
    version_keys = await admin.keys(f"{key_prefix}v:*")
    assert 55 <= await admin.ttl(value_key) <= 60
    assert [235 <= await admin.ttl(k) <= 240 for k in version_keys] == [True, True]


async def test_versions_are_random_tokens(worker: Workers, admin: Valkey, key_prefix: str) -> None:
    cache = worker()
    await cache.lookup(NAME, SCOPES)
    before = await admin.get(f"{key_prefix}v:d:doc-1")
    await cache.invalidate(["d:doc-1"])
    after = await admin.get(f"{key_prefix}v:d:doc-1")
    assert before != after
    assert [len(v or b"") for v in (before, after)] == [12, 12]


async def test_lookups_survive_a_flushed_script_cache(worker: Workers, admin: Valkey) -> None:
    cache = worker()
    await put(cache, b"reply")
    await admin.script_flush()
    assert (await cache.lookup(NAME, SCOPES)).value == b"reply"
    assert cache.stats().breaker == "closed"


async def test_a_flush_deletes_only_keys_under_the_prefix(
    worker: Workers, admin: Valkey, key_prefix: str
) -> None:
    """A first use flushes the prefix (nobody vouched for it): nothing else may go."""
    outside, inside = f"{key_prefix[:-1]}-other", f"{key_prefix}[x]:leftover"
    await admin.set(outside, b"keep", ex=60)
    await admin.set(inside, b"drop", ex=60)
    try:
        cache = worker(prefix=f"{key_prefix}[x]:")
        await cache.lookup(NAME, SCOPES)
        assert (await admin.get(outside), await admin.get(inside)) == (b"keep", None)
    finally:
        await admin.delete(outside)


async def test_stats_count_hits_and_misses(worker: Workers) -> None:
    cache = worker()
    await put(cache, b"reply")
    await cache.lookup(NAME, SCOPES)
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.errors, stats.breaker) == (1, 1, 0, "closed")
