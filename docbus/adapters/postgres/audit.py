"""The append-only audit log: each event once, whatever how often it is delivered."""

from __future__ import annotations

from collections.abc import Sequence

from docbus.adapters.postgres.database import PgDatabase, affected
from docbus.core.ports import AuditEntry

# One statement per batch; ON CONFLICT skips events already logged (and repeats within
# the batch) without aborting, and the status tag counts the rows that were new.
APPEND = """
INSERT INTO audit_log (event_id, type, org_id, occurred_at, routing_key, body)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[],
                     $6::jsonb[])
ON CONFLICT (event_id) DO NOTHING
"""


class PgAuditLog:
    """core.ports.AuditLog on PostgreSQL (triggers reject UPDATE, DELETE and TRUNCATE)."""

    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    async def append(self, entries: Sequence[AuditEntry]) -> int:
        if not entries:
            return 0
        columns = (
            [e.event_id for e in entries], [e.type for e in entries],
            [e.org_id for e in entries], [e.occurred_at for e in entries],
            [e.routing_key for e in entries], [e.body for e in entries],
        )
        return affected(await self._db.execute(APPEND, *columns))
