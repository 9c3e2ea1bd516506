"""The ReplyCache contract, run over the in-memory fake, Valkey 8 and Redis 7.

The real variants use the embedded valkey-server and the Redis at 127.0.0.1:6379
(skipped when absent), each test under a key prefix of its own, deleted afterwards.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import orjson
import pytest
from valkey.asyncio import Valkey

from docbus.adapters.memory import (
    InMemoryDatabase,
    InMemoryMissedInvalidations,
    InMemoryReplyCache,
    InMemoryUnitOfWork,
    InMemoryUnitOfWorkFactory,
)
from docbus.adapters.valkey_cache import ValkeyReplyCache, make_client
from docbus.core.cursor import CursorCodec
from docbus.core.entities import Folder
from docbus.core.ports import ReplyCache
from docbus.core.values import OrgRole
from docbus.handlers.list_folder import ListFolder, ListFolderHandler
from tests.fixtures.valkey import cleanup_prefix

pytestmark = pytest.mark.integration

DOC, USER, FOLDER = "d:doc-1", "u:alice", "f:reports"


@dataclass
class Subject:
    cache: ReplyCache
    evict_versions: Callable[[], Awaitable[None]]  # what eviction could do to version keys


async def _no_eviction() -> None:
    """The fake keeps every version: nothing to evict."""


@pytest.fixture(params=["memory", "valkey", "redis"])
async def subject(request: pytest.FixtureRequest, key_prefix: str) -> AsyncIterator[Subject]:
    if request.param == "memory":
        yield Subject(InMemoryReplyCache(), _no_eviction)
        return
    url: str = request.getfixturevalue(f"{request.param}_url")
    admin = Valkey.from_url(url)
    misses = InMemoryMissedInvalidations()
    cache = ValkeyReplyCache(make_client(url, 1.0), misses, prefix=key_prefix)

    async def evict_versions() -> None:
        keys = [k async for k in admin.scan_iter(match=f"{key_prefix}v:*")]
        assert keys
        await admin.delete(*keys)

    yield Subject(cache, evict_versions)
    await cache.aclose()
    await admin.aclose()
    await cleanup_prefix(url, key_prefix)


async def test_a_miss_then_a_fill_then_a_hit(subject: Subject) -> None:
    cache = subject.cache
    first = await cache.lookup("doc:1:alice", (DOC, USER))
    assert first.value is None
    assert first.token is not None
    await cache.fill("doc:1:alice", first.token, b'{"ok":true}')
    assert (await cache.lookup("doc:1:alice", (DOC, USER))).value == b'{"ok":true}'


async def test_a_fill_without_a_token_stores_nothing(subject: Subject) -> None:
    await subject.cache.fill("doc:1:alice", None, b"value")
    assert (await subject.cache.lookup("doc:1:alice", (DOC, USER))).value is None


async def test_names_and_scopes_are_independent(subject: Subject) -> None:
    cache = subject.cache
    await _put(cache, "doc:1:alice", (DOC, USER), b"one")
    await _put(cache, "list:reports:bob", (FOLDER, "u:bob"), b"two")
    assert (await cache.lookup("doc:1:bob", (DOC, "u:bob"))).value is None
    await cache.invalidate([FOLDER, "u:bob"])
    assert (await cache.lookup("doc:1:alice", (DOC, USER))).value == b"one"
    assert (await cache.lookup("list:reports:bob", (FOLDER, "u:bob"))).value is None


@pytest.mark.parametrize("changed", [DOC, USER])
async def test_invalidating_any_one_scope_hides_the_value(subject: Subject, changed: str) -> None:
    cache = subject.cache
    await _put(cache, "doc:1:alice", (DOC, USER), b"before")
    await cache.invalidate([changed])
    assert (await cache.lookup("doc:1:alice", (DOC, USER))).value is None


async def test_a_fill_loaded_before_an_invalidation_is_never_served(subject: Subject) -> None:
    """A reader looks up, reads the database, a write commits and invalidates, and only
    then does the reader fill: its value is older than the write."""
    cache = subject.cache
    before = await cache.lookup("doc:1:alice", (DOC, USER))
    await cache.invalidate([DOC])
    await cache.fill("doc:1:alice", before.token, b"stale")
    after = await cache.lookup("doc:1:alice", (DOC, USER))
    assert after.value is None
    await cache.fill("doc:1:alice", after.token, b"fresh")
    assert (await cache.lookup("doc:1:alice", (DOC, USER))).value == b"fresh"


async def test_an_evicted_version_does_not_bring_back_an_old_value(subject: Subject) -> None:
    cache = subject.cache
    await _put(cache, "doc:1:alice", (DOC, USER), b"old")
    await cache.invalidate([DOC])
    await _put(cache, "doc:1:alice", (DOC, USER), b"new")
    await subject.evict_versions()
    assert (await cache.lookup("doc:1:alice", (DOC, USER))).value != b"old"


async def test_an_empty_value_is_a_hit(subject: Subject) -> None:
    await _put(subject.cache, "doc:1:alice", (DOC, USER), b"")
    assert (await subject.cache.lookup("doc:1:alice", (DOC, USER))).value == b""


async def test_values_come_back_byte_for_byte(subject: Subject) -> None:
    value = bytes(range(256)) * 4096  # 1 MiB, not UTF-8
    await _put(subject.cache, "doc:1:alice", (DOC, USER), value)
    assert (await subject.cache.lookup("doc:1:alice", (DOC, USER))).value == value


async def test_an_empty_listing_is_served_from_the_cache(subject: Subject) -> None:
    db = InMemoryDatabase()
    db.state.folders["reports"] = Folder.root("reports", "acme", "reports")
    db.state.memberships[("acme", "alice")] = OrgRole.MEMBER
    units = CountingUnits(db)
    list_folder = ListFolderHandler(
        units, subject.cache, orjson.dumps, CursorCodec(b"integration-test-key")
    )
    first = await list_folder(ListFolder("reports", "alice"))
    second = await list_folder(ListFolder("reports", "alice"))
    assert orjson.loads(first)["data"]["documents"] == []
    assert (second, units.opened) == (first, 1)


class CountingUnits(InMemoryUnitOfWorkFactory):
    def __init__(self, db: InMemoryDatabase) -> None:
        super().__init__(db)
        self.opened = 0

    def __call__(self, *, read_only: bool = False) -> InMemoryUnitOfWork:
        self.opened += 1
        return super().__call__(read_only=read_only)


async def _put(cache: ReplyCache, name: str, scopes: tuple[str, ...], value: bytes) -> None:
    found = await cache.lookup(name, scopes)
    await cache.fill(name, found.token, value)
