"""ShareDocument.

- The sharer needs ``share`` on the document (without ``read`` it does not exist for them).
- The user shared with must be a member of the document's org.
- Sharing again replaces the role; sharing the role already held with the same
  ``expires_at`` changes nothing and emits nothing; another ``expires_at`` (or none) is a
  change (contract v2). ``expires_at`` must be later than now (``invalid``).
- A document never loses its last owner (``conflict``).
- Emits DocumentShared (routing key ``document.shared.<role>``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from docbus.core.entities import Document, Share, ShareGrant
from docbus.core.errors import NotAMember
from docbus.core.events import DocumentShared
from docbus.core.ports import Clock, IdGenerator, Json, UnitOfWork
from docbus.core.reads import Reads, ReadsAhead
from docbus.core.values import Role
from docbus.core.views import share_view
from docbus.handlers.share_folder import check_expiry
from docbus.handlers.sharing import keeps_an_owner, locked_for_sharing, share_scopes, sharing_reads


@dataclass(frozen=True, slots=True)
class ShareDocument:
    doc_id: str
    shared_by: str
    shared_with: str
    role: Role
    expires_at: datetime | None = None


class ShareDocumentHandler(ReadsAhead[ShareDocument]):
    def __init__(self, clock: Clock, ids: IdGenerator) -> None:
        self._clock = clock
        self._ids = ids

    def reads(self, command: ShareDocument) -> Reads:
        return sharing_reads(command.doc_id, command.shared_by, command.shared_with)

    async def __call__(self, cmd: ShareDocument, uow: UnitOfWork) -> Json:
        document = await locked_for_sharing(uow, cmd.doc_id, cmd.shared_by)
        if await uow.memberships.role_of(document.org_id, cmd.shared_with) is None:
            raise NotAMember(cmd.shared_with, document.org_id)
        now = self._clock.now()
        check_expiry(cmd.expires_at, now)
        current = await uow.shares.get(cmd.doc_id, cmd.shared_with)
        held = (current.role, current.expires_at) if current else None
        if held != (cmd.role, cmd.expires_at):
            await keeps_an_owner(uow, cmd.doc_id, current.role if current else None, cmd.role)
            grant = ShareGrant(cmd.shared_by, now, cmd.expires_at)
            await uow.shares.put(cmd.doc_id, cmd.shared_with, cmd.role, grant)
            uow.emit(self._shared(cmd, document), share_scopes(document))
        return share_view(Share(cmd.doc_id, cmd.shared_with, cmd.role, cmd.expires_at))

    def _shared(self, cmd: ShareDocument, document: Document) -> DocumentShared:
        return DocumentShared(
            event_id=self._ids.new_id(),
            org_id=document.org_id,
            occurred_at=self._clock.now(),
            document_id=cmd.doc_id,
            shared_with=cmd.shared_with,
            shared_by=cmd.shared_by,
            role=cmd.role,
            expires_at=cmd.expires_at,
        )
