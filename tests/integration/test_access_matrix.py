"""The authorization matrix (tests/access_matrix.py) on PostgreSQL with the real cache
(Valkey), through the worker's own runners: each body validated by its schema, run by the
runner of its routing key (command bus or query handler) as the subscribers do.

For each case:
- the answer is the contract's: ``ok``, ``forbidden`` (only where the actor may read the
  thing) or ``not_found``;
- a denial reveals nothing: the same message about an object that does not exist gets
  the same code and the same message (ids aside);
- a denial has no effect and no event: every row of the org (memberships, folders,
  documents, versions, document and folder shares) is as before, and no outbox row;
- a denied query is asked right after an admin asked the same (the cache is warm with a
  reply that must not be served to this actor); the expired grantee read everything while
  their grants were live, so cached replies that outlive an expiry would show;
- an allowed command has its effect and exactly its event(s); an allowed query changes
  nothing and shows only what the actor may see.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from docbus.adapters.postgres import PgDatabase, PgUnitOfWorkFactory
from docbus.adapters.postgres.misses import PgMissedInvalidations
from docbus.adapters.valkey_cache import ValkeyReplyCache, make_client
from docbus.consumers.bootstrap import SystemClock, UuidIds
from docbus.consumers.pipeline import Run
from docbus.consumers.schemas.inbound import INBOUND
from docbus.consumers.subscribers import build_runners
from docbus.consumers.topology import ROUTES
from tests.access_matrix import (
    ACTORS,
    ALLOWED,
    CASES,
    DENIED,
    MEMBERSHIP_ROUTES,
    OK,
    SNAPSHOT,
    USER,
    Body,
    Case,
    Site,
    Spec,
    build_base,
    build_expiring,
    build_extras,
    members,
)
from tests.fixtures.valkey import cleanup_prefix

pytestmark = pytest.mark.integration


class Driver:
    """Messages through the worker's runners, as the subscribers hand them over."""

    def __init__(self, db: PgDatabase, cache: ValkeyReplyCache) -> None:
        self.runners: dict[str, Run] = build_runners(
            PgUnitOfWorkFactory(db), cache, SystemClock(), UuidIds(), cursor_key=b"matrix"
        )

    async def send(self, routing_key: str, body: Body) -> Body:
        validated = INBOUND[routing_key].model_validate(body)
        raw = SimpleNamespace(message_id=uuid.uuid4().hex, user_id="matrix",
                              routing_key=routing_key, redelivered=False)
        reply: Body = orjson.loads(await self.runners[routing_key](validated, raw))
        return reply

    async def ok(self, routing_key: str, body: Body) -> Any:
        reply = await self.send(routing_key, body)
        assert reply["ok"], (routing_key, body, reply)
        return reply["data"]


@dataclass
class World:
    db: PgDatabase
    driver: Driver
    prefix: str
    sites: dict[str, Site]
    """The expired grantee's sites, built ahead (their grants had to expire)."""
    watermark: int = 0
    """The last outbox row before the case's message (nothing else writes meanwhile)."""

    def site(self, name: str) -> Site:
        return Site(f"{self.prefix}{name}-", f"{self.prefix}acme", f"{self.prefix}globex",
                    f"{self.prefix}T", {**{a: f"{self.prefix}{u}" for a, u in USER.items()},
                                        "dave": f"{self.prefix}dave"})

    async def build(self, spec: Spec, name: str, exa_until: datetime | None = None) -> Site:
        site = self.site(name)
        await build_base(self.driver.ok, site)
        if exa_until is not None:
            await build_expiring(self.driver.ok, site, exa_until)
        await build_extras(self.driver.ok, site, spec.setup)
        return site

    async def snapshot(self) -> list[tuple[str, str]]:
        rows = await self.db.fetch(SNAPSHOT, f"{self.prefix}%")
        return [(r[0], r[1]) for r in rows]

    async def outbox(self) -> list[str]:
        rows = await self.db.fetch("SELECT routing_key FROM outbox WHERE id > $1 ORDER BY id",
                                   self.watermark)
        return [r[0] for r in rows]


@pytest.fixture(scope="module")
async def world(pg_url: str, valkey_url: str) -> AsyncIterator[World]:
    db = await PgDatabase.connect(pg_url, min_size=1, max_size=4, command_timeout=10)
    prefix = f"x{uuid.uuid4().hex[:8]}-"
    cache = ValkeyReplyCache(make_client(valkey_url, 1.0), PgMissedInvalidations(db),
                             prefix=f"docbus-test:{prefix}")
    world = World(db, Driver(db, cache), prefix, {})
    try:
        await populate(world)
        yield world
    finally:
        await cache.aclose()
        await cleanup_prefix(valkey_url, f"docbus-test:{prefix}")
        await db.close()


async def populate(world: World) -> None:
    """The org, its members, the move target, and the expired grantee's sites: owner
    grants expiring a few seconds from now, read through while live, then expired."""
    site, send = world.site("org"), world.driver.ok
    for org, user, role in members(site):
        await send("org.member.set", {"org_id": org, "user_id": user, "role": role})
    await send("folder.create", {"folder_id": site.target, "org_id": site.org,
                                 "parent_id": None, "name": "T", "actor_id": site.user("owner")})
    expiring = [case for case in CASES if case.actor == "expired"]
    until = datetime.now(UTC) + timedelta(seconds=3 + 0.15 * len(expiring))
    for n, case in enumerate(expiring):
        world.sites[case.id] = built = await world.build(case.spec, str(n), until)
        exa = built.user("expired")
        if not case.spec.setup:  # the grant was live: the expired grantee read the document
            assert (await world.driver.ok("document.get", {"doc_id": built.doc,
                                                           "user_id": exa}))["doc_id"]
        if case.spec.query:  # and asked this very query (its reply may be cached)
            await world.driver.send(case.spec.routing_key, case.spec.body(built, "expired"))
    await asyncio.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 0.1)


def test_the_matrix_covers_every_message_type_and_actor() -> None:
    routes = {case.spec.routing_key for case in CASES} | set(MEMBERSHIP_ROUTES)
    assert routes == {route.routing_key for route in ROUTES}
    assert {case.actor for case in CASES} == set(ACTORS)
    print(f"access matrix: {len(CASES)} actor cases ({ALLOWED} allowed, {DENIED} denied)"
          f" + {len(MEMBERSHIP_ROUTES)} membership cases")


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
async def test_access_matrix(world: World, case: Case) -> None:
    site = world.sites.get(case.id) or await world.build(case.spec, uuid.uuid4().hex[:6])
    spec, send = case.spec, world.driver.send
    body = spec.body(site, case.actor)
    if spec.query and case.expected != OK:  # an admin's reply is cached just before
        assert (await send(spec.routing_key, spec.body(site, "admin")))["ok"]
    before = await world.snapshot()
    world.watermark = int(await world.db.fetchval("SELECT coalesce(max(id), 0) FROM outbox"))
    reply = await send(spec.routing_key, body)
    if case.expected == OK:
        assert reply["ok"], reply
        await allowed(world, case, site, reply["data"], before)
        return
    assert not reply["ok"] and reply["error"]["code"] == case.expected, reply
    if case.expected == "not_found" and spec.ghost is not None:
        ghost = f"{site.prefix}ghost"
        unknown = await send(spec.routing_key, {**body, spec.ghost: ghost})
        assert unknown["error"]["code"] == "not_found", unknown
        real = str(body[spec.ghost])
        assert unknown["error"]["message"].replace(ghost, real) == reply["error"]["message"]
        assert unknown["error"]["details"] == reply["error"]["details"]
    assert await world.snapshot() == before
    assert await world.outbox() == []


async def allowed(world: World, case: Case, site: Site, data: Body,
                  before: list[tuple[str, str]]) -> None:
    if case.spec.query:
        if case.spec.shows is not None:
            case.spec.shows(site, case.actor, data)
        assert await world.snapshot() == before
        assert await world.outbox() == []
        return
    assert await world.snapshot() != before
    events = await world.outbox()
    head = case.spec.routing_key.split(".")[0]
    assert events and all(e.startswith((head, "document.")) for e in events), events


async def test_a_membership_set_in_another_org_gives_nothing_here(world: World) -> None:
    site = await world.build(Spec("document.get", "", lambda s, a: {}, lambda a: OK, None),
                             "member-set")
    mallory = site.user("other_org")
    before = await world.snapshot()
    world.watermark = int(await world.db.fetchval("SELECT coalesce(max(id), 0) FROM outbox"))
    await world.driver.ok("org.member.set", {"org_id": site.other_org, "user_id": mallory,
                                             "role": "member"})
    await world.driver.ok("org.member.set", {"org_id": site.other_org, "user_id": mallory,
                                             "role": "admin"})
    assert await world.outbox() == ["org.member.changed"] * 2
    after = await world.snapshot()
    assert [r for r in after if site.org in r[1]] == [r for r in before if site.org in r[1]]
    reply = await world.driver.send("document.get", {"doc_id": site.doc, "user_id": mallory})
    assert reply["error"]["code"] == "not_found"


async def test_a_membership_removed_in_another_org_changes_nothing_here(world: World) -> None:
    site = await world.build(Spec("document.get", "", lambda s, a: {}, lambda a: OK, None),
                             "member-remove")
    alice = site.user("owner")
    before = await world.snapshot()
    world.watermark = int(await world.db.fetchval("SELECT coalesce(max(id), 0) FROM outbox"))
    data = await world.driver.ok("org.member.remove", {"org_id": site.other_org,
                                                       "user_id": alice})
    assert data == {"org_id": site.other_org, "user_id": alice, "role": None}
    assert await world.snapshot() == before
    assert await world.outbox() == []
    assert (await world.driver.ok("document.get", {"doc_id": site.doc,
                                                   "user_id": alice}))["doc_id"] == site.doc
