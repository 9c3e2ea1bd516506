"""What only PostgreSQL does: exact bytes in the outbox, NOTIFY wake-ups, pruning."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import TypeAlias

import asyncpg
import orjson
import pytest

from docbus.adapters.memory import FixedClock
from docbus.adapters.postgres import (
    OUTBOX_CHANNEL,
    PgDatabase,
    PgMissedInvalidations,
    PgMissedInvalidationsListener,
    PgOutbox,
    PgOutboxListener,
    PgUnitOfWorkFactory,
    outbox_backlog,
    prune_inbox,
)
from docbus.core.events import MembershipChanged
from docbus.core.idempotency import IdempotencyKey
from docbus.core.values import OrgRole

pytestmark = pytest.mark.integration

AdminConn: TypeAlias = "asyncpg.Connection[asyncpg.Record]"
QUIET = 0.1


def _event(uid: str, n: int = 1) -> MembershipChanged:
    return MembershipChanged(event_id=f"{uid}-evt{n}", org_id=uid, occurred_at=FixedClock().now(),
                             user_id="u1", role=OrgRole.ADMIN)


async def _commit_events(db: PgDatabase, uid: str, count: int = 1, commit: bool = True) -> None:
    async with PgUnitOfWorkFactory(db)() as unit:
        for n in range(count):
            unit.emit(_event(uid, n), ["u:u1"])
        if commit:
            await unit.commit()


async def test_the_outbox_keeps_the_exact_bytes_to_publish(pg_db: PgDatabase, uid: str) -> None:
    await _commit_events(pg_db, uid)
    async with PgOutbox(pg_db).claim(1) as batch:
        assert batch.messages[0].body == orjson.dumps(_event(uid, 0).body())


async def test_the_backlog_counts_events_waiting_to_be_published(
    pg_db: PgDatabase, uid: str
) -> None:
    assert await outbox_backlog(pg_db) == 0
    await _commit_events(pg_db, uid, count=3)
    assert await outbox_backlog(pg_db) == 3


async def test_a_relay_is_woken_by_a_commit_with_events_only(pg_db: PgDatabase, uid: str) -> None:
    async with PgOutboxListener(pg_db) as listener:
        assert not await listener.wait(QUIET)
        await _commit_events(pg_db, uid, commit=False)
        assert not await listener.wait(QUIET)
        await _commit_events(pg_db, uid, count=0)
        assert not await listener.wait(QUIET)
        await _commit_events(pg_db, uid, count=2)
        assert await listener.wait(2)
        assert not await listener.wait(QUIET)


async def test_a_burst_of_commits_is_announced_by_few_notifications_after_the_last(
    pg_url: str, pg_admin: AdminConn, uid: str
) -> None:
    interval = 0.05
    db = await PgDatabase.connect(pg_url, min_size=2, max_size=4, notify_interval=interval)
    heard: list[float] = []
    await pg_admin.add_listener(OUTBOX_CHANNEL, lambda *_: heard.append(time.monotonic()))
    try:
        started = time.monotonic()
        for n in range(20):
            await _commit_events(db, f"{uid}-{n}")
        last_commit = time.monotonic()
        await asyncio.sleep(interval * 3)
    finally:
        await db.close()
    assert 1 <= len(heard) <= (last_commit - started) / interval + 2
    assert heard[-1] >= last_commit


async def test_a_listener_whose_connection_dies_reconnects(
    pg_db: PgDatabase, pg_admin: AdminConn, uid: str
) -> None:
    async with PgOutboxListener(pg_db.dsn) as listener:
        await pg_admin.execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
            " WHERE datname = current_database() AND query LIKE 'LISTEN%'"
        )
        assert await listener.wait(2)  # reconnected, but events may have been missed
        assert not await listener.wait(QUIET)
        await _commit_events(pg_db, uid)
        assert await listener.wait(2)


async def test_a_missed_invalidation_wakes_every_worker(pg_db: PgDatabase) -> None:
    async with PgMissedInvalidationsListener(pg_db) as one, \
            PgMissedInvalidationsListener(pg_db) as other:
        await PgMissedInvalidations(pg_db).record(["f:1"])
        assert await one.wait(2)
        assert await other.wait(2)


async def test_pruning_the_inbox_forgets_old_replies_only(
    pg_db: PgDatabase, pg_admin: AdminConn, uid: str
) -> None:
    uow = PgUnitOfWorkFactory(pg_db)
    keys = [IdempotencyKey.of("svc", f"{uid}-m{n}", "x.do", b"{}") for n in range(5)]
    async with uow() as unit:
        for n in range(5):
            await unit.inbox.record(keys[n], b"1", [])
        await unit.commit()
    await pg_admin.execute(
        "UPDATE inbox SET created_at = now() - interval '2 days' WHERE message_id = ANY($1)",
        [f"{uid}-m{n}" for n in range(3)],
    )
    cutoff = await pg_admin.fetchval("SELECT now()") - timedelta(days=1)
    assert await prune_inbox(pg_db, cutoff, batch=2) == 3
    async with uow(read_only=True) as unit:
        kept = [await unit.inbox.find(key) is not None for key in keys]
    assert kept == [False, False, False, True, True]
