"""Lives of documents and folders (contract v2): folder access, trash, and their ports.

- A member's effective role on a folder is the highest of their (unexpired) folder shares
  on it and on every folder above it; an org admin holds owner everywhere in the org; a
  non-member holds nothing and learns nothing (``not_found``).
- Folders are not secret within their org: a member lacking a capability on a folder is
  ``forbidden``.
- A folder is in the trash when it, or a folder above it, was trashed; only the folder
  trashed by its own command carries ``trashed_at``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from docbus.core.access import Grant, capabilities
from docbus.core.entities import Document, DocumentVersion, Folder, FolderShare, ShareGrant
from docbus.core.errors import FolderCapabilityMissing, FolderNotFound
from docbus.core.values import Capability, OrgRole, Role


@dataclass(frozen=True, slots=True)
class FolderAccess:
    """What one user holds on one folder: org role, effective (inherited) folder role, and
    when the first of the live folder shares that make it up expires."""

    user_id: str
    org_role: OrgRole | None
    folder_role: Role | None
    valid_until: datetime | None = None
    decided: frozenset[Capability] | None = None
    """The capabilities an AccessDecider allowed (core.decisions); the adapters always set
    it. None only for a FolderAccess built by hand: then core.access's rule."""
    grants: tuple[Grant, ...] = ()
    """The user's folder shares on the folder and above, as the decider was given them (a
    listing's filter is decided from them again)."""

    @property
    def capabilities(self) -> frozenset[Capability]:
        if self.decided is not None:
            return self.decided
        return capabilities(self.org_role, self.folder_role)

    def can(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def require(self, capability: Capability, folder_id: str) -> None:
        """Raise unless allowed: a non-member gets not_found, a member forbidden."""
        if self.org_role is None:
            raise FolderNotFound(folder_id)
        if not self.can(capability):
            raise FolderCapabilityMissing(self.user_id, capability.value, folder_id)


@dataclass(frozen=True, slots=True)
class FolderState:
    """A folder as the lifecycle commands see it: trashed or not, with the actor's access."""

    folder: Folder
    above_in_trash: bool
    """A folder above it is in the trash (its own trashed_at aside)."""
    access: FolderAccess

    @property
    def in_trash(self) -> bool:
        return self.above_in_trash or self.folder.trashed_at is not None


@dataclass(frozen=True, slots=True)
class TrashItem:
    kind: Literal["document", "folder"]
    document: Document | None
    folder: Folder | None
    trashed_by: str
    trashed_at: datetime

    @property
    def item_id(self) -> str:
        if self.document is not None:
            return self.document.doc_id
        assert self.folder is not None  # one of the two, by construction
        return self.folder.folder_id

    @property
    def position(self) -> TrashPosition:
        return TrashPosition(self.trashed_at, self.kind, self.item_id)


@dataclass(frozen=True, slots=True, order=True)
class TrashPosition:
    """Keyset position in trash.list: most recently trashed first, then kind, then id."""

    trashed_at: datetime
    kind: str
    item_id: str


@dataclass(frozen=True, slots=True)
class PurgedDocument:
    doc_id: str
    blob_uris: tuple[str, ...]
    """Every version's blob_uri, oldest first."""


class FolderTree(Protocol):
    """The folder tree: places, names, trash state and folder shares (uow.tree)."""

    async def find(self, folder_id: str, user_id: str, *, lock: bool = False) -> FolderState | None:
        """The folder even if in the trash, and the user's access (locked if asked); None if
        there is no such folder."""
        ...

    async def lock_tree(self, org_id: str) -> None:
        """Hold the org's tree against concurrent moves until the end of the unit."""
        ...

    async def rename(self, folder: Folder, name: str) -> Folder:
        """Rename, fixing the paths of its subtree; FolderNameTaken among live siblings."""
        ...

    async def move(self, folder: Folder, parent: Folder | None) -> Folder:
        """Move under ``parent`` (None: a root), fixing its subtree's paths and ancestors;
        FolderNameTaken if a live sibling there has its name."""
        ...

    async def set_trashed(self, folder: Folder) -> None:
        """Store the folder's trashed_at/trashed_by; FolderNameTaken if restoring it clashes
        with a live sibling's name."""
        ...

    async def children(
        self, org_id: str, parent_id: str | None, *, limit: int, after: tuple[str, str] | None
    ) -> list[Folder]:
        """Live folders directly below ``parent_id`` (None: the org's roots) by (name,
        folder_id), strictly after ``after``."""
        ...

    async def grant(self, folder_id: str, user_id: str, role: Role) -> None:
        """Give the user a share on the folder (the creator's owner share)."""
        ...

    async def share_of(self, folder_id: str, user_id: str) -> FolderShare | None:
        """The user's live share on this very folder (not inherited), or None."""
        ...

    async def put_share(
        self, folder_id: str, user_id: str, role: Role | None, grant: ShareGrant | None = None
    ) -> None:
        """Grant or replace (role, with who grants it until when) or remove (None) the
        user's share on the folder: one row, whatever the size of its subtree."""
        ...

    async def purge(self, folder: Folder) -> list[PurgedDocument]:
        """Delete the folder, its subtree, their documents (versions, shares) and folder
        shares for good; return the documents deleted."""
        ...

    async def trash_page(
        self, org_id: str, user_id: str, *, org_role: OrgRole, limit: int,
        after: TrashPosition | None,
    ) -> list[TrashItem]:
        """Items trashed by their own command in the org that the user (of ``org_role``
        in it) could restore: ``share`` on them, as the unit's AccessDecider filters them
        (``anywhere``, once per kind); most recently trashed first, strictly after
        ``after``."""
        ...

    async def try_lock_sweeper(self) -> bool:
        """Become the one retention sweeper until the end of the unit; False if another
        unit is sweeping."""
        ...

    async def expired(self, before: datetime, limit: int) -> list[TrashItem]:
        """Up to ``limit`` items trashed by their own command before ``before``, locked
        (skipping any another unit holds): documents first, then folders deepest first, so
        that purging them in this order never purges anything twice."""
        ...


class DocumentLifecycle(Protocol):
    """Changes to a document other than uploads and shares (uow.lifecycle)."""

    async def save(self, document: Document) -> None:
        """Store its name, folder, updated_at and trash state (not its content)."""
        ...

    async def version(self, doc_id: str, version: int) -> DocumentVersion | None:
        """One stored version, or None."""
        ...

    async def purge(self, doc_id: str) -> PurgedDocument:
        """Delete the document, every version and every share for good."""
        ...
