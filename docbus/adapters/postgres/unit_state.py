"""What a grouped unit knows without asking again, and what it has yet to write.

A group commit runs many commands in one transaction, one after the other. Run naively,
each command costs its own round trips, and under load every round trip costs a turn of
the worker's busy event loop: the group's time grows with its size. So a grouped unit

- reads ahead: what the group's use cases declared (core.reads) is loaded with one
  statement per kind of read for the whole group; later reads of those keys are answered
  from ``GroupState`` without a round trip;
- writes behind: new documents, share changes and inbox rows are queued and written
  together (asyncpg sends a statement's many argument sets in one pipelined round trip)
  just before the next statement that could see them, or at commit.

Reads stay exactly what they would be without this: every write of the unit updates the
answers it changes or drops them (to be read again, after the queued writes went out),
and ``Flushing`` writes the queue before any other statement.
"""

from __future__ import annotations

from typing import Any

from asyncpg import Record

from docbus.adapters.postgres.database import Conn
from docbus.adapters.postgres.repositories import (
    ADD_DOCUMENT,
    DELETE_SHARE,
    UPSERT_SHARE,
    upsert_args,
)
from docbus.core.entities import Document, Folder, ShareGrant
from docbus.core.errors import Unavailable
from docbus.core.policies import Access
from docbus.core.values import OrgRole, Role

Pair = tuple[str, str]
FolderRole = tuple[Folder | None, OrgRole | None]


class GroupState:
    """The read-ahead answers and the write-behind queue of one grouped unit."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.folder_roles: dict[Pair, FolderRole] = {}
        self.access: dict[Pair, tuple[Document | None, Access, bool]] = {}
        """(doc_id, user_id) -> (document, access, whether the document row is locked)."""
        self.exists: dict[str, bool] = {}
        self.memberships: dict[Pair, OrgRole | None] = {}
        self.shares: dict[Pair, Role | None] = {}
        self.new_documents: list[tuple[object, ...]] = []
        """Argument tuples of ADD_DOCUMENT, in the order the commands added them."""
        self.share_changes: dict[Pair, tuple[Role, ShareGrant | None] | None] = {}

    @property
    def pending(self) -> bool:
        return bool(self.new_documents or self.share_changes)

    async def flush(self) -> None:
        """Write what is queued: documents first (shares refer to them), then shares. A
        queued document that a concurrent transaction created first fails the flush
        (Unavailable): the group then runs command by command."""
        documents, self.new_documents = self.new_documents, []
        changes, self.share_changes = self.share_changes, {}
        if documents:
            rows = await self.conn.fetchmany(ADD_DOCUMENT, documents)
            if any(row[0] != 1 for row in rows):
                raise Unavailable("a document was created concurrently; deciding one by one")
        upserts = [upsert_args(d, u, *r) for (d, u), r in changes.items() if r is not None]
        deletes = [(d, u) for (d, u), r in changes.items() if r is None]
        if upserts:
            await self.conn.executemany(UPSERT_SHARE, upserts)
        if deletes:
            await self.conn.executemany(DELETE_SHARE, deletes)

    # what each write changes in what the unit knows

    def document_added(self, doc_id: str) -> None:
        self.exists[doc_id] = True
        self.document_changed(doc_id)

    def document_changed(self, doc_id: str) -> None:
        for key in [k for k in self.access if k[0] == doc_id]:
            del self.access[key]

    def share_changed(self, doc_id: str, user_id: str, role: Role | None) -> None:
        self.shares[doc_id, user_id] = role
        self.access.pop((doc_id, user_id), None)

    def membership_changed(self) -> None:
        """Rare: forget every answer that holds an org role."""
        self.folder_roles.clear()
        self.access.clear()
        self.memberships.clear()

    def folder_added(self) -> None:
        self.folder_roles.clear()


class Flushing:
    """The unit's connection as its repositories see it: every statement first writes what
    the unit queued, so that no read misses a write of the same unit."""

    def __init__(self, state: GroupState) -> None:
        self._state = state
        self._conn = state.conn

    async def execute(self, sql: str, /, *args: Any) -> str:
        if self._state.pending:
            await self._state.flush()
        return await self._conn.execute(sql, *args)

    async def fetch(self, sql: str, /, *args: Any) -> list[Record]:
        if self._state.pending:
            await self._state.flush()
        return await self._conn.fetch(sql, *args)

    async def fetchrow(self, sql: str, /, *args: Any) -> Record | None:
        if self._state.pending:
            await self._state.flush()
        return await self._conn.fetchrow(sql, *args)

    async def fetchval(self, sql: str, /, *args: Any) -> Any:
        if self._state.pending:
            await self._state.flush()
        return await self._conn.fetchval(sql, *args)
