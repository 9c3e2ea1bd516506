"""The inbox: each command's reply, kept under its message_id so that it acts once.

Recording the inbox row is the last thing the command bus does before it commits, so
the same statement also writes the unit's events to the outbox: one round trip fewer
per command, and the events are written only if the message_id was new.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

import orjson

from adapters.postgres.database import Conn, PgDatabase, affected
from adapters.postgres.errors import translate_errors
from adapters.postgres.outbox import PendingEvents
from core.ports import Json, StoredReply

# ON CONFLICT DO NOTHING waits for a concurrent inserter of the same message_id: False
# then means it committed (had it rolled back, this insert goes through).
RECORD = """
WITH recorded AS (
    INSERT INTO inbox (message_id, reply, scopes) VALUES ($1, $2, $3)
    ON CONFLICT (message_id) DO NOTHING
    RETURNING 1
), written AS (
    INSERT INTO outbox (event_id, routing_key, body, scopes)
    SELECT e.event_id, e.routing_key, e.body,
        ARRAY(SELECT jsonb_array_elements_text(e.scopes::jsonb))
    FROM unnest($4::text[], $5::text[], $6::bytea[], $7::text[])
        WITH ORDINALITY AS e(event_id, routing_key, body, scopes, n)
    WHERE EXISTS (SELECT FROM recorded)
    ORDER BY e.n
)
SELECT count(*) FROM recorded
"""

# Several commands' replies and all the unit's events in one statement (a group commit).
# The events are written whatever happens: a caller told of a taken message_id rolls back.
RECORD_MANY = """
WITH recorded AS (
    INSERT INTO inbox (message_id, reply, scopes)
    SELECT i.message_id, i.reply, ARRAY(SELECT jsonb_array_elements_text(i.scopes::jsonb))
    FROM unnest($1::text[], $2::jsonb[], $3::text[]) AS i(message_id, reply, scopes)
    ON CONFLICT (message_id) DO NOTHING
    RETURNING message_id
), written AS (
    INSERT INTO outbox (event_id, routing_key, body, scopes)
    SELECT e.event_id, e.routing_key, e.body,
        ARRAY(SELECT jsonb_array_elements_text(e.scopes::jsonb))
    FROM unnest($4::text[], $5::text[], $6::bytea[], $7::text[])
        WITH ORDINALITY AS e(event_id, routing_key, body, scopes, n)
    ORDER BY e.n
)
SELECT coalesce(array_agg(message_id), '{}') FROM recorded
"""


@translate_errors
class PgInbox:
    def __init__(self, conn: Conn, pending: PendingEvents) -> None:
        self._conn = conn
        self._pending = pending

    async def record(self, message_id: str, reply: Json, scopes: Sequence[str]) -> bool:
        """False if this message_id was recorded by a committed unit (even a concurrent one)."""
        written = self._pending.unwritten()
        recorded: int = await self._conn.fetchval(
            RECORD, message_id, reply, list(scopes), *written.columns()
        )
        if recorded:
            self._pending.mark_written(written)
        return recorded == 1

    async def record_many(self, replies: Sequence[tuple[str, Json, Sequence[str]]]) -> set[str]:
        """The message_ids not recorded: taken before, or twice in ``replies``."""
        written = self._pending.unwritten()
        ids = [message_id for message_id, _, _ in replies]
        recorded: list[str] = await self._conn.fetchval(
            RECORD_MANY,
            ids,
            [reply for _, reply, _ in replies],
            [orjson.dumps(list(scopes)).decode() for _, _, scopes in replies],
            *written.columns(),
        )
        self._pending.mark_written(written)
        twice = {message_id for message_id, n in Counter(ids).items() if n > 1}
        return set(ids).difference(recorded) | twice

    async def find(self, message_id: str) -> StoredReply | None:
        row = await self._conn.fetchrow(
            "SELECT reply, scopes FROM inbox WHERE message_id = $1", message_id
        )
        return StoredReply(row["reply"], tuple(row["scopes"])) if row else None


PRUNE_INBOX = """
DELETE FROM inbox WHERE message_id IN (
    SELECT message_id FROM inbox WHERE created_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED
)
"""


async def prune_inbox(db: PgDatabase, older_than: datetime, batch: int = 5000) -> int:
    """Forget replies recorded before ``older_than``, in short batches (no long locks).

    A redelivery older than that is decided again; keep replies longer than any sender
    or broker may retry.
    """
    total = 0
    while True:
        deleted = affected(await db.execute(PRUNE_INBOX, older_than, batch))
        total += deleted
        if deleted < batch:
            return total
