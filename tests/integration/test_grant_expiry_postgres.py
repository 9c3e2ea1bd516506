"""The share expiry sweeper on PostgreSQL (contract v2): each expired grant removed and
published exactly once through the outbox, also with sweepers racing and after a sweep
that died before its commit; nothing before expires_at (the database's clock)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from docbus.adapters.memory import SequentialIds
from docbus.adapters.postgres import PgDatabase, PgUnitOfWorkFactory
from docbus.core.values import Role
from docbus.handlers.create_folder import CreateFolder
from docbus.handlers.share_document import ShareDocument
from docbus.handlers.share_folder import ShareFolder, ShareFolderHandler
from docbus.handlers.sweep_grants import SweepExpiredGrants
from tests.lifecycle_harness import ALICE, BOB, CAROL, DAVE, Life

pytestmark = pytest.mark.integration
EXPIRED = ("document.share.expired", "folder.share.expired")


@pytest.fixture
async def life(pg_db: PgDatabase, uid: str) -> Life:
    life = await Life(PgUnitOfWorkFactory(pg_db), prefix=f"{uid}-").setup()
    life.use_cases[ShareFolder] = ShareFolderHandler(life.clock, SequentialIds(f"{uid}-fs-"))
    return life


async def expiring_grants(life: Life, count: int) -> datetime:
    """``count`` document shares and ``count`` folder shares that expire in a second
    (by the database's clock, which is the real one)."""
    until = datetime.now(UTC) + timedelta(seconds=1)
    for i in range(count):
        doc = await life.document(f"x{i}", life.q3)
        await life.ok(ShareDocument(doc, ALICE, BOB, Role.VIEWER, until))
        folder = life.id(f"f-x{i}")
        await life.ok(CreateFolder(folder, life.org, None, f"x{i}", ALICE))
        await life.ok(ShareFolder(folder, ALICE, CAROL, Role.EDITOR, until))
    life.clock.current = until + timedelta(milliseconds=10)
    return until


async def sweep_and_die(life: Life) -> None:
    """A sweep that removed its batch and dies before its commit (the transaction is then
    rolled back, as when the process is killed)."""
    async with life.uow() as uow:
        assert await uow.shares.try_lock_expiry_sweeper()
        for grant in await uow.shares.expired(life.clock.now(), 10):
            await uow.shares.remove(grant)
        raise RuntimeError("killed before commit")


def sweeper(life: Life, batch: int) -> SweepExpiredGrants:
    return SweepExpiredGrants(life.uow, life.cache, life.clock, life.sweep_ids, batch=batch)


async def expiry_events(pg_db: PgDatabase, life: Life) -> list[str]:
    rows = await pg_db.fetch(
        "SELECT body::text FROM outbox WHERE routing_key = ANY($1::text[])"
        " AND convert_from(body, 'UTF8') LIKE $2", list(EXPIRED), f"%{life.org}%",
    )
    return [r[0] for r in rows]


async def stored(pg_db: PgDatabase, life: Life) -> int:
    documents = await pg_db.fetchval(
        "SELECT count(*) FROM shares WHERE user_id = $1 AND doc_id LIKE $2", BOB,
        f"{life.prefix}%")
    folders = await pg_db.fetchval(
        "SELECT count(*) FROM folder_shares WHERE user_id = $1 AND folder_id LIKE $2", CAROL,
        f"{life.prefix}%")
    return int(documents) + int(folders)


async def test_racing_sweepers_remove_and_publish_each_expiry_once(
    life: Life, pg_db: PgDatabase
) -> None:
    await expiring_grants(life, 6)
    assert await stored(pg_db, life) == 12
    await asyncio.sleep(1.05)  # the database's clock passes expires_at too
    counts = await asyncio.gather(*(sweeper(life, 2).until_done() for _ in range(3)))
    counts = [*counts, await sweeper(life, 2).until_done()]
    assert sum(counts) >= 12  # (and any expired grant other tests left in the database)
    assert await stored(pg_db, life) == 0
    assert len(await expiry_events(pg_db, life)) == 12


async def test_a_sweep_that_dies_before_its_commit_leaves_everything_for_the_next(
    life: Life, pg_db: PgDatabase
) -> None:
    await expiring_grants(life, 2)
    await asyncio.sleep(1.05)
    with pytest.raises(RuntimeError):
        await sweep_and_die(life)
    assert await stored(pg_db, life) == 4
    assert await expiry_events(pg_db, life) == []
    assert await sweeper(life, 10).until_done() >= 4
    assert await stored(pg_db, life) == 0
    assert len(await expiry_events(pg_db, life)) == 4


async def test_a_grant_gives_nothing_from_its_expiry_even_before_the_sweep(
    life: Life, pg_db: PgDatabase
) -> None:
    doc = await life.document("soon", life.q3)
    until = datetime.now(UTC) + timedelta(seconds=1)
    await life.ok(ShareDocument(doc, ALICE, DAVE, Role.VIEWER, until))
    assert (await life.get(doc, DAVE))["ok"]
    await asyncio.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 0.05)
    life.cache.values.clear()  # the PostgreSQL decision, not the cache's TTL, is under test
    assert (await life.get(doc, DAVE))["error"]["code"] == "not_found"
