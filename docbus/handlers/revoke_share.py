"""RevokeShare.

- The revoker needs ``share`` on the document.
- Revoking a role the user does not hold changes nothing and emits nothing.
- The last owner cannot be removed (``conflict``).
- Emits DocumentUnshared.
"""

from __future__ import annotations

from dataclasses import dataclass

from docbus.core.entities import Share
from docbus.core.events import DocumentUnshared
from docbus.core.ports import Clock, IdGenerator, Json, UnitOfWork
from docbus.core.reads import Reads, ReadsAhead
from docbus.core.views import share_view
from docbus.handlers.sharing import keeps_an_owner, locked_for_sharing, share_scopes, sharing_reads


@dataclass(frozen=True, slots=True)
class RevokeShare:
    doc_id: str
    revoked_by: str
    user_id: str


class RevokeShareHandler(ReadsAhead[RevokeShare]):
    def __init__(self, clock: Clock, ids: IdGenerator) -> None:
        self._clock = clock
        self._ids = ids

    def reads(self, command: RevokeShare) -> Reads:
        return sharing_reads(command.doc_id, command.revoked_by, command.user_id)

    async def __call__(self, cmd: RevokeShare, uow: UnitOfWork) -> Json:
        document = await locked_for_sharing(uow, cmd.doc_id, cmd.revoked_by)
        current = await uow.shares.role_of(cmd.doc_id, cmd.user_id)
        if current is not None:
            await keeps_an_owner(uow, cmd.doc_id, current, None)
            await uow.shares.put(cmd.doc_id, cmd.user_id, None)
            event = DocumentUnshared(
                event_id=self._ids.new_id(),
                org_id=document.org_id,
                occurred_at=self._clock.now(),
                document_id=cmd.doc_id,
                user_id=cmd.user_id,
                revoked_by=cmd.revoked_by,
            )
            uow.emit(event, share_scopes(document))
        return share_view(Share(cmd.doc_id, cmd.user_id, None))
