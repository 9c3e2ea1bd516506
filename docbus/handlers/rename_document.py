"""RenameDocument (contract v2).

- The renamer needs ``write``; a document in the trash does not exist (``not_found``).
- Names need not be unique; the rename changes the document (its name and
  ``updated_at``), not its stored versions.
- The name it already has changes nothing and emits nothing.
- Emits DocumentRenamed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from docbus.core.lifecycle_events import DocumentRenamed
from docbus.core.ports import Clock, IdGenerator, Json, UnitOfWork
from docbus.core.values import Capability
from docbus.core.views import document_view
from docbus.handlers.lifecycle import Stamps, document_scopes, live_document


@dataclass(frozen=True, slots=True)
class RenameDocument:
    doc_id: str
    user_id: str
    name: str


class RenameDocumentHandler:
    def __init__(self, clock: Clock, ids: IdGenerator) -> None:
        self._stamps = Stamps(clock, ids)

    async def __call__(self, cmd: RenameDocument, uow: UnitOfWork) -> Json:
        document = await live_document(uow, cmd.doc_id, cmd.user_id, Capability.WRITE)
        previous = document.content.name
        if cmd.name == previous:
            return document_view(document)
        renamed = replace(
            document,
            content=replace(document.content, name=cmd.name),
            updated_at=max(self._stamps.now(), document.updated_at),
        )
        await uow.lifecycle.save(renamed)
        event = self._stamps.event(
            DocumentRenamed, renamed.org_id, document_id=cmd.doc_id, name=cmd.name,
            previous_name=previous, renamed_by=cmd.user_id,
        )
        uow.emit(event, document_scopes(renamed))
        return document_view(renamed)
