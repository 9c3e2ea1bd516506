"""ShareFolder and UnshareFolder (contract v2).

- The actor needs ``share`` on the folder (their own share on it or above it; admins
  hold owner). A folder in the trash does not exist; a non-member gets ``not_found``, a
  member without ``share`` ``forbidden``.
- The user shared with must be a member of the folder's org (``forbidden`` otherwise,
  as for document.share).
- ``expires_at`` must be later than now (``invalid``). Sharing the role the user holds
  on the folder with the same ``expires_at`` changes nothing and emits nothing; another
  ``expires_at`` (or none) replaces the grant and emits FolderShared.
- Unsharing a folder share the user does not hold (or that has expired) changes nothing
  and emits nothing; otherwise it emits FolderUnshared.
- One row changes, whatever the size of the subtree: inherited access is computed at
  decision time. The cache scope is the grantee's (every cached get, listing and
  trash.list of theirs), never one key per document.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from docbus.core.entities import Folder, FolderShare, ShareGrant
from docbus.core.errors import InvalidCommand, NotAMember
from docbus.core.ports import Clock, IdGenerator, Json, UnitOfWork
from docbus.core.sharing_events import FolderShared, FolderUnshared
from docbus.core.values import CacheScope, Capability, Role
from docbus.core.views import folder_share_view
from docbus.handlers.lifecycle import Stamps, live_folder


@dataclass(frozen=True, slots=True)
class ShareFolder:
    folder_id: str
    shared_by: str
    shared_with: str
    role: Role
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class UnshareFolder:
    folder_id: str
    revoked_by: str
    user_id: str


def check_expiry(expires_at: datetime | None, now: datetime) -> None:
    """An expiry must be later than now (contract v2, section 2)."""
    if expires_at is not None and expires_at <= now:
        raise InvalidCommand(
            "expires_at must be later than now",
            [{"field": "expires_at", "error": "not in the future"}],
        )


class ShareFolderHandler:
    def __init__(self, clock: Clock, ids: IdGenerator) -> None:
        self._stamps = Stamps(clock, ids)

    async def __call__(self, cmd: ShareFolder, uow: UnitOfWork) -> Json:
        now = self._stamps.now()
        check_expiry(cmd.expires_at, now)
        folder = await live_folder(uow, cmd.folder_id, cmd.shared_by, Capability.SHARE)
        if await uow.memberships.role_of(folder.org_id, cmd.shared_with) is None:
            raise NotAMember(cmd.shared_with, folder.org_id)
        share = FolderShare(cmd.folder_id, cmd.shared_with, cmd.role, cmd.expires_at)
        current = await uow.tree.share_of(cmd.folder_id, cmd.shared_with)
        if current is None or (current.role, current.expires_at) != (cmd.role, cmd.expires_at):
            grant = ShareGrant(cmd.shared_by, now, cmd.expires_at)
            await uow.tree.put_share(cmd.folder_id, cmd.shared_with, cmd.role, grant)
            uow.emit(self._shared(cmd, folder), [CacheScope.user(cmd.shared_with)])
        return folder_share_view(share)

    def _shared(self, cmd: ShareFolder, folder: Folder) -> FolderShared:
        return FolderShared(
            event_id=self._stamps.ids.new_id(), org_id=folder.org_id,
            occurred_at=self._stamps.now(), folder_id=cmd.folder_id,
            shared_with=cmd.shared_with, shared_by=cmd.shared_by, role=cmd.role,
            expires_at=cmd.expires_at,
        )


class UnshareFolderHandler:
    def __init__(self, clock: Clock, ids: IdGenerator) -> None:
        self._stamps = Stamps(clock, ids)

    async def __call__(self, cmd: UnshareFolder, uow: UnitOfWork) -> Json:
        folder = await live_folder(uow, cmd.folder_id, cmd.revoked_by, Capability.SHARE)
        if await uow.tree.share_of(cmd.folder_id, cmd.user_id) is not None:
            await uow.tree.put_share(cmd.folder_id, cmd.user_id, None)
            event = self._stamps.event(
                FolderUnshared, folder.org_id, folder_id=cmd.folder_id, user_id=cmd.user_id,
                revoked_by=cmd.revoked_by,
            )
            uow.emit(event, [CacheScope.user(cmd.user_id)])
        return folder_share_view(FolderShare(cmd.folder_id, cmd.user_id, None))
