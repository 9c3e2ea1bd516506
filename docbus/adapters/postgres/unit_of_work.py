"""The unit of work: one pooled connection, one transaction, the outbox written at commit.

Round trips of a write unit: BEGIN, the repositories' statements (the inbox row takes
the unit's events along into the outbox), COMMIT; a unit that records no inbox row
writes its events in one more statement before COMMIT. Relays are woken by a NOTIFY
sent after the commit, by the process's PgNotifier (not inside the transaction: see
PgNotifier for why). A read-only unit opens no transaction: each of its statements sees
the latest committed state. (A unit that runs a group of commands is a PgGroupedUnit.)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Self

from docbus.adapters.postgres.database import Conn, PgDatabase, end_transaction
from docbus.adapters.postgres.errors import translated
from docbus.adapters.postgres.inbox import PgInbox
from docbus.adapters.postgres.outbox import OUTBOX_CHANNEL, PendingEvents
from docbus.adapters.postgres.repositories import PgDocuments, PgFolders, PgMemberships, PgShares
from docbus.adapters.postgres.search import PgSearchIndex
from docbus.adapters.postgres.tree import PgDocumentLifecycle, PgFolderTree
from docbus.core.decisions import AccessDecider, BuiltInDecider
from docbus.core.events import DomainEvent
from docbus.core.lifecycle import DocumentLifecycle, FolderTree
from docbus.core.ports import (
    DocumentRepository,
    FolderRepository,
    Inbox,
    MembershipRepository,
    SearchIndex,
    ShareRepository,
)

BUILT_IN = BuiltInDecider(lambda: datetime.now(UTC))
"""The default decider: core.access's rule (expiry judged at this process's clock, after
PostgreSQL judged the grants it gathered live)."""


class PgUnitOfWork:
    """core.ports.UnitOfWork on PostgreSQL; rolls back on exit unless commit() was called."""

    # Typed as the ports: the protocol's attributes are mutable, hence invariant.
    folders: FolderRepository
    documents: DocumentRepository
    memberships: MembershipRepository
    shares: ShareRepository
    inbox: Inbox
    tree: FolderTree
    lifecycle: DocumentLifecycle
    search: SearchIndex

    def __init__(
        self, db: PgDatabase, *, read_only: bool = False, decider: AccessDecider | None = None
    ) -> None:
        self._db = db
        self._decider = decider or BUILT_IN
        self._read_only = read_only
        self._events = PendingEvents()
        self._open = False
        self._committed = False

    async def __aenter__(self) -> Self:
        self._conn = conn = await self._db.acquire()
        if not self._read_only:
            await self._begin(conn)
        self._wire(conn)
        return self

    def _wire(self, conn: Conn) -> None:
        """Give the unit its repositories, on its connection."""
        self.folders = PgFolders(conn)
        self.documents = PgDocuments(conn, self._decider)
        self.memberships = PgMemberships(conn)
        self.shares = PgShares(conn)
        self.inbox = PgInbox(conn, self._events)
        self.tree = PgFolderTree(conn, self._decider)
        self.lifecycle = PgDocumentLifecycle(conn)
        self.search = PgSearchIndex(conn, self._decider)

    async def __aexit__(self, *exc: object) -> None:
        try:
            if self._open and not self._committed:
                await end_transaction(self._conn, "ROLLBACK")
        finally:
            await self._db.release(self._conn)

    def emit(self, event: DomainEvent, scopes: Sequence[str]) -> None:
        self._events.add(event, scopes)

    @property
    def scopes(self) -> tuple[str, ...]:
        """Still answers after commit: the caller invalidates these once it has committed."""
        return tuple(dict.fromkeys(s for _, scopes, _ in self._events.emitted for s in scopes))

    async def commit(self) -> None:
        """Unavailable when the outcome is unknown (the connection died around COMMIT)."""
        if not self._open or self._committed:
            raise RuntimeError("only an open write unit can commit, and only once")
        with translated():
            await self._events.write(self._conn)  # unless the inbox row took them along
            status = await self._conn.execute("COMMIT")
        self._committed = True
        if status != "COMMIT":  # PostgreSQL answers ROLLBACK to COMMIT in a failed transaction
            raise RuntimeError("the transaction had failed; nothing was committed")
        if self._events.emitted:
            self._db.notifier(OUTBOX_CHANNEL).poke()  # after COMMIT: relays then see the rows

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

    def __init__(self, db: PgDatabase, decider: AccessDecider | None = None) -> None:
        self.db = db
        self.decider = decider or BUILT_IN

    def __call__(self, *, read_only: bool = False) -> PgUnitOfWork:
        return PgUnitOfWork(self.db, read_only=read_only, decider=self.decider)
