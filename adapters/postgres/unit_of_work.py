"""The unit of work: one pooled connection, one transaction, the outbox written at commit.

Round trips of a write unit: BEGIN, the repositories' statements, one outbox INSERT
(all events at once), COMMIT. Relays are woken by a NOTIFY sent after the commit, by the
process's PgNotifier (not inside the transaction: see PgNotifier for why). A read-only unit
opens no transaction: each of its statements sees the latest committed state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

import orjson

from adapters.postgres.database import Conn, PgDatabase, end_transaction
from adapters.postgres.errors import translated
from adapters.postgres.repositories import PgDocuments, PgFolders, PgInbox, PgMemberships, PgShares
from core.events import DomainEvent
from core.ports import (
    DocumentRepository,
    FolderRepository,
    Inbox,
    MembershipRepository,
    ShareRepository,
)

OUTBOX_CHANNEL = "docbus_outbox"

# One statement for every event of the unit; ORDER BY keeps outbox ids in emit order.
# Each event's scopes travel as a JSON array in text (arrays of arrays must be rectangular).
WRITE_OUTBOX = """
INSERT INTO outbox (event_id, routing_key, body, scopes)
SELECT e.event_id, e.routing_key, e.body, ARRAY(SELECT jsonb_array_elements_text(e.scopes::jsonb))
FROM unnest($1::text[], $2::text[], $3::bytea[], $4::text[])
    WITH ORDINALITY AS e(event_id, routing_key, body, scopes, n)
ORDER BY e.n
"""


class PgUnitOfWork:
    """core.ports.UnitOfWork on PostgreSQL; rolls back on exit unless commit() was called."""

    # Typed as the ports: the protocol's attributes are mutable, hence invariant.
    folders: FolderRepository
    documents: DocumentRepository
    memberships: MembershipRepository
    shares: ShareRepository
    inbox: Inbox

    def __init__(self, db: PgDatabase, *, read_only: bool = False) -> None:
        self._db = db
        self._read_only = read_only
        self._events: list[tuple[DomainEvent, tuple[str, ...]]] = []
        self._open = False
        self._committed = False

    async def __aenter__(self) -> Self:
        self._conn = conn = await self._db.acquire()
        if not self._read_only:
            await self._begin(conn)
        self.folders = PgFolders(conn)
        self.documents = PgDocuments(conn)
        self.memberships = PgMemberships(conn)
        self.shares = PgShares(conn)
        self.inbox = PgInbox(conn)
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            if self._open and not self._committed:
                await end_transaction(self._conn, "ROLLBACK")
        finally:
            await self._db.release(self._conn)

    def emit(self, event: DomainEvent, scopes: Sequence[str]) -> None:
        self._events.append((event, tuple(scopes)))

    @property
    def scopes(self) -> tuple[str, ...]:
        """Still answers after commit: the caller invalidates these once it has committed."""
        return tuple(dict.fromkeys(s for _, scopes in self._events for s in scopes))

    async def commit(self) -> None:
        """Unavailable when the outcome is unknown (the connection died around COMMIT)."""
        if not self._open or self._committed:
            raise RuntimeError("only an open write unit can commit, and only once")
        with translated():
            if self._events:
                await self._conn.execute(WRITE_OUTBOX, *self._outbox_columns())
            status = await self._conn.execute("COMMIT")
        self._committed = True
        if status != "COMMIT":  # PostgreSQL answers ROLLBACK to COMMIT in a failed transaction
            raise RuntimeError("the transaction had failed; nothing was committed")
        if self._events:
            self._db.notifier(OUTBOX_CHANNEL).poke()  # after COMMIT: relays then see the rows

    def _outbox_columns(self) -> tuple[list[object], ...]:
        events = [event for event, _ in self._events]
        return (
            [e.event_id for e in events],
            [e.routing_key for e in events],
            [orjson.dumps(e.body()) for e in events],
            [orjson.dumps(scopes).decode() for _, scopes in self._events],
        )

    async def _begin(self, conn: Conn) -> None:
        try:
            with translated():
                await conn.execute("BEGIN")
        except BaseException:
            await self._db.release(conn)
            raise
        self._open = True


class PgUnitOfWorkFactory:
    """core.ports.UnitOfWorkFactory: a new unit (and connection) per message."""

    def __init__(self, db: PgDatabase) -> None:
        self.db = db

    def __call__(self, *, read_only: bool = False) -> PgUnitOfWork:
        return PgUnitOfWork(self.db, read_only=read_only)
