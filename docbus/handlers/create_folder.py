"""CreateFolder.

- The actor must be a member of the org; a non-member gets ``not_found`` (the parent
  folder, or the org for a root), the same answer as for an org or parent that does not
  exist (contract v2, section 1).
- A parent must exist in the same org (another org's folder does not exist here).
- Names are unique among siblings; folder ids are unique everywhere (both ``conflict``).
- The creator holds ``owner`` on the new folder (a folder share, made with it).
- A parent in the trash (or below a trashed folder) does not exist.
- Emits FolderCreated.
"""

from __future__ import annotations

from dataclasses import dataclass

from docbus.core.entities import Folder
from docbus.core.errors import FolderNotFound, NotFound
from docbus.core.events import FolderCreated
from docbus.core.ports import Clock, IdGenerator, Json, UnitOfWork
from docbus.core.values import CacheScope, Role
from docbus.core.views import folder_view


@dataclass(frozen=True, slots=True)
class CreateFolder:
    folder_id: str
    org_id: str
    parent_id: str | None
    name: str
    actor_id: str


class CreateFolderHandler:
    def __init__(self, clock: Clock, ids: IdGenerator) -> None:
        self._clock = clock
        self._ids = ids

    async def __call__(self, cmd: CreateFolder, uow: UnitOfWork) -> Json:
        if await uow.memberships.role_of(cmd.org_id, cmd.actor_id) is None:
            if cmd.parent_id is not None:
                raise FolderNotFound(cmd.parent_id)
            raise NotFound(f"org {cmd.org_id} not found")
        folder = await self._place(cmd, uow)
        await uow.folders.add(folder)
        await uow.tree.grant(folder.folder_id, cmd.actor_id, Role.OWNER)
        event = FolderCreated(
            event_id=self._ids.new_id(),
            org_id=folder.org_id,
            occurred_at=self._clock.now(),
            folder=folder,
        )
        scopes = [CacheScope.folder(folder.folder_id), CacheScope.org_tree(folder.org_id)]
        uow.emit(event, scopes)
        return folder_view(folder)

    @staticmethod
    async def _place(cmd: CreateFolder, uow: UnitOfWork) -> Folder:
        if cmd.parent_id is None:
            return Folder.root(cmd.folder_id, cmd.org_id, cmd.name)
        parent = await uow.folders.get(cmd.parent_id)
        if parent is None or parent.org_id != cmd.org_id:
            raise FolderNotFound(cmd.parent_id)
        return parent.child(cmd.folder_id, cmd.name)
