"""The delivery attempts a worker began (table delivery_attempts, migration 0005)."""

from __future__ import annotations

from docbus.adapters.postgres.database import PgDatabase

BEGIN = """
INSERT INTO delivery_attempts AS a (delivery_key, attempts) VALUES ($1, 1)
ON CONFLICT (delivery_key) DO UPDATE SET attempts = a.attempts + 1
RETURNING attempts - 1
"""
TAKE_BACK = """
UPDATE delivery_attempts SET attempts = GREATEST(attempts - 1, 0) WHERE delivery_key = $1
"""
DONE = "DELETE FROM delivery_attempts WHERE delivery_key = $1"


class PgAttemptLog:
    """consumers.pipeline.AttemptLog on PostgreSQL, shared by every worker."""

    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    async def begin(self, key: str) -> int:
        """Record an attempt; return the attempts begun before it and never finished."""
        return int(await self._db.fetchval(BEGIN, key))

    async def end(self, key: str, *, done: bool) -> None:
        """The attempt ended with the worker alive: the message is done (forget it) or
        was handed back (take the attempt back: it says nothing about the message)."""
        await self._db.execute(DONE if done else TAKE_BACK, key)
