"""The inbox: each command's reply, kept under its idempotency key so that it acts once.

Rows are keyed by (message_id, sender) and carry what the key was used for (routing key,
fingerprint) and the reply's exact bytes (bytea: JSONB would reorder its keys, and a
duplicate's reply must be byte-identical to the first). Rows from before keys were
scoped (migration 0002) have no fingerprint: their message_id stays taken for every
sender, and is refused (see core.idempotency).

Recording the inbox rows is the last thing before COMMIT, so the same statement also
writes the unit's events to the outbox: one round trip fewer per unit, and the events
are written only if every key was new.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from docbus.adapters.postgres.database import PgDatabase, affected
from docbus.adapters.postgres.errors import translate_errors
from docbus.adapters.postgres.outbox import PendingEvents, insert_events
from docbus.adapters.postgres.repositories import Statements
from docbus.core.idempotency import IdempotencyKey, StoredReply

# ON CONFLICT DO NOTHING waits for a concurrent inserter of the same key: a key not
# returned then means it committed (had it rolled back, this insert goes through).
RECORD = f"""
WITH recorded AS (
    INSERT INTO inbox (message_id, sender, routing_key, fingerprint, reply, scopes)
    SELECT i.message_id, i.sender, i.routing_key, i.fingerprint, i.reply,
        ARRAY(SELECT jsonb_array_elements_text(i.scopes::jsonb))
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::text[])
        AS i(message_id, sender, routing_key, fingerprint, reply, scopes)
    WHERE NOT EXISTS (
        SELECT FROM inbox v1 WHERE v1.message_id = i.message_id AND v1.fingerprint IS NULL
    )
    ON CONFLICT (message_id, sender) DO NOTHING
    RETURNING message_id, sender
), written AS ({insert_events(7, "(SELECT count(*) FROM recorded) = cardinality($1::text[])")})
SELECT coalesce(array_agg(message_id), '{{}}') AS ids,
    coalesce(array_agg(sender), '{{}}') AS senders
FROM recorded
"""  # noqa: S608 - placeholders only

FIND = """
SELECT reply, scopes, routing_key, fingerprint FROM inbox
WHERE message_id = $1 AND (sender = $2 OR fingerprint IS NULL)
"""

Entry = tuple[IdempotencyKey, bytes, Sequence[str]]


@translate_errors
class PgInbox:
    def __init__(self, conn: Statements, pending: PendingEvents) -> None:
        self._conn = conn
        self._pending = pending

    async def record(self, key: IdempotencyKey, reply: bytes, scopes: Sequence[str]) -> bool:
        """False if the key was recorded by a committed unit (even a concurrent one)."""
        return not await self.record_many([(key, reply, scopes)])

    async def record_many(self, replies: Sequence[Entry]) -> set[tuple[str, str]]:
        """The slots not recorded: taken before, or twice in ``replies``; the unit's events
        are written only if there are none."""
        written = self._pending.unwritten()
        row = await self._conn.fetchrow(RECORD, *_columns(replies), *written.columns())
        assert row is not None  # an aggregate: always one row
        slots = [key.slot for key, _, _ in replies]
        twice = {slot for slot, n in Counter(slots).items() if n > 1}
        taken = set(slots).difference(zip(row["senders"], row["ids"], strict=True)) | twice
        if not taken:
            self._pending.mark_written(written)
        return taken

    async def find(self, key: IdempotencyKey) -> StoredReply | None:
        row = await self._conn.fetchrow(FIND, key.message_id, key.sender)
        if row is None:
            return None
        return StoredReply(
            row["reply"], tuple(row["scopes"]), row["routing_key"], row["fingerprint"]
        )


def _columns(replies: Sequence[Entry]) -> tuple[list[Any], ...]:
    """The inbox arrays of RECORD: message ids, senders, routing keys, fingerprints,
    replies, scopes (each a JSON array in text: arrays of arrays must be rectangular)."""
    keys = [key for key, _, _ in replies]
    return (
        [k.message_id for k in keys],
        [k.sender for k in keys],
        [k.routing_key for k in keys],
        [k.fingerprint for k in keys],
        [reply for _, reply, _ in replies],
        [orjson.dumps(list(scopes)).decode() for _, _, scopes in replies],
    )


PRUNE_INBOX = """
DELETE FROM inbox WHERE (message_id, sender) IN (
    SELECT message_id, sender FROM inbox WHERE created_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED
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
