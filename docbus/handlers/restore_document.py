"""RestoreDocument (contract v2).

- Access is judged as if the document were not in the trash: ``share`` needed (a reader
  without it: ``forbidden``; a non-reader: ``not_found``).
- A document whose folder (or a folder above it) is in the trash cannot come back on its
  own: ``conflict``; restore the folder.
- Restoring a document that is not in the trash changes nothing and emits nothing.
- Emits DocumentRestored.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from docbus.core.errors import ParentInTrash
from docbus.core.lifecycle_events import DocumentRestored
from docbus.core.ports import Clock, IdGenerator, Json, UnitOfWork
from docbus.core.views import document_view
from docbus.handlers.lifecycle import Stamps, any_document, document_scopes


@dataclass(frozen=True, slots=True)
class RestoreDocument:
    doc_id: str
    user_id: str


class RestoreDocumentHandler:
    def __init__(self, clock: Clock, ids: IdGenerator) -> None:
        self._stamps = Stamps(clock, ids)

    async def __call__(self, cmd: RestoreDocument, uow: UnitOfWork) -> Json:
        document = await any_document(uow, cmd.doc_id, cmd.user_id)
        if document.folder_trashed:
            raise ParentInTrash("document", cmd.doc_id)
        if document.trashed_at is None:
            return document_view(document)
        restored = replace(document, trashed_at=None, trashed_by=None)
        await uow.lifecycle.save(restored)
        event = self._stamps.event(
            DocumentRestored, restored.org_id, document_id=cmd.doc_id, restored_by=cmd.user_id
        )
        uow.emit(event, document_scopes(restored, trash=True))
        return document_view(restored)
