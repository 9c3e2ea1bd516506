"""TrashFolder (contract v2).

- The trasher needs ``share`` on the folder; a folder already in the trash (itself or
  below a trashed one) does not exist for this command (``not_found``).
- Only the folder is marked: its whole subtree (folders and documents) disappears with
  it from every get, listing and folder.children, whatever its size, and the name is free
  for a new sibling.
- The reply is the Folder with its ``trashed_at``.
- Emits FolderTrashed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from docbus.core.lifecycle_events import FolderTrashed
from docbus.core.ports import Clock, IdGenerator, Json, UnitOfWork
from docbus.core.values import Capability
from docbus.core.views import folder_view
from docbus.handlers.lifecycle import Stamps, live_folder, subtree_scopes


@dataclass(frozen=True, slots=True)
class TrashFolder:
    folder_id: str
    user_id: str


class TrashFolderHandler:
    def __init__(self, clock: Clock, ids: IdGenerator) -> None:
        self._stamps = Stamps(clock, ids)

    async def __call__(self, cmd: TrashFolder, uow: UnitOfWork) -> Json:
        folder = await live_folder(uow, cmd.folder_id, cmd.user_id, Capability.SHARE)
        trashed = replace(folder, trashed_at=self._stamps.now(), trashed_by=cmd.user_id)
        await uow.tree.set_trashed(trashed)
        event = self._stamps.event(
            FolderTrashed, folder.org_id, folder_id=folder.folder_id, trashed_by=cmd.user_id
        )
        uow.emit(event, subtree_scopes(folder))
        return folder_view(trashed)
