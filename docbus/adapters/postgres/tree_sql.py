"""SQL of the folder tree (contract v2), shared by the tree adapter and the v1 reads.

The tree is held by ancestor arrays: each folder row carries ``ancestors`` (the ids above
it, root first; GIN-indexed for subtree scans). Documents keep only ``folder_id``. Trash
state lives on the item trashed by its own command; a folder is in the trash when it or
one of its ancestors is (a few primary-key probes, whatever the number of documents).
Measured against a closure table and paths on documents: docs/decisions.md.
"""

from __future__ import annotations

from asyncpg import Record

from docbus.core.entities import Folder


def folder_of(row: Record) -> Folder:
    """A folder from a row of FOLDER_COLUMNS."""
    return Folder(
        row["folder_id"], row["org_id"], row["parent_id"], row["name"], row["path"],
        tuple(row["ancestors"]), row["trashed_at"], row["trashed_by"],
    )


FOLDER_COLUMNS = "f.folder_id, f.org_id, f.parent_id, f.name, f.path, f.ancestors, " \
    "f.trashed_at, f.trashed_by"

# Whether a folder above ``f`` is in the trash.
# (``a.org_id`` too: whichever index the planner picks, primary key probes or the org's
# part of ix_folders_trash, it never walks other orgs' trash.)
ABOVE_IN_TRASH = (
    "EXISTS (SELECT 1 FROM folders a WHERE a.folder_id = ANY(f.ancestors)"
    " AND a.org_id = f.org_id AND a.trashed_at IS NOT NULL)"
)

# Whether the folder ``folder_id`` (an SQL expression) or one above it is in the trash.
def folder_in_trash(folder_id: str) -> str:
    return (
        "EXISTS (SELECT 1 FROM folders t JOIN folders a"  # noqa: S608 - a column name
        " ON a.folder_id = ANY(t.ancestors || t.folder_id::text)"
        f" WHERE t.folder_id = {folder_id} AND a.org_id = t.org_id"
        " AND a.trashed_at IS NOT NULL)"
    )


# A share (alias ``s``) that still counts: expired ones give nothing from their expiry on,
# removed by the sweeper or not (contract v2, section 1).
LIVE_SHARE = "(s.expires_at IS NULL OR s.expires_at > now())"
BY_RANK = "array_position(ARRAY['viewer', 'editor', 'owner'], s.role) DESC"

# The user's ($2) highest unexpired folder share on ``f`` or above it.
FOLDER_ROLE = f"""(SELECT s.role FROM folder_shares s
    WHERE s.folder_id = ANY(f.ancestors || f.folder_id::text) AND s.user_id = $2
        AND {LIVE_SHARE}
    ORDER BY {BY_RANK} LIMIT 1)"""  # noqa: S608 - constants only
FOLDER_UNTIL = f"""(SELECT min(s.expires_at) FROM folder_shares s
    WHERE s.folder_id = ANY(f.ancestors || f.folder_id::text) AND s.user_id = $2
        AND {LIVE_SHARE})"""  # noqa: S608 - constants only


def _inherited(select: str, folder_id: str, user_id: str, tail: str = "") -> str:
    return (
        f"(SELECT {select} FROM folders t JOIN folder_shares s"  # noqa: S608 - SQL expressions
        " ON s.folder_id = ANY(t.ancestors || t.folder_id::text)"
        f" WHERE t.folder_id = {folder_id} AND s.user_id = {user_id} AND {LIVE_SHARE}{tail})"
    )


def inherited_role(folder_id: str, user_id: str) -> str:
    """The user's highest live folder share on the folder (SQL expressions) or above it."""
    return _inherited("s.role", folder_id, user_id, f" ORDER BY {BY_RANK} LIMIT 1")


def inherited_until(folder_id: str, user_id: str) -> str:
    """When the first of the user's live folder shares on the folder or above it expires."""
    return _inherited("min(s.expires_at)", folder_id, user_id)

FIND_FOLDER = f"""
SELECT {FOLDER_COLUMNS}, m.role AS org_role, {FOLDER_ROLE} AS folder_role,
    {FOLDER_UNTIL} AS folder_until, {ABOVE_IN_TRASH} AS above_in_trash
FROM folders f LEFT JOIN memberships m ON m.org_id = f.org_id AND m.user_id = $2
WHERE f.folder_id = $1
"""  # noqa: S608 - constants only
LOCK_FOLDER = FIND_FOLDER + " FOR UPDATE OF f"

LOCK_TREE = "SELECT pg_advisory_xact_lock(hashtextextended('tree/' || $1, 0))"

# $1 folder, $2 its new name, $3 its new path, $4 its old path.
RENAME_SUBTREE = """
UPDATE folders SET name = CASE WHEN folder_id = $1 THEN $2 ELSE name END,
    path = $3 || substr(path, length($4) + 1)
WHERE folder_id = $1 OR ancestors @> ARRAY[$1::text]
"""
# $1 folder, $2 new parent, $3 new path, $4 old path, $5 its new ancestors.
MOVE_SUBTREE = """
UPDATE folders SET parent_id = CASE WHEN folder_id = $1 THEN $2 ELSE parent_id END,
    path = $3 || substr(path, length($4) + 1),
    ancestors = CASE WHEN folder_id = $1 THEN $5::text[]
        ELSE $5::text[] || ancestors[array_position(ancestors, $1::text):] END
WHERE folder_id = $1 OR ancestors @> ARRAY[$1::text]
"""
SET_TRASHED = "UPDATE folders SET trashed_at = $2, trashed_by = $3 WHERE folder_id = $1"

# Live children by name (bytewise), then id; $2 is '' for the org's roots.
CHILDREN = f"""
SELECT {FOLDER_COLUMNS} FROM folders f
WHERE f.org_id = $1 AND coalesce(f.parent_id, '') = $2 AND f.trashed_at IS NULL
"""  # noqa: S608 - constants only
CHILDREN_FIRST = CHILDREN + ' ORDER BY f.name COLLATE "C", f.folder_id LIMIT $3'
CHILDREN_AFTER = (
    CHILDREN + ' AND (f.name COLLATE "C", f.folder_id) > ($4::text COLLATE "C", $5::text)'
    ' ORDER BY f.name COLLATE "C", f.folder_id LIMIT $3'
)

FOLDER_SHARE = f"""
SELECT s.folder_id, s.user_id, s.role, s.shared_by, s.shared_at, s.expires_at
FROM folder_shares s WHERE s.folder_id = $1 AND s.user_id = $2 AND {LIVE_SHARE}
"""  # noqa: S608 - constants only
PUT_FOLDER_SHARE = """
INSERT INTO folder_shares (folder_id, user_id, role, shared_by, shared_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (folder_id, user_id) DO UPDATE SET role = EXCLUDED.role,
    shared_by = EXCLUDED.shared_by, shared_at = EXCLUDED.shared_at,
    expires_at = EXCLUDED.expires_at
"""
DELETE_FOLDER_SHARE = "DELETE FROM folder_shares WHERE folder_id = $1 AND user_id = $2"
GRANT_FOLDER = """
INSERT INTO folder_shares (folder_id, user_id, role, shared_by, shared_at)
VALUES ($1, $2, $3, $2, now())
ON CONFLICT (folder_id, user_id) DO UPDATE SET role = EXCLUDED.role
"""

# Purge: lock the subtree's rows first (no document can then move or be uploaded into it).
LOCK_SUBTREE = """
SELECT folder_id FROM folders WHERE folder_id = $1 OR ancestors @> ARRAY[$1::text]
FOR UPDATE
"""
BLOBS_IN_FOLDERS = """
SELECT d.doc_id, array_agg(v.blob_uri ORDER BY v.version) AS blob_uris
FROM documents d JOIN document_versions v ON v.doc_id = d.doc_id
WHERE d.folder_id = ANY($1::text[]) GROUP BY d.doc_id ORDER BY d.doc_id
"""
PURGE_DOCUMENTS = """
WITH s AS (DELETE FROM shares WHERE doc_id = ANY($1::text[])),
    v AS (DELETE FROM document_versions WHERE doc_id = ANY($1::text[]))
DELETE FROM documents WHERE doc_id = ANY($1::text[])
"""
PURGE_FOLDERS = """
WITH s AS (DELETE FROM folder_shares WHERE folder_id = ANY($1::text[]))
DELETE FROM folders WHERE folder_id = ANY($1::text[])
"""
BLOBS_OF_DOCUMENT = """
SELECT array_agg(blob_uri ORDER BY version) FROM document_versions WHERE doc_id = $1
"""

DOCUMENT_COLUMNS = """d.doc_id, d.org_id, d.folder_id, d.owner_id, d.version, d.name,
    d.mime_type, d.blob_uri, d.size_bytes, d.sha256, d.tags, d.created_at, d.updated_at,
    d.trashed_at, d.trashed_by"""
SAVE_DOCUMENT = """
UPDATE documents SET name = $2, folder_id = $3, updated_at = $4, trashed_at = $5,
    trashed_by = $6
WHERE doc_id = $1
"""
VERSION = """
SELECT doc_id, version, name, mime_type, blob_uri, size_bytes, sha256, tags, uploaded_by,
    uploaded_at
FROM document_versions WHERE doc_id = $1 AND version = $2
"""


def trash_documents_sql(*, everything: bool, after: bool) -> str:
    """Trashed documents of org $1, newest trash first; $2 limit, $3 reader unless
    ``everything`` (then only those the reader owns), then the position."""
    conditions = ["d.org_id = $1", "d.trashed_at IS NOT NULL"]
    n = 3
    if not everything:
        conditions.append(
            "(EXISTS (SELECT 1 FROM shares s WHERE s.doc_id = d.doc_id"  # noqa: S608
            f" AND s.user_id = ${n} AND s.role = 'owner' AND {LIVE_SHARE})"
            f" OR {inherited_role('d.folder_id', f'${n}')} = 'owner')"
        )
        n += 1
    if after:
        conditions.append(
            f"(d.trashed_at, 'document'::text, d.doc_id) < (${n}, ${n + 1}::text, ${n + 2}::text)"
        )
    return (
        f"SELECT {DOCUMENT_COLUMNS} FROM documents d WHERE {' AND '.join(conditions)}"  # noqa: S608
        " ORDER BY d.trashed_at DESC, d.doc_id DESC LIMIT $2"
    )


def trash_folders_sql(*, everything: bool, after: bool) -> str:
    """Trashed folders of org $1, like trash_documents_sql (owner on the folder or above)."""
    conditions = ["f.org_id = $1", "f.trashed_at IS NOT NULL"]
    n = 3
    if not everything:
        conditions.append(
            "EXISTS (SELECT 1 FROM folder_shares s WHERE s.folder_id = ANY(f.ancestors ||"  # noqa: S608
            f" f.folder_id::text) AND s.user_id = ${n} AND s.role = 'owner'"
            " AND (s.expires_at IS NULL OR s.expires_at > now()))"
        )
        n += 1
    if after:
        conditions.append(
            f"(f.trashed_at, 'folder'::text, f.folder_id) < (${n}, ${n + 1}::text, ${n + 2}::text)"
        )
    return (
        f"SELECT {FOLDER_COLUMNS} FROM folders f WHERE {' AND '.join(conditions)}"  # noqa: S608
        " ORDER BY f.trashed_at DESC, f.folder_id DESC LIMIT $2"
    )

SWEEPER_LOCK = "SELECT pg_try_advisory_xact_lock(hashtextextended('docbus/trash-sweeper', 0))"
EXPIRED_DOCUMENTS = f"""
SELECT {DOCUMENT_COLUMNS} FROM documents d
WHERE d.trashed_at IS NOT NULL AND d.trashed_at < $1
ORDER BY d.trashed_at, d.doc_id LIMIT $2
FOR UPDATE SKIP LOCKED
"""  # noqa: S608 - constants only
EXPIRED_FOLDERS = f"""
SELECT {FOLDER_COLUMNS} FROM folders f
WHERE f.trashed_at IS NOT NULL AND f.trashed_at < $1
ORDER BY cardinality(f.ancestors) DESC, f.trashed_at, f.folder_id LIMIT $2
FOR UPDATE SKIP LOCKED
"""  # noqa: S608 - constants only
