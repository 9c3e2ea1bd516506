"""MoveDocument (contract v2).

- The mover needs ``write`` on the document; a document in the trash does not exist.
- The target must be a live folder of the document's org (``not_found`` otherwise); as
  for uploads, any member may put a document in any folder of the org.
- Moving into the folder it is in changes nothing and emits nothing.
- ``updated_at`` stays: a move changes the document's place, not the document.
- Emits DocumentMoved; both folders' listings change.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from docbus.core.lifecycle_events import DocumentMoved
from docbus.core.ports import Clock, IdGenerator, Json, UnitOfWork
from docbus.core.values import CacheScope, Capability
from docbus.core.views import document_view
from docbus.handlers.lifecycle import Stamps, document_scopes, live_document, target_folder


@dataclass(frozen=True, slots=True)
class MoveDocument:
    doc_id: str
    user_id: str
    folder_id: str


class MoveDocumentHandler:
    def __init__(self, clock: Clock, ids: IdGenerator) -> None:
        self._stamps = Stamps(clock, ids)

    async def __call__(self, cmd: MoveDocument, uow: UnitOfWork) -> Json:
        document = await live_document(uow, cmd.doc_id, cmd.user_id, Capability.WRITE)
        target = await target_folder(uow, cmd.folder_id, document.org_id, cmd.user_id)
        if target.folder_id == document.folder_id:
            return document_view(document)
        moved = replace(document, folder_id=target.folder_id)
        await uow.lifecycle.save(moved)
        event = self._stamps.event(
            DocumentMoved, moved.org_id, document_id=cmd.doc_id,
            from_folder_id=document.folder_id, to_folder_id=target.folder_id,
            moved_by=cmd.user_id,
        )
        uow.emit(event, [*document_scopes(moved), CacheScope.folder(document.folder_id)])
        return document_view(moved)
