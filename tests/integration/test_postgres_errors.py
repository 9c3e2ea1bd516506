"""Failures that may pass become Unavailable at the adapter boundary; bugs do not."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TypeAlias

import asyncpg
import pytest

from docbus.adapters.memory import FixedClock
from docbus.adapters.postgres import PgDatabase, PgOutbox, PgUnitOfWorkFactory
from docbus.core.entities import Folder
from docbus.core.errors import Unavailable
from docbus.core.events import MembershipChanged

pytestmark = pytest.mark.integration

AdminConn: TypeAlias = "asyncpg.Connection[asyncpg.Record]"


@pytest.fixture
async def victim(pg_url: str, uid: str) -> AsyncIterator[PgDatabase]:
    """A pool whose connections the test kills (found by their application_name)."""
    db = await PgDatabase.connect(pg_url, min_size=1, max_size=2, application_name=uid)
    try:
        yield db
    finally:
        await db.close()


async def kill(admin: AdminConn, application_name: str) -> None:
    """Terminate the sessions, and wait until they are gone."""
    killed = await admin.fetchval(
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000))"
        " FROM pg_stat_activity WHERE application_name = $1", application_name,
    )
    assert killed >= 1


async def test_a_connection_killed_inside_a_unit_raises_unavailable(
    victim: PgDatabase, pg_admin: AdminConn, uid: str
) -> None:
    async def read_across_the_kill() -> None:
        async with PgUnitOfWorkFactory(victim)() as uow:
            await uow.folders.get("x")
            await kill(pg_admin, uid)
            await uow.folders.get("x")

    with pytest.raises(Unavailable) as raised:
        await read_across_the_kill()
    assert isinstance(raised.value.__cause__, asyncpg.PostgresError | OSError
                      | asyncpg.InterfaceError)
    assert "SELECT" not in str(raised.value)


async def test_a_commit_that_loses_its_connection_raises_unavailable_and_the_pool_recovers(
    victim: PgDatabase, pg_admin: AdminConn, uid: str
) -> None:
    uow = PgUnitOfWorkFactory(victim)

    async def commit_across_the_kill() -> None:
        async with uow() as unit:
            await unit.folders.add(Folder.root(f"{uid}-f", uid, "root"))
            await kill(pg_admin, uid)
            await unit.commit()

    with pytest.raises(Unavailable):
        await commit_across_the_kill()
    async with uow(read_only=True) as unit:
        assert await unit.folders.get(f"{uid}-f") is None


async def test_a_claimer_that_dies_gives_its_messages_back(
    victim: PgDatabase, pg_db: PgDatabase, pg_admin: AdminConn, uid: str
) -> None:
    async with PgUnitOfWorkFactory(pg_db)() as unit:
        unit.emit(_event(uid), ["f:1"])
        await unit.commit()

    async def claim_across_the_kill() -> None:
        async with PgOutbox(victim).claim(10) as batch:
            assert len(batch.messages) == 1
            await kill(pg_admin, uid)

    with pytest.raises(Unavailable):
        await claim_across_the_kill()
    async with PgOutbox(pg_db).claim(10) as batch:
        assert [m.event_id for m in batch.messages] == [f"{uid}-evt"]


async def test_no_free_connection_in_time_raises_unavailable(pg_url: str) -> None:
    db = await PgDatabase.connect(pg_url, min_size=1, max_size=1, acquire_timeout=0.1)
    try:
        uow = PgUnitOfWorkFactory(db)
        async with uow(read_only=True):
            with pytest.raises(Unavailable):
                async with uow(read_only=True):
                    pass
    finally:
        await db.close()


async def test_a_statement_past_its_timeout_raises_unavailable(pg_url: str) -> None:
    db = await PgDatabase.connect(pg_url, min_size=1, max_size=1, command_timeout=0.1)
    try:
        with pytest.raises(Unavailable) as raised:
            await db.fetchval("SELECT pg_sleep(2)")
        assert isinstance(raised.value.__cause__, TimeoutError)
        assert await db.fetchval("SELECT 1") == 1
    finally:
        await db.close()


async def test_an_unreachable_server_raises_unavailable() -> None:
    with pytest.raises(Unavailable):
        await PgDatabase.connect("postgresql://postgres@127.0.0.1:1/docbus", acquire_timeout=2)


async def test_bugs_are_not_disguised_as_outages(pg_db: PgDatabase) -> None:
    with pytest.raises(asyncpg.PostgresSyntaxError):
        await pg_db.execute("SELEC 1")
    with pytest.raises(asyncpg.exceptions.DataError):
        await pg_db.fetchval("SELECT $1::int", "not a number")


def _event(uid: str) -> MembershipChanged:
    return MembershipChanged(event_id=f"{uid}-evt", org_id=uid, occurred_at=FixedClock().now(),
                             user_id="u1", role=None)
