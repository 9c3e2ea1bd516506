"""The authorization matrix (tests/access_matrix.py) through a real worker, with a plain
AMQP client: every message type, asked by the three actors who hold nothing on the
document and its folders (the expired grantee, a non-member, another org's admin), each
on a site of its own. Every answer is the contract's; a denied query is asked right
after the owner's (the worker's cache is warm); the expired grantee read the document and
asked the very query while the grants were live (the expired grantee's allowed commands,
a new folder or document, are left to the integration matrix); afterwards no row of the
org changed and no event was published but the expiry events, exactly one per grant.

The full matrix (every actor, every check) runs on PostgreSQL with the real cache in
tests/integration/test_access_matrix.py.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from tests.access_matrix import (
    OK,
    SNAPSHOT,
    SPECS,
    USER,
    Body,
    Site,
    build_base,
    build_expiring,
    build_extras,
    members,
)
from tests.e2e.conftest import Client, EventTap

pytestmark = pytest.mark.e2e

STRANGERS = ("expired", "nonmember", "other_org")
EXPIRED = ("document.share.expired", "folder.share.expired")


def site_of(uid: str, n: int) -> Site:
    p = f"m{uid}-"
    return Site(f"{p}{n}-", f"{p}acme", f"{p}globex", f"{p}T",
                {**{a: f"{p}{u}" for a, u in USER.items()}, "dave": f"{p}dave"})


async def snapshot(pg_url: str, prefix: str) -> list[tuple[str, str]]:
    url = make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(url)
    try:
        return [(r[0], r[1]) for r in await conn.fetch(SNAPSHOT, f"{prefix}%")]
    finally:
        await conn.close()


async def test_strangers_get_the_contracts_answer_and_change_nothing(
    client: Client, events: EventTap, uid: str, worker_pg_url: str
) -> None:
    async def send(routing_key: str, body: Body) -> Any:
        reply = await client.request(routing_key, body)
        assert reply["ok"], (routing_key, body, reply)
        return reply["data"]

    sites = [site_of(uid, n) for n in range(len(SPECS))]
    first = sites[0]
    for org, user, role in members(first):
        await send("org.member.set", {"org_id": org, "user_id": user, "role": role})
    await send("folder.create", {"folder_id": first.target, "org_id": first.org,
                                 "parent_id": None, "name": "T", "actor_id": first.user("owner")})
    for site in sites:
        await build_base(send, site)
    until = datetime.now(UTC) + timedelta(seconds=3 + 0.1 * len(sites))
    for site, spec in zip(sites, SPECS, strict=True):
        await build_expiring(send, site, until)
        if spec.query:
            await client.request(spec.routing_key, spec.body(site, "expired"))
        await build_extras(send, site, spec.setup)
    await asyncio.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 0.1)
    await events.quiet(2.0)  # every event of the build delivered
    mark = len(events.seen)
    before = await snapshot(worker_pg_url, f"m{uid}-")

    answers, cases = [], 0
    for site, spec in zip(sites, SPECS, strict=True):
        for actor in STRANGERS:
            if not spec.query and spec.expect(actor) == OK:
                continue  # a member's upload or new folder: the integration matrix has it
            if spec.query:  # the owner's reply is in the cache now
                await client.request(spec.routing_key, spec.body(site, "owner"))
            reply = await client.request(spec.routing_key, spec.body(site, actor))
            code = OK if reply["ok"] else reply["error"]["code"]
            answers.append((spec.name, actor, code, spec.expect(actor)))
            cases += 1
    assert [a for a in answers if a[2] != a[3]] == []
    assert await snapshot(worker_pg_url, f"m{uid}-") == before
    early = sum(key in EXPIRED for key, _, _ in events.seen[:mark])
    await events.collect(mark + 2 * len(sites) - early, timeout=12.0)  # the sweeper's turn
    seen = await events.quiet(0.5)  # and nothing more
    assert {key for key, _ in seen[mark:]} <= set(EXPIRED)  # the denials published nothing
    expired = [b.get("document_id") or b["folder_id"] for key, b in seen if key in EXPIRED]
    assert sorted(expired) == sorted(x for s in sites for x in (s.doc, s.root))  # once each
    print(f"e2e access matrix: {cases} cases")
