"""What a grouped unit of work knows without asking again, and what it has yet to write.

A group commit runs many commands in one transaction, one after the other. Run naively,
each command costs its own round trips, and under load every round trip costs a turn of
the worker's busy event loop: the group's time grows with its size. So a grouped unit

- reads ahead: a use case preloads what its commands will read, one statement per kind
  of read for the whole group (``preload_*``); later reads of those keys are answered
  from ``UnitState`` without a round trip;
- writes behind: new documents and share changes are queued and written together
  (asyncpg sends the statements in one pipelined round trip) just before the next
  statement that could see them, or at commit.

Reads stay exactly what they would be without this: every write of the unit either
updates the keys it changes here or drops them (to be read again, after the queued writes
went out), and ``Connection`` flushes the queue before any other statement. Rows the
commands lock are locked by the preload itself (in doc_id order, so that two groups never
deadlock on them). A queued document insert that finds the doc_id taken by a concurrent
transaction raises Unavailable at the flush: the group is then run command by command.
"""

from __future__ import annotations

from typing import Any

from adapters.postgres.database import Conn
from adapters.postgres.statements import ADD_DOCUMENT, DELETE_SHARE, UPSERT_SHARE
from core.entities import Document, Folder
from core.errors import Unavailable
from core.policies import Access
from core.values import OrgRole, Role

FolderRole = tuple[Folder | None, OrgRole | None]


class UnitState:
    """The read-ahead answers and the write-behind queue of one grouped unit."""

    def __init__(self, conn: Conn, *, grouped: bool) -> None:
        self.conn = conn
        self.grouped = grouped
        self.folder_roles: dict[tuple[str, str], FolderRole] = {}
        self.access: dict[tuple[str, str], tuple[Document | None, Access, bool]] = {}
        """(doc_id, user_id) -> (document, access, whether the document row is locked)."""
        self.exists: dict[str, bool] = {}
        self.memberships: dict[tuple[str, str], OrgRole | None] = {}
        self.shares: dict[tuple[str, str], Role | None] = {}
        self.new_documents: list[tuple[Any, ...]] = []
        """Argument tuples of ADD_DOCUMENT, in the order the commands added them."""
        self.share_changes: dict[tuple[str, str], Role | None] = {}
        self.flushes = 0

    @property
    def pending(self) -> bool:
        return bool(self.new_documents or self.share_changes)

    async def flush(self) -> None:
        """Write what is queued: documents first (shares refer to them), then shares."""
        if not self.pending:
            return
        documents, self.new_documents = self.new_documents, []
        changes, self.share_changes = self.share_changes, {}
        self.flushes += 1
        if documents:
            rows = await self.conn.fetchmany(ADD_DOCUMENT, documents)
            if any(row[0] != 1 for row in rows):
                raise Unavailable("a document was created concurrently; deciding one by one")
        upserts = [(d, u, r.value) for (d, u), r in changes.items() if r is not None]
        deletes = [(d, u) for (d, u), r in changes.items() if r is None]
        if upserts:
            await self.conn.executemany(UPSERT_SHARE, upserts)
        if deletes:
            await self.conn.executemany(DELETE_SHARE, deletes)

    # what each write changes in what the unit knows

    def document_added(self, doc_id: str) -> None:
        self.exists[doc_id] = True
        self._forget_access(doc_id)

    def document_changed(self, doc_id: str) -> None:
        self._forget_access(doc_id)

    def share_changed(self, doc_id: str, user_id: str, role: Role | None) -> None:
        self.shares[(doc_id, user_id)] = role
        self.access.pop((doc_id, user_id), None)

    def membership_changed(self) -> None:
        """Rare: forget every answer that holds an org role."""
        self.folder_roles.clear()
        self.access.clear()
        self.memberships.clear()

    def folder_added(self) -> None:
        self.folder_roles.clear()

    def _forget_access(self, doc_id: str) -> None:
        for key in [k for k in self.access if k[0] == doc_id]:
            del self.access[key]


class Connection:
    """The unit's connection as the repositories see it: every statement first writes what
    the unit queued, so that no read misses a write of the same unit."""

    def __init__(self, state: UnitState) -> None:
        self._state = state
        self._conn = state.conn

    async def execute(self, sql: str, *args: Any) -> str:
        if self._state.pending:
            await self._state.flush()
        return await self._conn.execute(sql, *args)

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        if self._state.pending:
            await self._state.flush()
        return await self._conn.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> Any:
        if self._state.pending:
            await self._state.flush()
        return await self._conn.fetchrow(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        if self._state.pending:
            await self._state.flush()
        return await self._conn.fetchval(sql, *args)
