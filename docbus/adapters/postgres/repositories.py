"""Repositories over one connection of a unit of work, in hand-written SQL: one statement
per call, nothing remembered (a grouped unit adds its read-ahead and write-behind around
them, in adapters.postgres.grouped_unit).

Semantics match core.ports and the in-memory fake; correctness under concurrency comes
from row locks, unique constraints and (for memberships) a transaction advisory lock,
so READ COMMITTED is enough.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Literal, Protocol

import asyncpg
from asyncpg import Record

from docbus.adapters.postgres.access_filter import ReadableSql, readable_sql
from docbus.adapters.postgres.errors import translate_errors
from docbus.adapters.postgres.tree_sql import (
    ABOVE_IN_TRASH,
    DELETE_FOLDER_SHARE,
    DOCUMENT_COLUMNS,
    FOLDER_COLUMNS,
    LIVE_SHARE,
    folder_in_trash,
    folder_of,
    inherited_role,
    inherited_until,
)
from docbus.core.access import Grant
from docbus.core.cursor import Cursor
from docbus.core.decisions import AccessDecider, Question, ReadableFilter, summary_grants
from docbus.core.entities import (
    Content,
    Document,
    DocumentVersion,
    Folder,
    Membership,
    Share,
    ShareGrant,
)
from docbus.core.errors import FolderIdTaken, FolderNameTaken
from docbus.core.lifecycle import FolderAccess
from docbus.core.policies import Access
from docbus.core.sharing import ExpiredGrant, SharedItem, SharedPosition
from docbus.core.values import OrgRole, Role


class Statements(Protocol):
    """What a repository sends its SQL through: the unit's connection (or a grouped unit's
    view of it, which first writes what the group queued)."""

    async def execute(self, sql: str, /, *args: Any) -> str: ...
    async def fetch(self, sql: str, /, *args: Any) -> list[Record]: ...
    async def fetchrow(self, sql: str, /, *args: Any) -> Record | None: ...
    async def fetchval(self, sql: str, /, *args: Any) -> Any: ...


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
# One round trip for a document and its reader's access: org role, live document share,
# highest live folder share on its folder or above, and when the earliest of those expires
# (contract v2, section 1; core.access is the same rule in Python).
DOCUMENT_WITH_ACCESS = f"""
SELECT d.doc_id, d.org_id, d.folder_id, d.owner_id, d.version, d.name, d.mime_type,
    d.blob_uri, d.size_bytes, d.sha256, d.tags, d.created_at, d.updated_at, {TRASH_COLUMNS},
    m.role AS org_role, s.role AS doc_role, s.expires_at AS doc_until,
    {inherited_role('d.folder_id', '$2')} AS folder_role,
    {inherited_until('d.folder_id', '$2')} AS folder_until
FROM documents d
LEFT JOIN memberships m ON m.org_id = d.org_id AND m.user_id = $2
LEFT JOIN shares s ON s.doc_id = d.doc_id AND s.user_id = $2 AND {LIVE_SHARE}
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
VERSIONS = """
SELECT doc_id, version, name, mime_type, blob_uri, size_bytes, sha256, tags, uploaded_by,
    uploaded_at
FROM document_versions WHERE doc_id = $1 ORDER BY version
"""


def folder_role(row: Record | None) -> tuple[Folder | None, OrgRole | None]:
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


def with_access(row: Record | None, user_id: str) -> tuple[Document | None, Access]:
    """From a row of DOCUMENT_WITH_ACCESS (or the read-ahead's ACCESS)."""
    if row is None:
        return None, Access(user_id, None, None)
    org_role = OrgRole(row["org_role"]) if row["org_role"] else None
    ends = [at for at in (row["doc_until"], row["folder_until"]) if at is not None]
    doc_role, folder_role = _role(row["doc_role"]), _role(row["folder_role"])
    access = Access(
        user_id, org_role, doc_role, folder_role, min(ends) if ends else None,
        grants=summary_grants(doc_role, row["doc_until"], folder_role),
    )
    return _document(row), access


def _role(value: str | None) -> Role | None:
    return Role(value) if value else None


def _version(row: Record) -> DocumentVersion:
    return DocumentVersion(
        row["doc_id"], row["version"], _content(row), row["uploaded_by"], row["uploaded_at"]
    )


def _version_args(version: DocumentVersion) -> tuple[object, ...]:
    return (
        version.doc_id, version.version, *_content_args(version.content),
        version.uploaded_by, version.uploaded_at,
    )


def document_row(
    document: Document, version: DocumentVersion, shares: Sequence[Share]
) -> tuple[object, ...]:
    """The arguments of ADD_DOCUMENT (shares without a role skipped)."""
    d = document
    granted = [s for s in shares if s.role is not None]
    return (
        d.doc_id, d.org_id, d.folder_id, d.owner_id, d.version, *_content_args(d.content),
        d.created_at, d.updated_at, *_version_args(version),
        [s.user_id for s in granted], [s.role for s in granted],
    )


# ON CONFLICT DO NOTHING waits for a concurrent inserter of the same doc_id to finish and
# then skips without aborting the transaction; the version and share rows are written only
# if the document was (the foreign keys are checked at the end of the statement).
ADD_DOCUMENT = """
WITH doc AS (
    INSERT INTO documents (doc_id, org_id, folder_id, owner_id, version, name, mime_type,
        blob_uri, size_bytes, sha256, tags, created_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
    ON CONFLICT (doc_id) DO NOTHING
    RETURNING doc_id
), ver AS (
    INSERT INTO document_versions (doc_id, version, name, mime_type, blob_uri, size_bytes,
        sha256, tags, uploaded_by, uploaded_at)
    SELECT $14::text, $15::int, $16::text, $17::text, $18::text, $19::bigint, $20::text,
        $21::text[], $22::text, $23::timestamptz
    FROM doc
), shared AS (
    INSERT INTO shares (doc_id, user_id, role, shared_by, shared_at)
    SELECT doc.doc_id, s.user_id, s.role, $4::text, $12::timestamptz
    FROM doc, unnest($24::text[], $25::text[]) AS s(user_id, role)
)
SELECT count(*) FROM doc
"""
UPSERT_SHARE = """
INSERT INTO shares (doc_id, user_id, role, shared_by, shared_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (doc_id, user_id) DO UPDATE SET role = EXCLUDED.role,
    shared_by = EXCLUDED.shared_by, shared_at = EXCLUDED.shared_at,
    expires_at = EXCLUDED.expires_at
"""
DELETE_SHARE = "DELETE FROM shares WHERE doc_id = $1 AND user_id = $2"
# Expired shares count for nothing, whether or not the sweeper removed them yet.
GET_SHARE = f"""
SELECT s.doc_id, s.user_id, s.role, s.shared_by, s.shared_at, s.expires_at FROM shares s
WHERE s.doc_id = $1 AND s.user_id = $2 AND {LIVE_SHARE}
"""  # noqa: S608 - constants only
OWNERS = f"SELECT count(*) FROM shares s WHERE s.doc_id = $1 AND s.role = 'owner' AND {LIVE_SHARE}"  # noqa: S608

# least() skips nulls; each side walks the user's own shares (ix_shares_user,
# ix_folder_shares_user), whatever the size of the org.
GRANTS_UNTIL = """
SELECT least(
    (SELECT min(s.expires_at) FROM shares s JOIN documents d ON d.doc_id = s.doc_id
        WHERE s.user_id = $1 AND d.org_id = $2 AND s.expires_at > now()),
    (SELECT min(s.expires_at) FROM folder_shares s JOIN folders f ON f.folder_id = s.folder_id
        WHERE s.user_id = $1 AND f.org_id = $2 AND s.expires_at > now()))
"""

# Every live grant on a document held by a member of its org ($2: one user, or NULL for
# all): its own shares, folder shares on its folder and above (primary-key probes on
# folder_shares), and the org's admins.
GRANTS = f"""
WITH d AS (SELECT d.doc_id, d.org_id, t.ancestors || t.folder_id::text AS chain
           FROM documents d JOIN folders t ON t.folder_id = d.folder_id WHERE d.doc_id = $1)
SELECT s.user_id, s.role, 'document' AS source, NULL::text AS folder_id, s.expires_at
FROM d JOIN shares s ON s.doc_id = d.doc_id
JOIN memberships m ON m.org_id = d.org_id AND m.user_id = s.user_id
WHERE {LIVE_SHARE} AND ($2::text IS NULL OR s.user_id = $2)
UNION ALL
SELECT s.user_id, s.role, 'folder', s.folder_id, s.expires_at
FROM d JOIN folder_shares s ON s.folder_id = ANY(d.chain)
JOIN memberships m ON m.org_id = d.org_id AND m.user_id = s.user_id
WHERE {LIVE_SHARE} AND ($2::text IS NULL OR s.user_id = $2)
UNION ALL
SELECT m.user_id, 'owner', 'org_admin', NULL, NULL
FROM d JOIN memberships m ON m.org_id = d.org_id
WHERE m.role = 'admin' AND ($2::text IS NULL OR m.user_id = $2)
"""  # noqa: S608 - constants only


def _with_me(kind: str, *, after: bool) -> str:
    """Grants made to $1 by someone else in org $2, newest first, $3 limit, then the
    position; live, on items not in the trash (core.sharing)."""
    if kind == "document":
        select = (
            f"SELECT {DOCUMENT_COLUMNS}, false AS folder_trashed, s.role AS grant_role,"  # noqa: S608
            " s.shared_by, s.shared_at, s.expires_at AS grant_expires"
            " FROM shares s JOIN documents d ON d.doc_id = s.doc_id"
        )
        where = ["d.org_id = $2", "d.trashed_at IS NULL",
                 f"NOT {folder_in_trash('d.folder_id')}"]
        item = "s.doc_id"
    else:
        select = (
            f"SELECT {FOLDER_COLUMNS}, s.role AS grant_role, s.shared_by, s.shared_at,"  # noqa: S608
            " s.expires_at AS grant_expires"
            " FROM folder_shares s JOIN folders f ON f.folder_id = s.folder_id"
        )
        where = ["f.org_id = $2", "f.trashed_at IS NULL", f"NOT {ABOVE_IN_TRASH}"]
        item = "s.folder_id"
    where += ["s.user_id = $1", "s.shared_by <> $1", LIVE_SHARE]
    if after:
        where.append(f"(s.shared_at, '{kind}'::text, {item}) < ($4, $5::text, $6::text)")
    return (f"{select} WHERE {' AND '.join(where)}"
            f" ORDER BY s.shared_at DESC, {item} DESC LIMIT $3")


WITH_ME_DOCUMENTS = {a: _with_me("document", after=a) for a in (False, True)}
WITH_ME_FOLDERS = {a: _with_me("folder", after=a) for a in (False, True)}


def _shared(row: Record, document: Document | None, folder: Folder | None) -> SharedItem:
    kind: Literal["document", "folder"] = "document" if document is not None else "folder"
    return SharedItem(kind, document, folder, Role(row["grant_role"]), row["shared_by"],
                      row["shared_at"], row["grant_expires"])

# One expiry sweeper at a time across workers; rows a command holds are skipped until
# the next round (the partial ix_*_expiring indexes find the due ones).
EXPIRY_SWEEPER_LOCK = (
    "SELECT pg_try_advisory_xact_lock(hashtextextended('docbus/share-expiry-sweeper', 0))"
)
EXPIRED_DOCUMENT_SHARES = """
SELECT s.doc_id AS item_id, d.org_id, s.user_id, s.role, s.expires_at
FROM shares s JOIN documents d ON d.doc_id = s.doc_id
WHERE s.expires_at IS NOT NULL AND s.expires_at <= $1
ORDER BY s.expires_at, s.doc_id, s.user_id LIMIT $2
FOR UPDATE OF s SKIP LOCKED
"""
EXPIRED_FOLDER_SHARES = """
SELECT s.folder_id AS item_id, f.org_id, s.user_id, s.role, s.expires_at
FROM folder_shares s JOIN folders f ON f.folder_id = s.folder_id
WHERE s.expires_at IS NOT NULL AND s.expires_at <= $1
ORDER BY s.expires_at, s.folder_id, s.user_id LIMIT $2
FOR UPDATE OF s SKIP LOCKED
"""


def _expired(kind: Literal["document", "folder"], row: Record) -> ExpiredGrant:
    return ExpiredGrant(kind, row["item_id"], row["org_id"], row["user_id"], Role(row["role"]),
                        row["expires_at"])


def share_of(row: Record) -> Share:
    return Share(row["doc_id"], row["user_id"], Role(row["role"]), row["expires_at"],
                 row["shared_by"], row["shared_at"])


def upsert_args(
    doc_id: str, user_id: str, role: Role, grant: ShareGrant | None
) -> tuple[object, ...]:
    """The arguments of UPSERT_SHARE."""
    g = grant or ShareGrant()
    return (doc_id, user_id, role.value, g.shared_by, g.shared_at, g.expires_at)
INSERT_FOLDER = """
INSERT INTO folders (folder_id, org_id, parent_id, name, path, ancestors)
VALUES ($1, $2, $3, $4, $5, $6)
"""


@translate_errors
class PgFolders:
    def __init__(self, conn: Statements) -> None:
        self._conn = conn

    async def get(self, folder_id: str) -> Folder | None:
        row = await self._conn.fetchrow(GET_FOLDER, folder_id)
        return folder_of(row) if row else None

    async def get_with_role(
        self, folder_id: str, user_id: str
    ) -> tuple[Folder | None, OrgRole | None]:
        return folder_role(await self._conn.fetchrow(FOLDER_WITH_ROLE, folder_id, user_id))

    async def add(self, folder: Folder) -> None:
        """The failed INSERT aborts the transaction: fine, a domain error ends the unit."""
        f = folder
        try:
            await self._conn.execute(
                INSERT_FOLDER, f.folder_id, f.org_id, f.parent_id, f.name, f.path,
                list(f.ancestors),
            )
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


def page_sql(readable: ReadableSql, *, reader: bool, after: int | None) -> str:
    """The keyset listing query: an index range scan on ix_documents_listing, filtered by
    the reader's access (adapters.postgres.access_filter).

    Parameters: $1 folder_id, $2 limit, then $3 the reader's user_id if the filter needs
    it, then the filter's own values, then (``after``: its first number) the cursor's
    updated_at and doc_id.
    """
    conditions = ["d.folder_id = $1", "d.trashed_at IS NULL", f"({readable.where})"]
    if after is not None:
        conditions.append(f"(d.updated_at, d.doc_id) < (${after}, ${after + 1})")
    where = " AND ".join(conditions)
    return (SELECT_DOCUMENT + readable.joins
            + f" WHERE {where} ORDER BY d.updated_at DESC, d.doc_id DESC LIMIT $2")


PAGE_SQL = {
    (everything, after): page_sql(
        readable_sql(ReadableFilter("all" if everything else "own_share"), reader=3, first=4),
        reader=not everything, after=(3 if everything else 4) if after else None,
    )
    for everything in (False, True) for after in (False, True)
}
"""The built-in decider's listings (every document, or the reader's live shares), by
(everything, after): what tests/integration/test_postgres_schema.py explains."""


async def listing_args(
    decider: AccessDecider, folder_id: str, reader: FolderAccess, after: Cursor | None,
) -> tuple[str, list[object]]:
    """The listing's statement and arguments: its filter decided once, for the folder."""
    question = Question(reader.user_id, "folder", folder_id, reader.org_role, reader.grants)
    readable = await decider.readable(question)
    needs_reader = readable.kind in ("own_share", "plan")
    args: list[object] = [folder_id, 0]
    if needs_reader:
        args.append(reader.user_id)
    sql = readable_sql(readable, reader=3, first=len(args) + 1)
    args += sql.args
    if after is not None:
        args += [after.updated_at, after.doc_id]
    at = len(args) - 1 if after is not None else None
    return page_sql(sql, reader=needs_reader, after=at), args


async def decide_documents(
    decider: AccessDecider, gathered: Sequence[tuple[Document | None, Access]]
) -> list[tuple[Document | None, Access]]:
    """Each access with the decider's capabilities, asked in one call (nothing to decide
    without a document: no capability)."""
    asked = [(d, a) for d, a in gathered if d is not None]
    decided = iter(await decider.decide([document_question(d, a) for d, a in asked]) if asked
                   else [])
    return [
        (d, replace(a, decided=next(decided) if d is not None else frozenset()))
        for d, a in gathered
    ]


def document_question(document: Document, access: Access) -> Question:
    """What the statement gathered: the live document share with its expiry, the highest
    live folder share on the document's folder or above."""
    return Question(
        access.user_id, "document", document.doc_id, access.org_role, access.grants
    )


@translate_errors
class PgDocuments:
    def __init__(self, conn: Statements, decider: AccessDecider) -> None:
        self._conn = conn
        self._decider = decider

    async def get(self, doc_id: str) -> Document | None:
        row = await self._conn.fetchrow(GET_DOCUMENT, doc_id)
        return _document(row) if row else None

    async def lock(self, doc_id: str) -> Document | None:
        row = await self._conn.fetchrow(LOCK_DOCUMENT, doc_id)
        return _document(row) if row else None

    async def get_with_access(
        self, doc_id: str, user_id: str, *, lock: bool = False
    ) -> tuple[Document | None, Access]:
        sql = LOCK_DOCUMENT_WITH_ACCESS if lock else DOCUMENT_WITH_ACCESS
        row = await self._conn.fetchrow(sql, doc_id, user_id)
        [decided] = await decide_documents(self._decider, [with_access(row, user_id)])
        return decided

    async def add(
        self, document: Document, version: DocumentVersion, shares: Sequence[Share] = ()
    ) -> bool:
        row = document_row(document, version, shares)
        return bool(await self._conn.fetchval(ADD_DOCUMENT, *row) == 1)

    async def add_version(self, document: Document, version: DocumentVersion) -> None:
        await self._conn.execute(ADD_VERSION, *_version_args(version), document.updated_at)

    async def versions(self, doc_id: str) -> list[DocumentVersion]:
        rows = await self._conn.fetch(VERSIONS, doc_id)
        return [_version(row) for row in rows]

    async def page(
        self, folder_id: str, reader: FolderAccess, *, limit: int, after: Cursor | None
    ) -> list[Document]:
        sql, args = await listing_args(self._decider, folder_id, reader, after)
        args[1] = limit
        rows = await self._conn.fetch(sql, *args)
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
    def __init__(self, conn: Statements) -> None:
        self._conn = conn

    async def role_of(self, org_id: str, user_id: str) -> OrgRole | None:
        role: str | None = await self._conn.fetchval(
            "SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2", org_id, user_id
        )
        return OrgRole(role) if role else None

    async def put(self, membership: Membership) -> OrgRole | None:
        """Lock, then read-and-write in a statement whose snapshot starts after the lock."""
        m = membership
        await self._conn.execute(LOCK_MEMBERSHIP, m.org_id, m.user_id)
        if m.role is None:
            before = await self._conn.fetchval(DELETE_MEMBERSHIP, m.org_id, m.user_id)
        else:
            before = await self._conn.fetchval(UPSERT_MEMBERSHIP, m.org_id, m.user_id, m.role)
        return OrgRole(before) if before else None


@translate_errors
class PgShares:
    def __init__(self, conn: Statements) -> None:
        self._conn = conn

    async def role_of(self, doc_id: str, user_id: str) -> Role | None:
        found = await self.get(doc_id, user_id)
        return found.role if found else None

    async def get(self, doc_id: str, user_id: str) -> Share | None:
        row = await self._conn.fetchrow(GET_SHARE, doc_id, user_id)
        return share_of(row) if row else None

    async def put(
        self, doc_id: str, user_id: str, role: Role | None, grant: ShareGrant | None = None
    ) -> None:
        if role is None:
            await self._conn.execute(DELETE_SHARE, doc_id, user_id)
        else:
            await self._conn.execute(UPSERT_SHARE, *upsert_args(doc_id, user_id, role, grant))

    async def owners(self, doc_id: str) -> int:
        count: int = await self._conn.fetchval(OWNERS, doc_id)
        return count

    async def until(self, user_id: str, org_id: str) -> datetime | None:
        until: datetime | None = await self._conn.fetchval(GRANTS_UNTIL, user_id, org_id)
        return until

    async def with_me(
        self, org_id: str, user_id: str, *, limit: int, after: SharedPosition | None
    ) -> list[SharedItem]:
        tail = [] if after is None else [after.shared_at, after.kind, after.item_id]
        key = after is not None
        documents = await self._conn.fetch(WITH_ME_DOCUMENTS[key], user_id, org_id, limit, *tail)
        folders = await self._conn.fetch(WITH_ME_FOLDERS[key], user_id, org_id, limit, *tail)
        items = [_shared(r, _document(r), None) for r in documents]
        items += [_shared(r, None, folder_of(r)) for r in folders]
        items.sort(key=lambda item: item.position, reverse=True)
        return items[:limit]

    async def try_lock_expiry_sweeper(self) -> bool:
        return bool(await self._conn.fetchval(EXPIRY_SWEEPER_LOCK))

    async def expired(self, now: datetime, limit: int) -> list[ExpiredGrant]:
        rows = await self._conn.fetch(EXPIRED_DOCUMENT_SHARES, now, limit)
        found = [_expired("document", r) for r in rows]
        if len(found) < limit:
            rows = await self._conn.fetch(EXPIRED_FOLDER_SHARES, now, limit - len(found))
            found += [_expired("folder", r) for r in rows]
        return found

    async def remove(self, grant: ExpiredGrant) -> None:
        sql = DELETE_SHARE if grant.kind == "document" else DELETE_FOLDER_SHARE
        await self._conn.execute(sql, grant.item_id, grant.user_id)

    async def grants(self, doc_id: str, user_id: str | None = None) -> list[tuple[str, Grant]]:
        rows = await self._conn.fetch(GRANTS, doc_id, user_id)
        return [
            (r["user_id"], Grant(Role(r["role"]), r["source"], r["folder_id"], r["expires_at"]))
            for r in rows
        ]
