"""RevertDocument (contract v2).

- The reverter needs ``write``; a document in the trash does not exist (``not_found``).
- An unknown version is ``not_found``.
- Reverting to version k stores version n+1 with version k's content (blob_uri, name,
  mime_type, tags, size_bytes, sha256) and the document takes it, as an upload would.
- Emits DocumentUploaded with ``reverted_from: k``.
"""

from __future__ import annotations

from dataclasses import dataclass

from docbus.core.errors import VersionNotFound
from docbus.core.events import DocumentUploaded
from docbus.core.ports import Clock, IdGenerator, Json, UnitOfWork
from docbus.core.values import Capability
from docbus.core.views import document_view
from docbus.handlers.lifecycle import Stamps, document_scopes, live_document


@dataclass(frozen=True, slots=True)
class RevertDocument:
    doc_id: str
    user_id: str
    version: int


class RevertDocumentHandler:
    def __init__(self, clock: Clock, ids: IdGenerator) -> None:
        self._stamps = Stamps(clock, ids)

    async def __call__(self, cmd: RevertDocument, uow: UnitOfWork) -> Json:
        document = await live_document(uow, cmd.doc_id, cmd.user_id, Capability.WRITE)
        old = await uow.lifecycle.version(cmd.doc_id, cmd.version)
        if old is None:
            raise VersionNotFound(cmd.doc_id, cmd.version)
        revised, version = document.revise(old.content, cmd.user_id, self._stamps.now())
        await uow.documents.add_version(revised, version)
        event = self._stamps.event(
            DocumentUploaded, revised.org_id, document=revised, uploaded_by=cmd.user_id,
            reverted_from=cmd.version,
        )
        uow.emit(event, document_scopes(revised))
        return document_view(revised)
