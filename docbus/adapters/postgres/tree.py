"""core.lifecycle ports on PostgreSQL: the folder tree and documents' lives (uow.tree,
uow.lifecycle). Plain statements on the unit's connection, nothing remembered, no
read-ahead of their own.

In a grouped unit (adapters.postgres.grouped_unit) the Grouped* wrappers below send the
same statements, and every write makes the unit forget what it knows about the documents
and folders it may have changed, so that later commands of the group read them again."""

from __future__ import annotations

import asyncio
from datetime import datetime

import asyncpg
from asyncpg import Record

from docbus.adapters.postgres import tree_sql as sql
from docbus.adapters.postgres.access_filter import ReadableSql, readable_sql
from docbus.adapters.postgres.errors import translate_errors
from docbus.adapters.postgres.repositories import Statements
from docbus.adapters.postgres.tree_sql import folder_of
from docbus.adapters.postgres.unit_state import GroupState
from docbus.core.decisions import AccessDecider, Question, ReadableFilter, summary_grants
from docbus.core.entities import Content, Document, DocumentVersion, Folder, FolderShare, ShareGrant
from docbus.core.errors import FolderNameTaken
from docbus.core.lifecycle import (
    FolderAccess,
    FolderState,
    PurgedDocument,
    TrashItem,
    TrashPosition,
)
from docbus.core.values import Capability, OrgRole, Role

BOTH = (False, True)
TRASH_DOCUMENTS = {
    (e, a): sql.trash_documents_sql(everything=e, after=a) for e in BOTH for a in BOTH
}
TRASH_FOLDERS = {(e, a): sql.trash_folders_sql(everything=e, after=a) for e in BOTH for a in BOTH}


def trash_plan_sql(readable: ReadableSql, *, folders: bool, after: int | None) -> str:
    """Trashed documents (``folders``: folders) of org $1 the reader ($3) may restore by a
    policy's plan (adapters.postgres.access_filter), newest trash first; $2 limit, the
    plan's values, then (``after``: its first number) the position."""
    kind, alias, key = ("folder", "f", "folder_id") if folders else ("document", "d", "doc_id")
    table = "folders f" if folders else "documents d"
    columns = sql.FOLDER_COLUMNS if folders else sql.DOCUMENT_COLUMNS
    conditions = [f"{alias}.org_id = $1", f"{alias}.trashed_at IS NOT NULL",
                  "$3::text IS NOT NULL", f"({readable.where})"]
    if after is not None:
        conditions.append(f"({alias}.trashed_at, '{kind}'::text, {alias}.{key})"
                          f" < (${after}, ${after + 1}::text, ${after + 2}::text)")
    return (f"SELECT {columns} FROM {table}{readable.joins} WHERE {' AND '.join(conditions)}"  # noqa: S608
            f" ORDER BY {alias}.trashed_at DESC, {alias}.{key} DESC LIMIT $2")


def document_of(row: Record) -> Document:
    content = Content(
        row["name"], row["mime_type"], row["blob_uri"], tuple(row["tags"]),
        row["size_bytes"], row["sha256"],
    )
    return Document(
        row["doc_id"], row["org_id"], row["folder_id"], row["owner_id"], row["version"],
        content, row["created_at"], row["updated_at"], row["trashed_at"], row["trashed_by"],
    )


def _name_taken(exc: asyncpg.UniqueViolationError, name: str) -> Exception:
    if exc.constraint_name == "uq_folders_sibling_name":
        return FolderNameTaken(name)
    return exc


@translate_errors
class PgFolderTree:
    def __init__(self, conn: Statements, decider: AccessDecider) -> None:
        self._conn = conn
        self._decider = decider

    async def find(self, folder_id: str, user_id: str, *, lock: bool = False) -> FolderState | None:
        row = await self._conn.fetchrow(sql.LOCK_FOLDER if lock else sql.FIND_FOLDER,
                                        folder_id, user_id)
        if row is None:
            return None
        org_role = OrgRole(row["org_role"]) if row["org_role"] else None
        role = Role(row["folder_role"]) if row["folder_role"] else None
        grants = summary_grants(None, None, role)
        [decided] = await self._decider.decide(
            [Question(user_id, "folder", folder_id, org_role, grants)]
        )
        access = FolderAccess(user_id, org_role, role, row["folder_until"], decided, grants)
        return FolderState(folder_of(row), row["above_in_trash"], access)

    async def lock_tree(self, org_id: str) -> None:
        await self._conn.execute(sql.LOCK_TREE, org_id)

    async def rename(self, folder: Folder, name: str) -> Folder:
        path = folder.path.rsplit("/", 1)[0] + "/" + name
        try:
            await self._conn.execute(sql.RENAME_SUBTREE, folder.folder_id, name, path, folder.path)
        except asyncpg.UniqueViolationError as exc:
            raise _name_taken(exc, name) from exc
        return Folder(folder.folder_id, folder.org_id, folder.parent_id, name, path,
                      folder.ancestors, folder.trashed_at, folder.trashed_by)

    async def move(self, folder: Folder, parent: Folder | None) -> Folder:
        moved = (parent.child(folder.folder_id, folder.name) if parent
                 else Folder.root(folder.folder_id, folder.org_id, folder.name))
        try:
            await self._conn.execute(
                sql.MOVE_SUBTREE, folder.folder_id, moved.parent_id, moved.path, folder.path,
                list(moved.ancestors),
            )
        except asyncpg.UniqueViolationError as exc:
            raise _name_taken(exc, folder.name) from exc
        return moved

    async def set_trashed(self, folder: Folder) -> None:
        try:
            await self._conn.execute(
                sql.SET_TRASHED, folder.folder_id, folder.trashed_at, folder.trashed_by
            )
        except asyncpg.UniqueViolationError as exc:
            raise _name_taken(exc, folder.name) from exc

    async def children(
        self, org_id: str, parent_id: str | None, *, limit: int, after: tuple[str, str] | None
    ) -> list[Folder]:
        if after is None:
            rows = await self._conn.fetch(sql.CHILDREN_FIRST, org_id, parent_id or "", limit)
        else:
            rows = await self._conn.fetch(
                sql.CHILDREN_AFTER, org_id, parent_id or "", limit, *after
            )
        return [folder_of(row) for row in rows]

    async def grant(self, folder_id: str, user_id: str, role: Role) -> None:
        await self._conn.execute(sql.GRANT_FOLDER, folder_id, user_id, role.value)

    async def share_of(self, folder_id: str, user_id: str) -> FolderShare | None:
        row = await self._conn.fetchrow(sql.FOLDER_SHARE, folder_id, user_id)
        if row is None:
            return None
        return FolderShare(row["folder_id"], row["user_id"], Role(row["role"]),
                           row["expires_at"], row["shared_by"], row["shared_at"])

    async def put_share(
        self, folder_id: str, user_id: str, role: Role | None, grant: ShareGrant | None = None
    ) -> None:
        if role is None:
            await self._conn.execute(sql.DELETE_FOLDER_SHARE, folder_id, user_id)
            return
        g = grant or ShareGrant()
        await self._conn.execute(sql.PUT_FOLDER_SHARE, folder_id, user_id, role.value,
                                 g.shared_by, g.shared_at, g.expires_at)

    async def purge(self, folder: Folder) -> list[PurgedDocument]:
        ids = [row[0] for row in await self._conn.fetch(sql.LOCK_SUBTREE, folder.folder_id)]
        rows = await self._conn.fetch(sql.BLOBS_IN_FOLDERS, ids)
        purged = [PurgedDocument(row["doc_id"], tuple(row["blob_uris"])) for row in rows]
        await self._conn.execute(sql.PURGE_DOCUMENTS, [p.doc_id for p in purged])
        await self._conn.execute(sql.PURGE_FOLDERS, ids)
        return purged

    async def trash_page(
        self, org_id: str, user_id: str, *, org_role: OrgRole, limit: int,
        after: TrashPosition | None,
    ) -> list[TrashItem]:
        """Each kind's filter decided once (share, anywhere in the org), then its query."""
        documents, folders = await asyncio.gather(
            self._decider.anywhere(user_id, org_role, "document", Capability.SHARE),
            self._decider.anywhere(user_id, org_role, "folder", Capability.SHARE),
        )
        rows = await self._trashed(documents, False, org_id, user_id, limit, after)
        items = [_document_item(row) for row in rows]
        rows = await self._trashed(folders, True, org_id, user_id, limit, after)
        items += [_folder_item(row) for row in rows]
        items.sort(key=lambda item: item.position, reverse=True)
        return items[:limit]

    async def _trashed(  # noqa: PLR0917 - the page's keys, one call site
        self, readable: ReadableFilter, folders: bool, org_id: str, user_id: str, limit: int,
        after: TrashPosition | None,
    ) -> list[Record]:
        if readable.kind == "none":
            return []
        position = [] if after is None else [after.trashed_at, after.kind, after.item_id]
        if readable.kind in ("all", "built_in"):
            everything = readable.kind == "all"
            statements = TRASH_FOLDERS if folders else TRASH_DOCUMENTS
            reader = [] if everything else [user_id]
            return await self._conn.fetch(statements[everything, after is not None],
                                          org_id, limit, *reader, *position)
        plan = readable_sql(readable, reader=3, first=4, folders=folders)
        at = 4 + len(plan.args) if after is not None else None
        statement = trash_plan_sql(plan, folders=folders, after=at)
        return await self._conn.fetch(statement, org_id, limit, user_id, *plan.args, *position)

    async def try_lock_sweeper(self) -> bool:
        return bool(await self._conn.fetchval(sql.SWEEPER_LOCK))

    async def expired(self, before: datetime, limit: int) -> list[TrashItem]:
        documents = await self._conn.fetch(sql.EXPIRED_DOCUMENTS, before, limit)
        items = [_document_item(row) for row in documents]
        if len(items) < limit:
            folders = await self._conn.fetch(sql.EXPIRED_FOLDERS, before, limit - len(items))
            items += [_folder_item(row) for row in folders]
        return items


def _document_item(row: Record) -> TrashItem:
    return TrashItem("document", document_of(row), None, row["trashed_by"], row["trashed_at"])


def _folder_item(row: Record) -> TrashItem:
    return TrashItem("folder", None, folder_of(row), row["trashed_by"], row["trashed_at"])


@translate_errors
class PgDocumentLifecycle:
    def __init__(self, conn: Statements) -> None:
        self._conn = conn

    async def save(self, document: Document) -> None:
        d = document
        await self._conn.execute(
            sql.SAVE_DOCUMENT, d.doc_id, d.content.name, d.folder_id, d.updated_at,
            d.trashed_at, d.trashed_by,
        )

    async def version(self, doc_id: str, version: int) -> DocumentVersion | None:
        row = await self._conn.fetchrow(sql.VERSION, doc_id, version)
        if row is None:
            return None
        content = Content(
            row["name"], row["mime_type"], row["blob_uri"], tuple(row["tags"]),
            row["size_bytes"], row["sha256"],
        )
        return DocumentVersion(doc_id, version, content, row["uploaded_by"], row["uploaded_at"])

    async def purge(self, doc_id: str) -> PurgedDocument:
        blobs: list[str] | None = await self._conn.fetchval(sql.BLOBS_OF_DOCUMENT, doc_id)
        await self._conn.execute(sql.PURGE_DOCUMENTS, [doc_id])
        return PurgedDocument(doc_id, tuple(blobs or ()))




def _forget_tree(state: GroupState) -> None:
    """A folder change may change any document's or folder's trash state, place or
    inherited role: forget every answer that holds one."""
    state.access.clear()
    state.folder_roles.clear()


class GroupedFolderTree:
    """uow.tree of a grouped unit: the plain statements, then what they change."""

    def __init__(self, conn: Statements, state: GroupState, decider: AccessDecider) -> None:
        self._plain = PgFolderTree(conn, decider)
        self._state = state

    async def find(self, folder_id: str, user_id: str, *, lock: bool = False) -> FolderState | None:
        return await self._plain.find(folder_id, user_id, lock=lock)

    async def lock_tree(self, org_id: str) -> None:
        await self._plain.lock_tree(org_id)

    async def rename(self, folder: Folder, name: str) -> Folder:
        renamed = await self._plain.rename(folder, name)
        _forget_tree(self._state)
        return renamed

    async def move(self, folder: Folder, parent: Folder | None) -> Folder:
        moved = await self._plain.move(folder, parent)
        _forget_tree(self._state)
        return moved

    async def set_trashed(self, folder: Folder) -> None:
        await self._plain.set_trashed(folder)
        _forget_tree(self._state)

    async def children(
        self, org_id: str, parent_id: str | None, *, limit: int, after: tuple[str, str] | None
    ) -> list[Folder]:
        return await self._plain.children(org_id, parent_id, limit=limit, after=after)

    async def grant(self, folder_id: str, user_id: str, role: Role) -> None:
        await self._plain.grant(folder_id, user_id, role)
        _forget_tree(self._state)

    async def share_of(self, folder_id: str, user_id: str) -> FolderShare | None:
        return await self._plain.share_of(folder_id, user_id)

    async def put_share(
        self, folder_id: str, user_id: str, role: Role | None, grant: ShareGrant | None = None
    ) -> None:
        await self._plain.put_share(folder_id, user_id, role, grant)
        _forget_tree(self._state)  # inherited roles below the folder changed

    async def purge(self, folder: Folder) -> list[PurgedDocument]:
        purged = await self._plain.purge(folder)
        _forget_tree(self._state)
        for document in purged:
            self._state.exists[document.doc_id] = False
        return purged

    async def trash_page(
        self, org_id: str, user_id: str, *, org_role: OrgRole, limit: int,
        after: TrashPosition | None,
    ) -> list[TrashItem]:
        return await self._plain.trash_page(
            org_id, user_id, org_role=org_role, limit=limit, after=after
        )

    async def try_lock_sweeper(self) -> bool:
        return await self._plain.try_lock_sweeper()

    async def expired(self, before: datetime, limit: int) -> list[TrashItem]:
        return await self._plain.expired(before, limit)


class GroupedDocumentLifecycle:
    """uow.lifecycle of a grouped unit: the plain statements, then what they change."""

    def __init__(self, conn: Statements, state: GroupState) -> None:
        self._plain = PgDocumentLifecycle(conn)
        self._state = state

    async def save(self, document: Document) -> None:
        await self._plain.save(document)
        self._state.document_changed(document.doc_id)

    async def version(self, doc_id: str, version: int) -> DocumentVersion | None:
        return await self._plain.version(doc_id, version)

    async def purge(self, doc_id: str) -> PurgedDocument:
        purged = await self._plain.purge(doc_id)
        self._state.document_changed(doc_id)
        self._state.exists[doc_id] = False
        return purged
