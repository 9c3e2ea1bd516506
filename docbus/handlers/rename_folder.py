"""RenameFolder (contract v2).

- The renamer needs ``write`` on the folder (its own share or one above it; admins hold
  owner); a folder in the trash does not exist (``not_found``); a non-member gets
  ``not_found``, a member without ``write`` ``forbidden``.
- Names stay unique among live siblings (``conflict``).
- The paths of the whole subtree follow (a few folder rows; no document is touched).
- The name it already has changes nothing and emits nothing.
- Emits FolderRenamed.
"""

from __future__ import annotations

from dataclasses import dataclass

from docbus.core.lifecycle_events import FolderRenamed
from docbus.core.ports import Clock, IdGenerator, Json, UnitOfWork
from docbus.core.values import CacheScope, Capability
from docbus.core.views import folder_view
from docbus.handlers.lifecycle import Stamps, live_folder


@dataclass(frozen=True, slots=True)
class RenameFolder:
    folder_id: str
    user_id: str
    name: str


class RenameFolderHandler:
    def __init__(self, clock: Clock, ids: IdGenerator) -> None:
        self._stamps = Stamps(clock, ids)

    async def __call__(self, cmd: RenameFolder, uow: UnitOfWork) -> Json:
        folder = await live_folder(uow, cmd.folder_id, cmd.user_id, Capability.WRITE)
        if cmd.name == folder.name:
            return folder_view(folder)
        renamed = await uow.tree.rename(folder, cmd.name)
        event = self._stamps.event(
            FolderRenamed, folder.org_id, folder_id=folder.folder_id, name=cmd.name,
            previous_name=folder.name, renamed_by=cmd.user_id,
        )
        # Names and paths show in folder.children (and folder.create's replies) only.
        uow.emit(event, [CacheScope.org_tree(folder.org_id)])
        return folder_view(renamed)
