"""Repositories over one connection of a unit of work, in hand-written SQL.

Semantics match core.ports and the in-memory fake; correctness under concurrency comes
from row locks, unique constraints and (for memberships) a transaction advisory lock,
so READ COMMITTED is enough.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import asyncpg
from asyncpg import Record

from adapters.postgres.database import Conn
from adapters.postgres.errors import translate_errors
from adapters.postgres.inbox import PgInbox, prune_inbox
from adapters.postgres.statements import ADD_DOCUMENT, DELETE_SHARE, UPSERT_SHARE
from adapters.postgres.tree import folder_of
from adapters.postgres.tree_sql import ABOVE_IN_TRASH, FOLDER_COLUMNS, folder_in_trash
from adapters.postgres.unit_state import Connection, UnitState
from core.cursor import Cursor
from core.entities import Content, Document, DocumentVersion, Folder, Membership, Share
from core.errors import FolderIdTaken, FolderNameTaken
from core.policies import Access
from core.values import OrgRole, Role

__all__ = [
    "PgDocuments", "PgFolders", "PgInbox", "PgMemberships", "PgShares", "page_sql", "prune_inbox",
]

# Listings read live folders only: their documents' folder is not in the trash.
SELECT_DOCUMENT = """
SELECT doc_id, org_id, folder_id, owner_id, version, name, mime_type, blob_uri, size_bytes,
    sha256, tags, created_at, updated_at, trashed_at, trashed_by, false AS folder_trashed
FROM documents d
"""
# Trash state (contract v2): the document's own, and its folder's (or one above it).
TRASH_COLUMNS = f"d.trashed_at, d.trashed_by, {folder_in_trash('d.folder_id')} AS folder_trashed"
GET_DOCUMENT = f"""
SELECT d.doc_id, d.org_id, d.folder_id, d.owner_id, d.version, d.name, d.mime_type,
    d.blob_uri, d.size_bytes, d.sha256, d.tags, d.created_at, d.updated_at, {TRASH_COLUMNS}
FROM documents d WHERE d.doc_id = $1
"""  # noqa: S608 - constants only
LOCK_DOCUMENT = GET_DOCUMENT + " FOR UPDATE"
# One round trip for a document and its reader's access (org role, document role).
DOCUMENT_WITH_ACCESS = f"""
SELECT d.doc_id, d.org_id, d.folder_id, d.owner_id, d.version, d.name, d.mime_type,
    d.blob_uri, d.size_bytes, d.sha256, d.tags, d.created_at, d.updated_at, {TRASH_COLUMNS},
    m.role AS org_role, s.role AS doc_role
FROM documents d
LEFT JOIN memberships m ON m.org_id = d.org_id AND m.user_id = $2
LEFT JOIN shares s ON s.doc_id = d.doc_id AND s.user_id = $2
WHERE d.doc_id = $1
"""  # noqa: S608 - constants only
LOCK_DOCUMENT_WITH_ACCESS = DOCUMENT_WITH_ACCESS + " FOR UPDATE OF d"
# v1 reads see live folders only: a folder in the trash (or below one) does not exist.
LIVE_FOLDER = f"f.trashed_at IS NULL AND NOT {ABOVE_IN_TRASH}"
GET_FOLDER = f"SELECT {FOLDER_COLUMNS} FROM folders f WHERE f.folder_id = $1 AND {LIVE_FOLDER}"  # noqa: S608
FOLDER_WITH_ROLE = f"""
SELECT {FOLDER_COLUMNS}, m.role
FROM folders f LEFT JOIN memberships m ON m.org_id = f.org_id AND m.user_id = $2
WHERE f.folder_id = $1 AND {LIVE_FOLDER}
"""  # noqa: S608 - constants only
# Read-ahead of a grouped unit (see unit_state): one statement for a whole group's keys.
# The roles are looked up per key with scalar subqueries: joined to the unnest() rows
# instead, the planner probed memberships by org_id alone and filtered by user_id (every
# member of the org, per document: 31 ms a group with 6,400 members, measured).
PRELOAD_FOLDER_ROLES = f"""
SELECT p.folder_id AS key, p.user_id AS reader, {FOLDER_COLUMNS},
    (SELECT m.role FROM memberships m WHERE m.org_id = f.org_id AND m.user_id = p.user_id)
        AS role
FROM unnest($1::text[], $2::text[]) AS p(folder_id, user_id)
LEFT JOIN folders f ON f.folder_id = p.folder_id AND {LIVE_FOLDER}
"""  # noqa: S608 - constants only
PRELOAD_ACCESS = f"""
SELECT p.user_id AS reader, d.doc_id, d.org_id, d.folder_id, d.owner_id, d.version, d.name,
    d.mime_type, d.blob_uri, d.size_bytes, d.sha256, d.tags, d.created_at, d.updated_at,
    {TRASH_COLUMNS},
    (SELECT m.role FROM memberships m WHERE m.org_id = d.org_id AND m.user_id = p.user_id)
        AS org_role,
    (SELECT s.role FROM shares s WHERE s.doc_id = d.doc_id AND s.user_id = p.user_id)
        AS doc_role
FROM unnest($1::text[], $2::text[]) AS p(doc_id, user_id)
JOIN documents d ON d.doc_id = p.doc_id
ORDER BY d.doc_id
"""  # noqa: S608 - constants only
PRELOAD_ACCESS_LOCKED = PRELOAD_ACCESS + " FOR UPDATE OF d"
PRELOAD_EXISTING = "SELECT doc_id FROM documents WHERE doc_id = ANY($1::text[])"
PRELOAD_MEMBERSHIPS = """
SELECT p.org_id, p.user_id,
    (SELECT m.role FROM memberships m WHERE m.org_id = p.org_id AND m.user_id = p.user_id)
        AS role
FROM unnest($1::text[], $2::text[]) AS p(org_id, user_id)
"""
PRELOAD_SHARES = """
SELECT p.doc_id, p.user_id,
    (SELECT s.role FROM shares s WHERE s.doc_id = p.doc_id AND s.user_id = p.user_id) AS role
FROM unnest($1::text[], $2::text[]) AS p(doc_id, user_id)
"""
VERSIONS = """
SELECT doc_id, version, name, mime_type, blob_uri, size_bytes, sha256, tags, uploaded_by,
    uploaded_at
FROM document_versions WHERE doc_id = $1 ORDER BY version
"""


def _folder_role(row: Record | None) -> tuple[Folder | None, OrgRole | None]:
    if row is None or row["folder_id"] is None:
        return None, None
    return folder_of(row), OrgRole(row["role"]) if row["role"] else None


def _content(row: Record) -> Content:
    return Content(
        row["name"], row["mime_type"], row["blob_uri"], tuple(row["tags"]),
        row["size_bytes"], row["sha256"],
    )


def _content_args(content: Content) -> tuple[object, ...]:
    return (
        content.name, content.mime_type, content.blob_uri, content.size_bytes,
        content.sha256, list(content.tags),
    )


def _document(row: Record) -> Document:
    return Document(
        row["doc_id"], row["org_id"], row["folder_id"], row["owner_id"], row["version"],
        _content(row), row["created_at"], row["updated_at"], row["trashed_at"],
        row["trashed_by"], row["folder_trashed"],
    )


def _with_access(row: Record | None, user_id: str) -> tuple[Document | None, Access]:
    if row is None:
        return None, Access(user_id, None, None)
    org_role = OrgRole(row["org_role"]) if row["org_role"] else None
    doc_role = Role(row["doc_role"]) if row["doc_role"] else None
    return _document(row), Access(user_id, org_role, doc_role)


def _version(row: Record) -> DocumentVersion:
    return DocumentVersion(
        row["doc_id"], row["version"], _content(row), row["uploaded_by"], row["uploaded_at"]
    )


def _version_args(version: DocumentVersion) -> tuple[object, ...]:
    return (
        version.doc_id, version.version, *_content_args(version.content),
        version.uploaded_by, version.uploaded_at,
    )


def _unseen(pairs: Sequence[tuple[str, str]], known: Mapping[tuple[str, str], object]) -> list[
    tuple[str, str]
]:
    return [pair for pair in dict.fromkeys(pairs) if pair not in known]


def _columns(pairs: Sequence[tuple[str, str]]) -> tuple[list[str], list[str]]:
    return [a for a, _ in pairs], [b for _, b in pairs]


@translate_errors
class PgFolders:
    def __init__(self, conn: Conn | Connection, state: UnitState) -> None:
        self._conn = conn
        self._state = state

    async def get(self, folder_id: str) -> Folder | None:
        row = await self._conn.fetchrow(GET_FOLDER, folder_id)
        return folder_of(row) if row else None

    async def get_with_role(
        self, folder_id: str, user_id: str
    ) -> tuple[Folder | None, OrgRole | None]:
        known = self._state.folder_roles.get((folder_id, user_id))
        if known is not None:
            return known
        row = await self._conn.fetchrow(FOLDER_WITH_ROLE, folder_id, user_id)
        return _folder_role(row)

    async def preload_with_roles(self, pairs: Sequence[tuple[str, str]]) -> None:
        wanted = _unseen(pairs, self._state.folder_roles)
        if wanted:
            rows = await self._conn.fetch(PRELOAD_FOLDER_ROLES, *_columns(wanted))
            for row in rows:
                self._state.folder_roles[row["key"], row["reader"]] = _folder_role(row)

    async def add(self, folder: Folder) -> None:
        """The failed INSERT aborts the transaction: fine, a domain error ends the unit."""
        try:
            await self._conn.execute(
                "INSERT INTO folders (folder_id, org_id, parent_id, name, path, ancestors)"
                " VALUES ($1, $2, $3, $4, $5, $6)",
                folder.folder_id, folder.org_id, folder.parent_id, folder.name, folder.path,
                list(folder.ancestors),
            )
            self._state.folder_added()
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == "folders_pkey":
                raise FolderIdTaken(folder.folder_id) from exc
            if exc.constraint_name == "uq_folders_sibling_name":
                raise FolderNameTaken(folder.name) from exc
            raise


ADD_VERSION = """
WITH ver AS (
    INSERT INTO document_versions (doc_id, version, name, mime_type, blob_uri, size_bytes,
        sha256, tags, uploaded_by, uploaded_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
)
UPDATE documents SET version = $2, name = $3, mime_type = $4, blob_uri = $5,
    size_bytes = $6, sha256 = $7, tags = $8, updated_at = $11
WHERE doc_id = $1
"""


def page_sql(*, everything: bool, after: bool) -> str:
    """The keyset listing query: an index range scan on ix_documents_listing.

    Parameters: $1 folder_id, $2 limit, then $3 reader_id unless ``everything``, then the
    cursor's updated_at and doc_id if ``after``.
    """
    conditions = ["folder_id = $1", "trashed_at IS NULL"]
    n = 3
    if not everything:
        conditions.append(
            f"EXISTS (SELECT 1 FROM shares s WHERE s.doc_id = d.doc_id AND s.user_id = ${n})"  # noqa: S608 - placeholders only
        )
        n += 1
    if after:
        conditions.append(f"(updated_at, doc_id) < (${n}, ${n + 1})")
    where = " AND ".join(conditions)
    return SELECT_DOCUMENT + f"WHERE {where} ORDER BY updated_at DESC, doc_id DESC LIMIT $2"


PAGE_SQL = {(e, a): page_sql(everything=e, after=a) for e in (False, True) for a in (False, True)}


@translate_errors
class PgDocuments:
    def __init__(self, conn: Conn | Connection, state: UnitState) -> None:
        self._conn = conn
        self._state = state

    async def get(self, doc_id: str) -> Document | None:
        row = await self._conn.fetchrow(GET_DOCUMENT, doc_id)
        return _document(row) if row else None

    async def lock(self, doc_id: str) -> Document | None:
        row = await self._conn.fetchrow(LOCK_DOCUMENT, doc_id)
        return _document(row) if row else None

    async def get_with_access(
        self, doc_id: str, user_id: str, *, lock: bool = False
    ) -> tuple[Document | None, Access]:
        known = self._state.access.get((doc_id, user_id))
        if known is not None and (known[2] or not lock):
            return known[0], known[1]
        sql = LOCK_DOCUMENT_WITH_ACCESS if lock else DOCUMENT_WITH_ACCESS
        row = await self._conn.fetchrow(sql, doc_id, user_id)
        return _with_access(row, user_id)

    async def preload(self, doc_ids: Sequence[str]) -> None:
        wanted = [d for d in dict.fromkeys(doc_ids) if d not in self._state.exists]
        if wanted:
            found = {row[0] for row in await self._conn.fetch(PRELOAD_EXISTING, wanted)}
            for doc_id in wanted:
                self._state.exists[doc_id] = doc_id in found

    async def preload_with_access(
        self, pairs: Sequence[tuple[str, str]], *, lock: bool = False
    ) -> list[Document]:
        wanted = [
            p for p in dict.fromkeys(pairs)
            if p not in self._state.access or (lock and not self._state.access[p][2])
        ]
        if wanted:
            sql = PRELOAD_ACCESS_LOCKED if lock else PRELOAD_ACCESS
            rows = await self._conn.fetch(sql, *_columns(wanted))
            found = {(row["doc_id"], row["reader"]): row for row in rows}
            for doc_id, user_id in wanted:
                document, access = _with_access(found.get((doc_id, user_id)), user_id)
                self._state.access[doc_id, user_id] = (document, access, lock)
                self._state.exists[doc_id] = document is not None
        documents = (self._state.access[p][0] for p in dict.fromkeys(pairs))
        return list({d.doc_id: d for d in documents if d is not None}.values())

    async def add(
        self, document: Document, version: DocumentVersion, shares: Sequence[Share] = ()
    ) -> bool:
        d = document
        exists = self._state.exists.get(d.doc_id)
        if exists:
            return False
        granted = [s for s in shares if s.role is not None]
        args = (
            d.doc_id, d.org_id, d.folder_id, d.owner_id, d.version, *_content_args(d.content),
            d.created_at, d.updated_at, *_version_args(version),
            [s.user_id for s in granted], [s.role for s in granted],
        )
        if exists is None or not self._state.grouped:
            added = bool(await self._conn.fetchval(ADD_DOCUMENT, *args) == 1)
        else:  # known to be new: written with the group's other new documents
            self._state.new_documents.append(args)
            added = True
        if added:
            self._state.document_added(d.doc_id)
            for share in granted:
                self._state.share_changed(d.doc_id, share.user_id, share.role)
        self._state.exists[d.doc_id] = True
        return added

    async def add_version(self, document: Document, version: DocumentVersion) -> None:
        await self._conn.execute(ADD_VERSION, *_version_args(version), document.updated_at)
        self._state.document_changed(document.doc_id)

    async def versions(self, doc_id: str) -> list[DocumentVersion]:
        rows = await self._conn.fetch(VERSIONS, doc_id)
        return [_version(row) for row in rows]

    async def page(
        self, folder_id: str, reader_id: str, *, everything: bool, limit: int, after: Cursor | None
    ) -> list[Document]:
        args: list[object] = [folder_id, limit]
        if not everything:
            args.append(reader_id)
        if after is not None:
            args += [after.updated_at, after.doc_id]
        rows = await self._conn.fetch(PAGE_SQL[everything, after is not None], *args)
        return [_document(row) for row in rows]


# The advisory lock serializes puts of one (org, user) even while its row does not exist
# yet (a row lock would have nothing to hold); '/' cannot occur in an identifier.
LOCK_MEMBERSHIP = "SELECT pg_advisory_xact_lock(hashtextextended($1 || '/' || $2, 0))"
UPSERT_MEMBERSHIP = """
WITH before AS (SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2)
INSERT INTO memberships (org_id, user_id, role) VALUES ($1, $2, $3)
ON CONFLICT (org_id, user_id) DO UPDATE SET role = EXCLUDED.role
RETURNING (SELECT role FROM before)
"""
DELETE_MEMBERSHIP = "DELETE FROM memberships WHERE org_id = $1 AND user_id = $2 RETURNING role"


@translate_errors
class PgMemberships:
    def __init__(self, conn: Conn | Connection, state: UnitState) -> None:
        self._conn = conn
        self._state = state

    async def role_of(self, org_id: str, user_id: str) -> OrgRole | None:
        if (org_id, user_id) in self._state.memberships:
            return self._state.memberships[org_id, user_id]
        role: str | None = await self._conn.fetchval(
            "SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2", org_id, user_id
        )
        return OrgRole(role) if role else None

    async def preload(self, pairs: Sequence[tuple[str, str]]) -> None:
        wanted = _unseen(pairs, self._state.memberships)
        if wanted:
            for row in await self._conn.fetch(PRELOAD_MEMBERSHIPS, *_columns(wanted)):
                role = row["role"]
                self._state.memberships[row["org_id"], row["user_id"]] = (
                    OrgRole(role) if role else None
                )

    async def put(self, membership: Membership) -> OrgRole | None:
        """Lock, then read-and-write in a statement whose snapshot starts after the lock."""
        m = membership
        await self._conn.execute(LOCK_MEMBERSHIP, m.org_id, m.user_id)
        if m.role is None:
            before = await self._conn.fetchval(DELETE_MEMBERSHIP, m.org_id, m.user_id)
        else:
            before = await self._conn.fetchval(UPSERT_MEMBERSHIP, m.org_id, m.user_id, m.role)
        self._state.membership_changed()
        return OrgRole(before) if before else None


@translate_errors
class PgShares:
    def __init__(self, conn: Conn | Connection, state: UnitState) -> None:
        self._conn = conn
        self._state = state

    async def role_of(self, doc_id: str, user_id: str) -> Role | None:
        if (doc_id, user_id) in self._state.shares:
            return self._state.shares[doc_id, user_id]
        role: str | None = await self._conn.fetchval(
            "SELECT role FROM shares WHERE doc_id = $1 AND user_id = $2", doc_id, user_id
        )
        return Role(role) if role else None

    async def preload(self, pairs: Sequence[tuple[str, str]]) -> None:
        wanted = _unseen(pairs, self._state.shares)
        if wanted:
            for row in await self._conn.fetch(PRELOAD_SHARES, *_columns(wanted)):
                role = row["role"]
                self._state.shares[row["doc_id"], row["user_id"]] = Role(role) if role else None

    async def put(self, doc_id: str, user_id: str, role: Role | None) -> None:
        if self._state.grouped:  # written with the group's other share changes
            self._state.share_changes[doc_id, user_id] = role
        elif role is None:
            await self._conn.execute(DELETE_SHARE, doc_id, user_id)
        else:
            await self._conn.execute(UPSERT_SHARE, doc_id, user_id, role)
        self._state.share_changed(doc_id, user_id, role)

    async def owners(self, doc_id: str) -> int:
        count: int = await self._conn.fetchval(
            "SELECT count(*) FROM shares WHERE doc_id = $1 AND role = 'owner'", doc_id
        )
        return count
