"""Rules shared by the lifecycle commands (rename, move, trash, restore, purge, revert).

- Everything but restore and purge treats a trashed item (a document trashed itself or
  lying in a trashed folder; a folder trashed itself or below a trashed one) as absent:
  ``not_found``.
- Restore and purge judge access as if the item were not in the trash: a reader without
  ``share`` gets ``forbidden``, a non-reader ``not_found``.
- Documents and folders are read with a row lock: concurrent commands on one item run
  one after the other.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from docbus.core.entities import Document, Folder
from docbus.core.errors import DocumentNotFound, FolderNotFound
from docbus.core.events import DomainEvent
from docbus.core.lifecycle import FolderState
from docbus.core.ports import Clock, IdGenerator, UnitOfWork
from docbus.core.values import CacheScope, Capability


class Stamps:
    """What every event needs besides its own fields: an id, the org and the time."""

    def __init__(self, clock: Clock, ids: IdGenerator) -> None:
        self.clock = clock
        self.ids = ids

    def now(self) -> datetime:
        return self.clock.now()

    def event(self, make: Callable[..., DomainEvent], org_id: str, **fields: Any) -> DomainEvent:
        return make(event_id=self.ids.new_id(), org_id=org_id, occurred_at=self.now(), **fields)


async def live_document(
    uow: UnitOfWork, doc_id: str, user_id: str, capability: Capability
) -> Document:
    """The document, locked, if it is not in the trash and the user has ``capability``."""
    document, access = await uow.documents.get_with_access(doc_id, user_id, lock=True)
    if document is None or document.in_trash:
        raise DocumentNotFound(doc_id)
    access.require(capability, doc_id)
    return document


async def any_document(uow: UnitOfWork, doc_id: str, user_id: str) -> Document:
    """The document, locked, trashed or not, if the user could share it (restore, purge)."""
    document, access = await uow.documents.get_with_access(doc_id, user_id, lock=True)
    if document is None:
        raise DocumentNotFound(doc_id)
    access.require(Capability.SHARE, doc_id)
    return document


async def live_folder(
    uow: UnitOfWork, folder_id: str, user_id: str, capability: Capability
) -> Folder:
    """The folder, locked, if it is not in the trash and the user has ``capability``."""
    state = await uow.tree.find(folder_id, user_id, lock=True)
    if state is None or state.in_trash:
        raise FolderNotFound(folder_id)
    state.access.require(capability, folder_id)
    return state.folder


async def any_folder(uow: UnitOfWork, folder_id: str, user_id: str) -> FolderState:
    """The folder, locked, trashed or not, if the user could share it (restore, purge)."""
    state = await uow.tree.find(folder_id, user_id, lock=True)
    if state is None:
        raise FolderNotFound(folder_id)
    state.access.require(Capability.SHARE, folder_id)
    return state


async def target_folder(uow: UnitOfWork, folder_id: str, org_id: str, user_id: str) -> Folder:
    """A live folder of the org to move something into (``not_found`` otherwise)."""
    state = await uow.tree.find(folder_id, user_id)
    if state is None or state.folder.org_id != org_id or state.in_trash:
        raise FolderNotFound(folder_id)
    return state.folder


def document_scopes(document: Document, *, trash: bool = False) -> list[str]:
    """A document's change alters its gets and its folder's listings; a trash change also
    what trash.list shows."""
    scopes = [CacheScope.folder(document.folder_id), CacheScope.document(document.doc_id)]
    return [*scopes, CacheScope.org_tree(document.org_id)] if trash else scopes


def subtree_scopes(folder: Folder) -> list[str]:
    """A change to a whole subtree (moved, trashed, restored, purged): every folder.children
    and trash.list of the org, and every get and listing (they depend on the tree scope,
    so no key below the folder needs touching)."""
    return [CacheScope.folder(folder.folder_id), CacheScope.org_tree(folder.org_id),
            CacheScope.TREE]
