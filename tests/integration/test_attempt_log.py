"""PgAttemptLog: the redeliveries a worker began and never finished, shared by workers."""

from __future__ import annotations

import uuid

import pytest

from docbus.adapters.postgres.attempts import PgAttemptLog
from docbus.adapters.postgres.database import PgDatabase

pytestmark = pytest.mark.integration


async def test_attempts_count_until_done(pg_db: PgDatabase) -> None:
    log, other = PgAttemptLog(pg_db), PgAttemptLog(pg_db)  # two workers, one table
    key = uuid.uuid4().hex
    assert await log.begin(key) == 0
    assert await other.begin(key) == 1  # the first worker died in its attempt
    await other.end(key, done=False)  # handed back: taken back
    assert await log.begin(key) == 1
    await log.end(key, done=True)
    assert await pg_db.fetchval("SELECT count(*) FROM delivery_attempts WHERE delivery_key = $1",
                                key) == 0
    assert await log.begin(key) == 0


async def test_taking_back_never_goes_below_zero(pg_db: PgDatabase) -> None:
    log = PgAttemptLog(pg_db)
    key = uuid.uuid4().hex
    await log.begin(key)
    await log.end(key, done=False)
    await log.end(key, done=False)
    assert await log.begin(key) == 0
