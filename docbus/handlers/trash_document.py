"""TrashDocument (contract v2).

- The trasher needs ``share``; a document already in the trash (itself or through its
  folder) does not exist for this command (``not_found``).
- The document then disappears from every get and listing, and refuses every command
  but restore and purge; trash.list shows it to whoever could restore it.
- The reply is the Document with its ``trashed_at``.
- Emits DocumentTrashed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from docbus.core.lifecycle_events import DocumentTrashed
from docbus.core.ports import Clock, IdGenerator, Json, UnitOfWork
from docbus.core.values import Capability
from docbus.core.views import document_view
from docbus.handlers.lifecycle import Stamps, document_scopes, live_document


@dataclass(frozen=True, slots=True)
class TrashDocument:
    doc_id: str
    user_id: str


class TrashDocumentHandler:
    def __init__(self, clock: Clock, ids: IdGenerator) -> None:
        self._stamps = Stamps(clock, ids)

    async def __call__(self, cmd: TrashDocument, uow: UnitOfWork) -> Json:
        document = await live_document(uow, cmd.doc_id, cmd.user_id, Capability.SHARE)
        trashed = replace(document, trashed_at=self._stamps.now(), trashed_by=cmd.user_id)
        await uow.lifecycle.save(trashed)
        event = self._stamps.event(
            DocumentTrashed, trashed.org_id, document_id=cmd.doc_id, trashed_by=cmd.user_id
        )
        uow.emit(event, document_scopes(trashed, trash=True))
        return document_view(trashed)
