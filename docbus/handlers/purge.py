"""PurgeDocument and PurgeFolder (contract v2).

- Purge works only on what is in the trash: a document trashed itself or lying in a
  trashed folder; a folder trashed itself or below a trashed one (``conflict`` otherwise).
- Access is judged as for restore: ``share`` (a reader without it: ``forbidden``; a
  non-reader: ``not_found``).
- It removes for good the document (every version, every share) or the folder with its
  whole subtree and their documents; the audit log keeps the events.
- The reply is Purged: ``documents`` purged and, for a document, every version's
  ``blob_uri`` (for a folder ``[]``: each document's DocumentPurged lists its own).
- Emits DocumentPurged (for each document) and, for a folder, FolderPurged.
- ``purged_by`` null is the retention sweeper's purge.
"""

from __future__ import annotations

from dataclasses import dataclass

from docbus.core.errors import FolderNotFound, NotInTrash
from docbus.core.lifecycle import PurgedDocument
from docbus.core.lifecycle_events import DocumentPurged, FolderPurged
from docbus.core.ports import Clock, IdGenerator, Json, UnitOfWork
from docbus.handlers.lifecycle import (
    Stamps,
    any_document,
    any_folder,
    document_scopes,
    subtree_scopes,
)


@dataclass(frozen=True, slots=True)
class PurgeDocument:
    doc_id: str
    user_id: str


@dataclass(frozen=True, slots=True)
class PurgeFolder:
    folder_id: str
    user_id: str


class PurgeDocumentHandler:
    def __init__(self, clock: Clock, ids: IdGenerator) -> None:
        self._stamps = Stamps(clock, ids)

    async def __call__(self, cmd: PurgeDocument, uow: UnitOfWork) -> Json:
        document = await any_document(uow, cmd.doc_id, cmd.user_id)
        if not document.in_trash:
            raise NotInTrash("document", cmd.doc_id)
        purged = await uow.lifecycle.purge(cmd.doc_id)
        event = purged_event(self._stamps, document.org_id, purged, cmd.user_id)
        uow.emit(event, document_scopes(document, trash=True))
        return {"doc_id": cmd.doc_id, "documents": 1, "blob_uris": list(purged.blob_uris)}


class PurgeFolderHandler:
    def __init__(self, clock: Clock, ids: IdGenerator) -> None:
        self._stamps = Stamps(clock, ids)

    async def __call__(self, cmd: PurgeFolder, uow: UnitOfWork) -> Json:
        seen = await uow.tree.find(cmd.folder_id, cmd.user_id)
        if seen is None:
            raise FolderNotFound(cmd.folder_id)
        # The org's tree lock, then rows (as moves do): no move changes the subtree meanwhile.
        await uow.tree.lock_tree(seen.folder.org_id)
        state = await any_folder(uow, cmd.folder_id, cmd.user_id)
        if not state.in_trash:
            raise NotInTrash("folder", cmd.folder_id)
        folder = state.folder
        purged = await uow.tree.purge(folder)
        scopes = subtree_scopes(folder)
        for document in purged:
            uow.emit(purged_event(self._stamps, folder.org_id, document, cmd.user_id), scopes)
        event = self._stamps.event(
            FolderPurged, folder.org_id, folder_id=folder.folder_id, documents=len(purged),
            purged_by=cmd.user_id,
        )
        uow.emit(event, scopes)
        return {"folder_id": cmd.folder_id, "documents": len(purged), "blob_uris": []}


def purged_event(
    stamps: Stamps, org_id: str, purged: PurgedDocument, by: str | None
) -> DocumentPurged:
    event = stamps.event(
        DocumentPurged, org_id, document_id=purged.doc_id, blob_uris=list(purged.blob_uris),
        purged_by=by,
    )
    assert isinstance(event, DocumentPurged)
    return event
