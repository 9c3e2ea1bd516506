"""MoveFolder (contract v2).

- The mover needs ``write`` on the folder; a folder in the trash does not exist.
- The new parent must be a live folder of the same org (``not_found``), and not the
  folder itself or below it (``conflict``); null makes it a root.
- Names stay unique among live siblings (``conflict``).
- Moves in one org run one after the other (an org-wide lock), so that two crossing moves
  can never make a cycle.
- Its subtree's paths and ancestors follow; documents keep their folder_id: the cost does
  not grow with the documents below.
- Moving under the parent it has changes nothing and emits nothing.
- Emits FolderMoved; what is inherited follows the new place from the reply on.
"""

from __future__ import annotations

from dataclasses import dataclass

from docbus.core.entities import Folder
from docbus.core.errors import FolderCycle, FolderNotFound
from docbus.core.lifecycle_events import FolderMoved
from docbus.core.ports import Clock, IdGenerator, Json, UnitOfWork
from docbus.core.values import Capability
from docbus.core.views import folder_view
from docbus.handlers.lifecycle import Stamps, live_folder, subtree_scopes, target_folder


@dataclass(frozen=True, slots=True)
class MoveFolder:
    folder_id: str
    user_id: str
    parent_id: str | None


class MoveFolderHandler:
    def __init__(self, clock: Clock, ids: IdGenerator) -> None:
        self._stamps = Stamps(clock, ids)

    async def __call__(self, cmd: MoveFolder, uow: UnitOfWork) -> Json:
        # The org's lock first, then the folder's row: always in that order (a move's
        # foreign key check takes the new parent's row, so rows first could deadlock).
        seen = await uow.tree.find(cmd.folder_id, cmd.user_id)
        if seen is None:
            raise FolderNotFound(cmd.folder_id)
        await uow.tree.lock_tree(seen.folder.org_id)
        folder = await live_folder(uow, cmd.folder_id, cmd.user_id, Capability.WRITE)
        parent = await self._parent(cmd, folder, uow)
        if cmd.parent_id == folder.parent_id:
            return folder_view(folder)
        moved = await uow.tree.move(folder, parent)
        event = self._stamps.event(
            FolderMoved, folder.org_id, folder_id=folder.folder_id,
            from_parent_id=folder.parent_id, to_parent_id=cmd.parent_id, moved_by=cmd.user_id,
        )
        uow.emit(event, subtree_scopes(folder))
        return folder_view(moved)

    @staticmethod
    async def _parent(cmd: MoveFolder, folder: Folder, uow: UnitOfWork) -> Folder | None:
        if cmd.parent_id is None:
            return None
        parent = await target_folder(uow, cmd.parent_id, folder.org_id, cmd.user_id)
        if folder.contains(parent):
            raise FolderCycle(folder.folder_id)
        return parent
