"""UploadDocument.

- The folder must exist in the org, and the uploader must be a member of that org;
  otherwise the answer is ``not_found`` for the folder, the same for both, so that an
  upload never tells an outsider whether a folder exists in another org.
- A new doc_id stores version 1; the uploader becomes its creator (``owner_id``) and
  gets the owner role, so that somebody can share it.
- An existing doc_id stores the next version; it must stay in its folder and org
  (``conflict``) and the uploader needs ``write`` on it. Who cannot read it gets
  ``not_found``, before anything else is checked, so its existence is not revealed.
- A doc_id in the trash is a ``conflict`` for whoever can read it (before any other
  check); a folder in the trash does not exist.
- Concurrent uploads of one doc_id give consecutive versions; none is lost.
- Emits DocumentUploaded for every version.
"""

from __future__ import annotations

from dataclasses import dataclass

from docbus.core.entities import Content, Document, DocumentVersion, Folder, Share
from docbus.core.errors import (
    DocumentInTrash,
    DocumentMoved,
    DocumentNotFound,
    FolderNotFound,
)
from docbus.core.events import DocumentUploaded
from docbus.core.ports import Clock, IdGenerator, Json, UnitOfWork
from docbus.core.reads import Reads, ReadsAhead
from docbus.core.values import CacheScope, Capability, Role
from docbus.core.views import document_view


@dataclass(frozen=True, slots=True)
class UploadDocument:
    doc_id: str
    org_id: str
    folder_id: str
    owner_id: str
    content: Content


class UploadDocumentHandler(ReadsAhead[UploadDocument]):
    def __init__(self, clock: Clock, ids: IdGenerator) -> None:
        self._clock = clock
        self._ids = ids

    def reads(self, command: UploadDocument) -> Reads:
        """The folder with the uploader's role, and whether the document exists."""
        return Reads(
            folder_roles=((command.folder_id, command.owner_id),),
            new_documents=(command.doc_id,),
        )

    async def __call__(self, cmd: UploadDocument, uow: UnitOfWork) -> Json:
        folder, org_role = await uow.folders.get_with_role(cmd.folder_id, cmd.owner_id)
        # One answer for "no such folder", "in another org" and "not your org".
        if folder is None or folder.org_id != cmd.org_id or org_role is None:
            raise FolderNotFound(cmd.folder_id)
        document, version = await self._store(cmd, folder, uow)
        event = DocumentUploaded(
            event_id=self._ids.new_id(),
            org_id=document.org_id,
            occurred_at=version.uploaded_at,
            document=document,
            uploaded_by=cmd.owner_id,
        )
        scopes = [CacheScope.folder(document.folder_id), CacheScope.document(document.doc_id)]
        uow.emit(event, scopes)
        return document_view(document)

    async def _store(
        self, cmd: UploadDocument, folder: Folder, uow: UnitOfWork
    ) -> tuple[Document, DocumentVersion]:
        now = self._clock.now()
        created = Document.create(cmd.doc_id, folder, cmd.owner_id, cmd.content, now)
        if await uow.documents.add(*created, [Share(cmd.doc_id, cmd.owner_id, Role.OWNER)]):
            return created
        current, access = await uow.documents.get_with_access(cmd.doc_id, cmd.owner_id, lock=True)
        assert current is not None  # add() found it, and documents are never deleted
        # Access first: who cannot read the document must not learn where it lives.
        if not access.can(Capability.READ):
            raise DocumentNotFound(cmd.doc_id)
        if current.in_trash:
            raise DocumentInTrash(cmd.doc_id)
        if not current.is_in(cmd.org_id, cmd.folder_id):
            raise DocumentMoved(cmd.doc_id)
        access.require(Capability.WRITE, cmd.doc_id)
        revised = current.revise(cmd.content, cmd.owner_id, now)
        await uow.documents.add_version(*revised)
        return revised
