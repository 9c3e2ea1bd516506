"""Cache invalidations that could not reach the cache, kept until a worker applies them.

Recording one also notifies every worker (NOTIFY docbus_cache_missed, delivered at
commit), so that none of them serves from the cache before the miss is applied.
"""

from __future__ import annotations

from collections.abc import Sequence

from docbus.adapters.postgres.database import PgDatabase, dsn_of
from docbus.adapters.postgres.notify import PgListener

CACHE_MISSED_CHANNEL = "docbus_cache_missed"

RECORD = """
WITH recorded AS (
    INSERT INTO cache_misses (scope) SELECT unnest($1::text[])
)
SELECT pg_notify('docbus_cache_missed', '')
"""


class PgMissedInvalidations:
    """core.ports.MissedInvalidations on PostgreSQL, shared by every worker."""

    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    async def record(self, scopes: Sequence[str]) -> None:
        if scopes:
            await self._db.execute(RECORD, list(scopes))

    async def pending(self, limit: int = 1000) -> list[tuple[int, str]]:
        rows = await self._db.fetch(
            "SELECT id, scope FROM cache_misses ORDER BY id LIMIT $1", limit
        )
        return [(row["id"], row["scope"]) for row in rows]

    async def resolved(self, ids: Sequence[int]) -> None:
        if ids:
            await self._db.execute("DELETE FROM cache_misses WHERE id = ANY($1::bigint[])",
                                   list(ids))


class PgMissedInvalidationsListener(PgListener):
    """Wakes a worker as soon as any worker records a missed invalidation."""

    def __init__(self, db_or_url: PgDatabase | str) -> None:
        super().__init__(dsn_of(db_or_url), CACHE_MISSED_CHANNEL)
