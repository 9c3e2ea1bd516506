"""Cached replies never outlive the writes they depend on.

The contract: once a command's reply (or, without reply_to, its event) is out, every later
query reflects it. Each scenario therefore warms the cache, writes through the bus, and
reads again, twice over: right after the reply ("reply") and after the relay published
the event ("event").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

import pytest

from docbus.adapters.memory import InMemoryOutbox, InMemoryReplyCache, RecordingEventPublisher
from docbus.core.values import OrgRole, Role
from docbus.handlers.create_folder import CreateFolder
from docbus.handlers.relay_outbox import RelayOutbox
from tests.unit.conftest import (
    ADA,
    ALICE,
    ARCHIVE,
    BOB,
    CAROL,
    DAVE,
    NOBODY,
    ORG,
    World,
)

MOMENTS = [
    pytest.param(False, id="reply"),
    pytest.param(True, id="event"),
]


async def relay(world: World) -> None:
    await RelayOutbox(InMemoryOutbox(world.db), RecordingEventPublisher(), world.cache)()


async def settle(world: World, after_event: bool) -> None:
    if after_event:
        await relay(world)


@pytest.mark.parametrize("after_event", MOMENTS)
async def test_a_listing_shows_a_new_upload(world: World, after_event: bool) -> None:
    assert await world.listed(ALICE) == []
    await world.upload("d1")
    await settle(world, after_event)
    assert await world.listed(ALICE) == ["d1"]


@pytest.mark.parametrize("after_event", MOMENTS)
async def test_a_get_shows_a_new_version(world: World, after_event: bool) -> None:
    await world.upload("d1")
    await relay(world)
    assert (await world.get("d1", ALICE))["data"]["version"] == 1
    await world.upload("d1")
    await settle(world, after_event)
    reply = await world.get("d1", ALICE)
    assert reply["data"]["version"] == 2
    assert len(reply["data"]["versions"]) == 2


@pytest.mark.parametrize("after_event", MOMENTS)
async def test_a_new_share_shows_in_the_sharees_get_and_listing(
    shared_doc: World, after_event: bool
) -> None:
    assert (await shared_doc.get("d1", DAVE))["error"]["code"] == "not_found"
    assert await shared_doc.listed(DAVE) == []
    await shared_doc.share("d1", DAVE, Role.VIEWER)
    await settle(shared_doc, after_event)
    assert (await shared_doc.get("d1", DAVE))["ok"]
    assert await shared_doc.listed(DAVE) == ["d1"]


@pytest.mark.parametrize("after_event", MOMENTS)
async def test_a_revoked_share_makes_the_next_get_not_found(
    shared_doc: World, after_event: bool
) -> None:
    assert (await shared_doc.get("d1", CAROL))["ok"]
    assert await shared_doc.listed(CAROL) == ["d1"]
    await shared_doc.revoke("d1", CAROL)
    await settle(shared_doc, after_event)
    assert (await shared_doc.get("d1", CAROL))["error"]["code"] == "not_found"
    assert await shared_doc.listed(CAROL) == []


@pytest.mark.parametrize("after_event", MOMENTS)
async def test_removing_a_membership_hides_everything_at_once(
    shared_doc: World, after_event: bool
) -> None:
    await shared_doc.upload("d2", by=BOB, folder_id=ARCHIVE)
    await relay(shared_doc)
    assert (await shared_doc.get("d1", BOB))["ok"]
    assert (await shared_doc.get("d2", BOB))["ok"]
    assert await shared_doc.listed(BOB) == ["d1"]
    assert await shared_doc.listed(BOB, ARCHIVE) == ["d2"]
    await shared_doc.remove_member(BOB)
    await settle(shared_doc, after_event)
    assert (await shared_doc.get("d1", BOB))["error"]["code"] == "not_found"
    assert (await shared_doc.get("d2", BOB))["error"]["code"] == "not_found"
    assert (await shared_doc.listing(BOB))["error"]["code"] == "not_found"
    assert (await shared_doc.listing(BOB, ARCHIVE))["error"]["code"] == "not_found"


@pytest.mark.parametrize("after_event", MOMENTS)
async def test_becoming_admin_shows_every_document_at_once(
    shared_doc: World, after_event: bool
) -> None:
    assert await shared_doc.listed(DAVE) == []
    await shared_doc.set_member(DAVE, OrgRole.ADMIN)
    await settle(shared_doc, after_event)
    assert await shared_doc.listed(DAVE) == ["d1"]
    assert (await shared_doc.get("d1", DAVE))["ok"]


@pytest.mark.parametrize("after_event", MOMENTS)
async def test_joining_the_org_turns_a_cached_not_found_listing_into_a_listing(
    world: World, after_event: bool
) -> None:
    assert (await world.listing(NOBODY))["error"]["code"] == "not_found"
    await world.set_member(NOBODY)
    await settle(world, after_event)
    assert (await world.listing(NOBODY))["ok"]


@pytest.mark.parametrize("after_event", MOMENTS)
async def test_creating_a_folder_replaces_a_cached_not_found_listing(
    world: World, after_event: bool
) -> None:
    assert (await world.listing(ALICE, "f-new"))["error"]["code"] == "not_found"
    await world.run(CreateFolder("f-new", ORG, None, "new", ALICE))
    await settle(world, after_event)
    assert (await world.listing(ALICE, "f-new"))["ok"]


async def test_writes_by_others_do_not_evict_unrelated_entries(shared_doc: World) -> None:
    await shared_doc.upload("d2", folder_id=ARCHIVE)
    await relay(shared_doc)
    await shared_doc.listed(ADA)
    await shared_doc.share("d2", BOB, Role.VIEWER)
    await relay(shared_doc)
    hits = shared_doc.cache.hits
    await shared_doc.listed(ADA)
    assert shared_doc.cache.hits == hits + 1


class RacingCache(InMemoryReplyCache):
    """Runs a write between a query's database read and its fill, once."""

    def __init__(self) -> None:
        super().__init__()
        self.before_fill: Callable[[], Awaitable[None]] | None = None

    async def fill(
        self, name: str, token: str | None, value: bytes, *, until: datetime | None = None
    ) -> None:
        hook, self.before_fill = self.before_fill, None
        if hook is not None:
            await hook()
        await super().fill(name, token, value, until=until)


async def _race(world: World, write: Callable[[], Awaitable[object]], after_event: bool) -> None:
    async def commit_and_invalidate() -> None:
        await write()
        await settle(world, after_event)

    assert isinstance(world.cache, RacingCache)
    world.cache.before_fill = commit_and_invalidate


@pytest.mark.parametrize("after_event", MOMENTS)
async def test_a_get_filled_with_a_value_read_before_a_revoke_is_never_served(
    after_event: bool,
) -> None:
    world = World(cache=RacingCache())
    await world.upload("d1")
    await world.share("d1", CAROL, Role.VIEWER)
    await relay(world)
    await _race(world, lambda: world.revoke("d1", CAROL), after_event)
    assert (await world.get("d1", CAROL))["ok"]  # read before the revoke committed
    assert (await world.get("d1", CAROL))["error"]["code"] == "not_found"
    assert (await world.get("d1", CAROL))["error"]["code"] == "not_found"


@pytest.mark.parametrize("after_event", MOMENTS)
async def test_a_listing_filled_with_a_value_read_before_an_upload_is_never_served(
    after_event: bool,
) -> None:
    world = World(cache=RacingCache())
    await _race(world, lambda: world.upload("d1"), after_event)
    assert await world.listed(ALICE) == []  # read before the upload committed
    assert await world.listed(ALICE) == ["d1"]


async def test_with_the_cache_down_queries_and_commands_use_the_database(
    shared_doc: World,
) -> None:
    shared_doc.cache.available = False
    assert (await shared_doc.upload("d2")).decoded["ok"]
    assert (await shared_doc.share("d2", CAROL, Role.EDITOR)).decoded["ok"]
    assert sorted(await shared_doc.listed(CAROL)) == ["d1", "d2"]
    assert (await shared_doc.get("d2", CAROL))["data"]["version"] == 1
    await shared_doc.revoke("d1", CAROL)
    assert await shared_doc.listed(CAROL) == ["d2"]
    assert (await shared_doc.get("d1", CAROL))["error"]["code"] == "not_found"
    assert shared_doc.cache.values == {}
    assert shared_doc.cache.hits == 0


@pytest.mark.parametrize("after_event", MOMENTS)
async def test_a_value_cached_before_an_outage_is_not_served_after_a_write_during_it(
    shared_doc: World, after_event: bool
) -> None:
    assert (await shared_doc.get("d1", CAROL))["ok"]
    shared_doc.cache.available = False
    await shared_doc.revoke("d1", CAROL)
    await settle(shared_doc, after_event)
    shared_doc.cache.available = True
    assert (await shared_doc.get("d1", CAROL))["error"]["code"] == "not_found"


async def test_duplicate_deliveries_repair_an_invalidation_the_first_one_missed(
    shared_doc: World,
) -> None:
    assert (await shared_doc.get("d1", CAROL))["ok"]
    shared_doc.cache.available = False
    await shared_doc.revoke("d1", CAROL, message_id="m1")
    shared_doc.cache.available = True
    await shared_doc.revoke("d1", CAROL, message_id="m1")  # the broker redelivers
    assert (await shared_doc.get("d1", CAROL))["error"]["code"] == "not_found"

