"""The outbox as relays see it: claim a batch, publish, delete what the broker confirmed.

A claim is a transaction holding its rows with FOR UPDATE SKIP LOCKED, so relays in
several workers never take the same rows and never wait for each other. Deleting a row
is how it is marked sent (the audit log keeps the history); rows not deleted are given
back at the end of the claim (also when the claim's block raises: what was done stays
done), or when the claimer's connection dies.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from asyncpg import Record

from adapters.postgres.database import Conn, PgDatabase, dsn_of, end_transaction
from adapters.postgres.errors import translate_errors, translated
from adapters.postgres.notify import PgListener
from adapters.postgres.unit_of_work import OUTBOX_CHANNEL
from core.ports import OutboxMessage

CLAIM = """
SELECT id, event_id, routing_key, body, scopes, created_at FROM outbox
ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
"""


@translate_errors
class PgOutboxBatch:
    """core.ports.OutboxBatch: the claimed messages, on the claim's connection."""

    def __init__(self, conn: Conn, messages: list[OutboxMessage]) -> None:
        self._conn = conn
        self.messages = messages

    async def done(self, ids: Sequence[int]) -> None:
        if ids:
            await self._conn.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", list(ids))


class PgOutbox:
    """core.ports.Outbox on PostgreSQL."""

    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    @asynccontextmanager
    async def claim(self, limit: int) -> AsyncIterator[PgOutboxBatch]:
        async with self._db.connection() as conn:
            rows = await _claim_rows(conn, limit)
            try:
                yield PgOutboxBatch(conn, [_message(row) for row in rows])
            except BaseException:
                # What was done stays done (the broker confirmed it); the rest is given back.
                await end_transaction(conn, "COMMIT")
                raise
            with translated():
                await conn.execute("COMMIT")


async def _claim_rows(conn: Conn, limit: int) -> list[Record]:
    try:
        with translated():
            await conn.execute("BEGIN")
            return await conn.fetch(CLAIM, limit)
    except BaseException:
        await end_transaction(conn, "ROLLBACK")
        raise


def _message(row: Record) -> OutboxMessage:
    return OutboxMessage(
        row["id"], row["event_id"], row["routing_key"], row["body"], tuple(row["scopes"]),
        row["created_at"],
    )


async def outbox_backlog(db: PgDatabase) -> int:
    """How many events wait to be published (a gauge for monitoring)."""
    return int(await db.fetchval("SELECT count(*) FROM outbox"))


class PgOutboxListener(PgListener):
    """Wakes a relay as soon as a unit of work commits events (NOTIFY docbus_outbox)."""

    def __init__(self, db_or_url: PgDatabase | str) -> None:
        super().__init__(dsn_of(db_or_url), OUTBOX_CHANNEL)
