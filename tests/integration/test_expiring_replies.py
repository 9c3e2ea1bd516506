"""Cached replies that depended on an expiring grant never outlive it (contract v2,
section 5): on the real cache (Valkey 8 and Redis 7), and through the query handlers over
real PostgreSQL, a reply stops being served at the grant's expires_at."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from docbus.adapters.memory import InMemoryMissedInvalidations
from docbus.adapters.valkey_cache import ValkeyReplyCache, make_client
from tests.fixtures.valkey import cleanup_prefix

pytestmark = pytest.mark.integration

NAME, SCOPES = "doc:1:alice", ("d:doc-1", "u:alice")


@pytest.fixture(params=["valkey", "redis"])
async def cache(request: pytest.FixtureRequest, key_prefix: str) -> AsyncIterator[ValkeyReplyCache]:
    url: str = request.getfixturevalue(f"{request.param}_url")
    made = ValkeyReplyCache(make_client(url, 1.0), InMemoryMissedInvalidations(), prefix=key_prefix)
    yield made
    await made.aclose()
    await cleanup_prefix(url, key_prefix)


async def fill(cache: ValkeyReplyCache, until: datetime | None) -> None:
    found = await cache.lookup(NAME, SCOPES)
    await cache.fill(NAME, found.token, b"reply", until=until)


async def test_a_reply_is_gone_at_the_expiry_it_depended_on(cache: ValkeyReplyCache) -> None:
    await fill(cache, datetime.now(UTC) + timedelta(milliseconds=400))
    assert (await cache.lookup(NAME, SCOPES)).value == b"reply"
    await asyncio.sleep(0.5)
    assert (await cache.lookup(NAME, SCOPES)).value is None


async def test_a_reply_whose_grant_expired_already_is_not_stored(cache: ValkeyReplyCache) -> None:
    await fill(cache, datetime.now(UTC) - timedelta(milliseconds=1))
    assert (await cache.lookup(NAME, SCOPES)).value is None


async def test_a_far_expiry_keeps_the_usual_ttl(cache: ValkeyReplyCache) -> None:
    await fill(cache, datetime.now(UTC) + timedelta(days=30))
    assert (await cache.lookup(NAME, SCOPES)).value == b"reply"
