"""In-memory fakes of the folder tree and documents' lives (core.lifecycle), over the
state of adapters.memory; the same rules as adapters/postgres/tree.py."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Protocol

from docbus.core.access import Grant, highest, valid_until
from docbus.core.decisions import AccessDecider, BuiltInDecider, Question
from docbus.core.entities import Document, DocumentVersion, Folder, FolderShare, ShareGrant
from docbus.core.errors import FolderNameTaken
from docbus.core.lifecycle import (
    FolderAccess,
    FolderState,
    PurgedDocument,
    TrashItem,
    TrashPosition,
)
from docbus.core.values import Capability, OrgRole, Role


class State(Protocol):
    """What these fakes use of adapters.memory.State (named here, not imported: memory
    imports this module)."""

    folders: dict[str, Folder]
    documents: dict[str, Document]
    versions: dict[str, list[DocumentVersion]]
    memberships: dict[tuple[str, str], OrgRole]
    shares: dict[tuple[str, str], Role]
    folder_shares: dict[tuple[str, str], tuple[Role, datetime | None]]
    share_grants: dict[tuple[str, str], ShareGrant]
    folder_share_grants: dict[tuple[str, str], ShareGrant]

    def now(self) -> datetime: ...


def above_in_trash(state: State, folder: Folder) -> bool:
    return any(state.folders[a].trashed_at is not None for a in folder.ancestors)


def folder_in_trash(state: State, folder_id: str) -> bool:
    folder = state.folders[folder_id]
    return folder.trashed_at is not None or above_in_trash(state, folder)


def name_clash(state: State, folder: Folder) -> bool:
    """Whether a live sibling other than the folder itself has its name."""
    return any(
        (o.org_id, o.parent_id, o.name) == (folder.org_id, folder.parent_id, folder.name)
        and o.folder_id != folder.folder_id and o.trashed_at is None
        for o in state.folders.values()
    )


def folder_grants(state: State, folder_id: str, user_id: str) -> list[Grant]:
    """The user's folder shares on the folder and above it, expired ones included."""
    folder = state.folders[folder_id]
    chain = (*folder.ancestors, folder.folder_id)
    return [
        Grant(role, "folder", f, expires_at)
        for (f, u), (role, expires_at) in state.folder_shares.items()
        if u == user_id and f in chain
    ]


def document_grants(state: State, doc_id: str, user_id: str) -> list[Grant]:
    """The user's document share and folder shares on the document's folder and above."""
    role = state.shares.get((doc_id, user_id))
    grants = folder_grants(state, state.documents[doc_id].folder_id, user_id)
    if role is not None:
        expires_at = state.share_grants.get((doc_id, user_id), ShareGrant()).expires_at
        grants.append(Grant(role, "document", None, expires_at))
    return grants


def folder_role(state: State, folder: Folder, user_id: str) -> Role | None:
    now = state.now()
    return highest(g.role for g in folder_grants(state, folder.folder_id, user_id) if g.live(now))


class InMemoryFolderTree:
    def __init__(self, state: State, decider: AccessDecider | None = None) -> None:
        self._s = state
        self._decider = decider or BuiltInDecider(state.now)

    async def find(self, folder_id: str, user_id: str, *, lock: bool = False) -> FolderState | None:
        folder = self._s.folders.get(folder_id)
        if folder is None:
            return None
        org_role: OrgRole | None = self._s.memberships.get((folder.org_id, user_id))
        grants = folder_grants(self._s, folder_id, user_id)
        now = self._s.now()
        [decided] = await self._decider.decide(
            [Question(user_id, "folder", folder_id, org_role, tuple(grants))]
        )
        access = FolderAccess(
            user_id, org_role, highest(g.role for g in grants if g.live(now)),
            valid_until(grants, now), decided, tuple(grants),
        )
        return FolderState(folder, above_in_trash(self._s, folder), access)

    async def lock_tree(self, org_id: str) -> None:
        """Nothing to do: write units run one at a time."""

    async def rename(self, folder: Folder, name: str) -> Folder:
        renamed = replace(folder, name=name, path=folder.path.rsplit("/", 1)[0] + "/" + name)
        return self._replace_subtree(folder, renamed)

    async def move(self, folder: Folder, parent: Folder | None) -> Folder:
        moved = (parent.child(folder.folder_id, folder.name) if parent
                 else Folder.root(folder.folder_id, folder.org_id, folder.name))
        moved = replace(moved, trashed_at=folder.trashed_at, trashed_by=folder.trashed_by)
        return self._replace_subtree(folder, moved)

    def _replace_subtree(self, old: Folder, new: Folder) -> Folder:
        if new.trashed_at is None and name_clash(self._s, new):
            raise FolderNameTaken(new.name)
        for f in list(self._s.folders.values()):
            if old.folder_id in f.ancestors:
                at = f.ancestors.index(old.folder_id)
                self._s.folders[f.folder_id] = replace(
                    f, path=new.path + f.path[len(old.path):],
                    ancestors=(*new.ancestors, *f.ancestors[at:]),
                )
        self._s.folders[new.folder_id] = new
        return new

    async def set_trashed(self, folder: Folder) -> None:
        if folder.trashed_at is None and name_clash(self._s, folder):
            raise FolderNameTaken(folder.name)
        self._s.folders[folder.folder_id] = folder

    async def children(
        self, org_id: str, parent_id: str | None, *, limit: int, after: tuple[str, str] | None
    ) -> list[Folder]:
        found = sorted(
            (f for f in self._s.folders.values()
             if f.org_id == org_id and f.parent_id == parent_id and f.trashed_at is None
             and (after is None or (f.name, f.folder_id) > after)),
            key=lambda f: (f.name.encode(), f.folder_id),
        )
        return found[:limit]

    async def grant(self, folder_id: str, user_id: str, role: Role) -> None:
        self._s.folder_shares[folder_id, user_id] = (role, None)
        self._s.folder_share_grants[folder_id, user_id] = ShareGrant(user_id, self._s.now())

    async def share_of(self, folder_id: str, user_id: str) -> FolderShare | None:
        found = self._s.folder_shares.get((folder_id, user_id))
        if found is None or not Grant(found[0], "folder", folder_id, found[1]).live(self._s.now()):
            return None
        g = self._s.folder_share_grants.get((folder_id, user_id), ShareGrant())
        return FolderShare(folder_id, user_id, found[0], found[1], g.shared_by, g.shared_at)

    async def put_share(
        self, folder_id: str, user_id: str, role: Role | None, grant: ShareGrant | None = None
    ) -> None:
        self._s.folder_shares.pop((folder_id, user_id), None)
        self._s.folder_share_grants.pop((folder_id, user_id), None)
        if role is not None:
            g = grant or ShareGrant()
            self._s.folder_shares[folder_id, user_id] = (role, g.expires_at)
            self._s.folder_share_grants[folder_id, user_id] = g

    async def purge(self, folder: Folder) -> list[PurgedDocument]:
        ids = {f.folder_id for f in self._s.folders.values() if folder.contains(f)}
        doc_ids = sorted(d.doc_id for d in self._s.documents.values() if d.folder_id in ids)
        purged = [purge_document(self._s, doc_id) for doc_id in doc_ids]
        for key in [k for k in self._s.folder_shares if k[0] in ids]:
            del self._s.folder_shares[key]
            self._s.folder_share_grants.pop(key, None)
        for folder_id in ids:
            del self._s.folders[folder_id]
        return purged

    async def trash_page(
        self, org_id: str, user_id: str, *, org_role: OrgRole, limit: int,
        after: TrashPosition | None,
    ) -> list[TrashItem]:
        items = [
            TrashItem("document", d, None, d.trashed_by or "", d.trashed_at)
            for d in self._s.documents.values()
            if d.org_id == org_id and d.trashed_at is not None
        ] + [
            TrashItem("folder", None, f, f.trashed_by or "", f.trashed_at)
            for f in self._s.folders.values()
            if f.org_id == org_id and f.trashed_at is not None
        ]
        items = [i for i in items if after is None or i.position < after]
        items = await self._restorable(user_id, org_role, items)
        items.sort(key=lambda i: i.position, reverse=True)
        return items[:limit]


    async def _restorable(
        self, user_id: str, org_role: OrgRole, items: list[TrashItem]
    ) -> list[TrashItem]:
        """The decider's filter per kind (a fake: a policy's plan is checked item by item)."""
        kept = []
        for kind in ("document", "folder"):
            mine = [i for i in items if i.kind == kind]
            readable = await self._decider.anywhere(user_id, org_role, kind, Capability.SHARE)
            if readable.kind == "all":
                kept += mine
            elif readable.kind == "built_in":
                kept += [i for i in mine if self._owns(i, user_id)]
            elif readable.kind == "plan":
                asked = [self._question(i, user_id, org_role) for i in mine]
                decided = await self._decider.decide(asked)
                kept += [i for i, can in zip(mine, decided, strict=True)
                         if Capability.SHARE in can]
        return kept

    def _owns(self, item: TrashItem, user_id: str) -> bool:
        if item.document is not None:
            return document_role(self._s, item.document.doc_id, user_id) is Role.OWNER
        assert item.folder is not None  # one of the two, by construction
        return folder_role(self._s, item.folder, user_id) is Role.OWNER

    def _question(self, item: TrashItem, user_id: str, org_role: OrgRole) -> Question:
        if item.document is not None:
            grants = document_grants(self._s, item.document.doc_id, user_id)
            return Question(user_id, "document", item.item_id, org_role, tuple(grants))
        grants = folder_grants(self._s, item.item_id, user_id)
        return Question(user_id, "folder", item.item_id, org_role, tuple(grants))

    async def try_lock_sweeper(self) -> bool:
        """Always: write units run one at a time."""
        return True

    async def expired(self, before: datetime, limit: int) -> list[TrashItem]:
        documents = sorted(
            (d for d in self._s.documents.values()
             if d.trashed_at is not None and d.trashed_at < before),
            key=lambda d: (d.trashed_at, d.doc_id),
        )
        folders = sorted(
            (f for f in self._s.folders.values()
             if f.trashed_at is not None and f.trashed_at < before),
            key=lambda f: (-len(f.ancestors), f.trashed_at, f.folder_id),
        )
        items = [TrashItem("document", d, None, d.trashed_by or "", d.trashed_at)
                 for d in documents if d.trashed_at is not None]
        items += [TrashItem("folder", None, f, f.trashed_by or "", f.trashed_at)
                  for f in folders if f.trashed_at is not None]
        return items[:limit]


def document_role(state: State, doc_id: str, user_id: str) -> Role | None:
    """The user's effective role through their live grants (org role aside)."""
    now = state.now()
    return highest(g.role for g in document_grants(state, doc_id, user_id) if g.live(now))


def purge_document(state: State, doc_id: str) -> PurgedDocument:
    versions = state.versions.pop(doc_id, [])
    del state.documents[doc_id]
    for key in [k for k in state.shares if k[0] == doc_id]:
        del state.shares[key]
        state.share_grants.pop(key, None)
    return PurgedDocument(doc_id, tuple(v.content.blob_uri for v in versions))


class InMemoryDocumentLifecycle:
    def __init__(self, state: State) -> None:
        self._s = state

    async def save(self, document: Document) -> None:
        self._s.documents[document.doc_id] = replace(document, folder_trashed=False)

    async def version(self, doc_id: str, version: int) -> DocumentVersion | None:
        found = [v for v in self._s.versions.get(doc_id, []) if v.version == version]
        return found[0] if found else None

    async def purge(self, doc_id: str) -> PurgedDocument:
        return purge_document(self._s, doc_id)
