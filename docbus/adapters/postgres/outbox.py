"""The outbox: events written by units of work, published by relays.

A unit's events are written in its transaction (PendingEvents), at the latest just
before COMMIT, so only committed effects are ever published.

A relay's claim is a transaction holding its rows with FOR UPDATE SKIP LOCKED, so relays
in several workers never take the same rows and never wait for each other. Deleting a
row is how it is marked sent (the audit log keeps the history); rows not deleted are
given back at the end of the claim (also when the claim's block raises: what was done
stays done), or when the claimer's connection dies.

With several event transports, a claim is for one transport: the rows it has not
confirmed yet (``sent_to`` lacks it); or for all of them at once (``None``): the rows
some transport has not confirmed. A row leaves only once all of them confirmed it
(docs/decisions.md, "Events on several transports").
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import orjson
from asyncpg import Record

from docbus.adapters.postgres.database import Conn, PgDatabase, dsn_of, end_transaction
from docbus.adapters.postgres.errors import translate_errors, translated
from docbus.adapters.postgres.notify import PgListener
from docbus.core import tracing
from docbus.core.events import DomainEvent
from docbus.core.ports import RABBITMQ, OutboxMessage

OUTBOX_CHANNEL = "docbus_outbox"


def insert_events(first: int, when: str = "TRUE") -> str:
    """The one INSERT of a unit's events into the outbox, its five arrays (event ids,
    routing keys, bodies, scopes, trace contexts) from parameter ``$first`` on, written
    only ``when`` holds (the inbox sends it along with its own row, guarded by that row).

    All the rows in one statement; ORDER BY keeps outbox ids in emit order. Each event's
    scopes travel as a JSON array in text (arrays of arrays must be rectangular)."""
    a, b, c, d, t = (f"${n}" for n in range(first, first + 5))
    return f"""
INSERT INTO outbox (event_id, routing_key, body, scopes, traceparent)
SELECT e.event_id, e.routing_key, e.body,
    ARRAY(SELECT jsonb_array_elements_text(e.scopes::jsonb)), e.traceparent
FROM unnest({a}::text[], {b}::text[], {c}::bytea[], {d}::text[], {t}::text[])
    WITH ORDINALITY AS e(event_id, routing_key, body, scopes, traceparent, n)
WHERE {when}
ORDER BY e.n
"""  # noqa: S608 - placeholders and a fixed condition only


WRITE_OUTBOX = insert_events(1)

Emitted = tuple[DomainEvent, tuple[str, ...], str | None]
"""An event, the cache scopes it changes, the traceparent of the command that caused it."""


@dataclass(frozen=True, slots=True)
class OutboxRows:
    """Events about to be written, as the array parameters of WRITE_OUTBOX."""

    events: list[Emitted]

    def columns(
        self,
    ) -> tuple[list[str], list[str], list[bytes], list[str], list[str | None]]:
        """Event ids, routing keys, bodies (the exact bytes to publish), scopes as JSON,
        traceparents."""
        return (
            [event.event_id for event, _, _ in self.events],
            [event.routing_key for event, _, _ in self.events],
            [orjson.dumps(event.body()) for event, _, _ in self.events],
            [orjson.dumps(scopes).decode() for _, scopes, _ in self.events],
            [traceparent for _, _, traceparent in self.events],
        )


class PendingEvents:
    """A unit's emitted events, and how many of them its transaction has written."""

    def __init__(self) -> None:
        self.emitted: list[Emitted] = []
        self._written = 0

    def add(self, event: DomainEvent, scopes: Sequence[str]) -> None:
        """Keep the event with the trace of the message being handled (core.tracing)."""
        trace = tracing.current()
        self.emitted.append((event, tuple(scopes), None if trace is None else trace.traceparent))

    def unwritten(self) -> OutboxRows:
        return OutboxRows(self.emitted[self._written:])

    def mark_written(self, rows: OutboxRows) -> None:
        self._written += len(rows.events)

    async def write(self, conn: Conn) -> None:
        """Write what is still unwritten (untranslated: the caller is the boundary)."""
        rows = self.unwritten()
        if rows.events:
            await conn.execute(WRITE_OUTBOX, *rows.columns())
            self.mark_written(rows)


CLAIM = """
SELECT id, event_id, routing_key, body, scopes, created_at, sent_to, traceparent FROM outbox
WHERE NOT ($2::text = ANY(sent_to))
ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
"""
CLAIM_ANY = """
SELECT id, event_id, routing_key, body, scopes, created_at, sent_to, traceparent FROM outbox
WHERE NOT (sent_to @> $2::text[])
ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
"""

MARK = "UPDATE outbox SET sent_to = array_append(sent_to, $2) WHERE id = ANY($1::bigint[])"
DELETE_COMPLETE = """
DELETE FROM outbox WHERE id = ANY($1::bigint[]) AND sent_to @> $2::text[]
"""


@translate_errors
class PgOutboxBatch:
    """core.ports.OutboxBatch: the claimed messages, on the claim's connection.

    With one transport a confirmed row is deleted at once (no mark: the fast path). With
    several, the transport is added to the row's ``sent_to``, and the row is deleted once
    ``sent_to`` holds them all; rows stay locked by the claim until it ends, so two
    transports never mark the same row at once."""

    def __init__(
        self, conn: Conn, messages: list[OutboxMessage], transport: str | None, every: list[str]
    ) -> None:
        self._conn = conn
        self.messages = messages
        self._transport = transport
        self._every = every

    async def done(self, ids: Sequence[int], transport: str | None = "") -> None:
        if not ids:
            return
        transport = self._transport if transport == "" else transport
        if transport is None or self._every == [transport]:
            await self._conn.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", list(ids))
            return
        await self._conn.execute(MARK, list(ids), transport)
        await self._conn.execute(DELETE_COMPLETE, list(ids), self._every)


class PgOutbox:
    """core.ports.Outbox on PostgreSQL, for the configured ``transports``."""

    def __init__(self, db: PgDatabase, transports: Sequence[str] = (RABBITMQ,)) -> None:
        self._db = db
        self._every = sorted(set(transports))

    @asynccontextmanager
    async def claim(
        self, limit: int, transport: str | None = RABBITMQ
    ) -> AsyncIterator[PgOutboxBatch]:
        async with self._db.connection() as conn:
            rows = await _claim_rows(conn, limit, transport, self._every)
            try:
                yield PgOutboxBatch(conn, [_message(row) for row in rows], transport, self._every)
            except BaseException:
                # What was done stays done (the broker confirmed it); the rest is given back.
                await end_transaction(conn, "COMMIT")
                raise
            with translated():
                await conn.execute("COMMIT")


async def _claim_rows(
    conn: Conn, limit: int, transport: str | None, every: list[str]
) -> list[Record]:
    try:
        with translated():
            await conn.execute("BEGIN")
            if transport is None:
                return await conn.fetch(CLAIM_ANY, limit, every)
            return await conn.fetch(CLAIM, limit, transport)
    except BaseException:
        await end_transaction(conn, "ROLLBACK")
        raise


def _message(row: Record) -> OutboxMessage:
    return OutboxMessage(
        row["id"], row["event_id"], row["routing_key"], row["body"], tuple(row["scopes"]),
        row["created_at"], tuple(row["sent_to"]), row["traceparent"],
    )


async def outbox_backlog(db: PgDatabase) -> int:
    """How many events wait to be published (a gauge for monitoring)."""
    return int(await db.fetchval("SELECT count(*) FROM outbox"))


async def outbox_oldest_age(db: PgDatabase) -> float:
    """Seconds since the oldest event still waiting was committed (0 when none waits)."""
    age = await db.fetchval(
        "SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0) FROM outbox"
    )
    return float(age)


class PgOutboxListener(PgListener):
    """Wakes a relay as soon as a unit of work commits events (NOTIFY docbus_outbox)."""

    def __init__(self, db_or_url: PgDatabase | str) -> None:
        super().__init__(dsn_of(db_or_url), OUTBOX_CHANNEL)
