"""RestoreFolder (contract v2).

- Access is judged as if the folder were not in the trash: ``share`` on it (a member
  without it: ``forbidden``; a non-member: ``not_found``).
- A folder below a folder that is still in the trash cannot come back on its own
  (``conflict``).
- Its subtree comes back as it was trashed: what was trashed on its own before stays in
  the trash.
- A live sibling that took its name meanwhile is a ``conflict``.
- Restoring a folder that is not in the trash changes nothing and emits nothing.
- Emits FolderRestored.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from docbus.core.errors import ParentInTrash
from docbus.core.lifecycle_events import FolderRestored
from docbus.core.ports import Clock, IdGenerator, Json, UnitOfWork
from docbus.core.views import folder_view
from docbus.handlers.lifecycle import Stamps, any_folder, subtree_scopes


@dataclass(frozen=True, slots=True)
class RestoreFolder:
    folder_id: str
    user_id: str


class RestoreFolderHandler:
    def __init__(self, clock: Clock, ids: IdGenerator) -> None:
        self._stamps = Stamps(clock, ids)

    async def __call__(self, cmd: RestoreFolder, uow: UnitOfWork) -> Json:
        state = await any_folder(uow, cmd.folder_id, cmd.user_id)
        folder = state.folder
        if state.above_in_trash:
            raise ParentInTrash("folder", cmd.folder_id)
        if folder.trashed_at is None:
            return folder_view(folder)
        restored = replace(folder, trashed_at=None, trashed_by=None)
        await uow.tree.set_trashed(restored)
        event = self._stamps.event(
            FolderRestored, folder.org_id, folder_id=folder.folder_id, restored_by=cmd.user_id
        )
        uow.emit(event, subtree_scopes(folder))
        return folder_view(restored)
