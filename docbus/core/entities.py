"""Entities: folders, documents and their versions, memberships, shares."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from docbus.core.values import OrgRole, Role


@dataclass(frozen=True, slots=True)
class Folder:
    """A folder; ``ancestors`` are the ids above it, root first (the tree's index: see
    docs/decisions.md). ``trashed_at`` is set only on a folder trashed by its own command;
    its subtree is in the trash with it without being marked."""

    folder_id: str
    org_id: str
    parent_id: str | None
    name: str
    path: str
    ancestors: tuple[str, ...] = ()
    trashed_at: datetime | None = None
    trashed_by: str | None = None

    @classmethod
    def root(cls, folder_id: str, org_id: str, name: str) -> Folder:
        return cls(folder_id, org_id, None, name, f"/{name}")

    def child(self, folder_id: str, name: str) -> Folder:
        return Folder(
            folder_id, self.org_id, self.folder_id, name, f"{self.path}/{name}",
            (*self.ancestors, self.folder_id),
        )

    def contains(self, other: Folder) -> bool:
        """Whether ``other`` is this folder or lies below it."""
        return other.folder_id == self.folder_id or self.folder_id in other.ancestors


@dataclass(frozen=True, slots=True)
class Content:
    """What one upload stores: the part of a document that changes with each version."""

    name: str
    mime_type: str
    blob_uri: str
    tags: tuple[str, ...]
    size_bytes: int | None
    sha256: str | None


@dataclass(frozen=True, slots=True)
class DocumentVersion:
    doc_id: str
    version: int
    content: Content
    uploaded_by: str
    uploaded_at: datetime


@dataclass(frozen=True, slots=True)
class Document:
    doc_id: str
    org_id: str
    folder_id: str
    owner_id: str
    version: int
    content: Content
    created_at: datetime
    updated_at: datetime
    trashed_at: datetime | None = None
    trashed_by: str | None = None
    folder_trashed: bool = False
    """Whether its folder (or one above it) is in the trash; set by the repositories."""

    @property
    def in_trash(self) -> bool:
        return self.trashed_at is not None or self.folder_trashed

    @classmethod
    def create(
        cls, doc_id: str, folder: Folder, owner_id: str, content: Content, at: datetime
    ) -> tuple[Document, DocumentVersion]:
        """Version 1; the uploader becomes the creator (``owner_id``)."""
        doc = cls(doc_id, folder.org_id, folder.folder_id, owner_id, 1, content, at, at)
        return doc, DocumentVersion(doc_id, 1, content, owner_id, at)

    def is_in(self, org_id: str, folder_id: str) -> bool:
        return self.org_id == org_id and self.folder_id == folder_id

    def revise(
        self, content: Content, uploaded_by: str, at: datetime
    ) -> tuple[Document, DocumentVersion]:
        """The next version: new content, same org, folder and creator."""
        # updated_at never goes backwards, even if clocks of two workers disagree.
        at = max(at, self.updated_at)
        doc = replace(self, version=self.version + 1, content=content, updated_at=at)
        return doc, DocumentVersion(self.doc_id, doc.version, content, uploaded_by, at)


@dataclass(frozen=True, slots=True)
class Membership:
    org_id: str
    user_id: str
    role: OrgRole | None


@dataclass(frozen=True, slots=True)
class Share:
    """A document share (role None: none); ``shared_by``/``shared_at`` are None for shares
    made before contract v2."""

    doc_id: str
    user_id: str
    role: Role | None
    expires_at: datetime | None = None
    shared_by: str | None = None
    shared_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ShareGrant:
    """Who grants a share, when, and until when (None: no expiry)."""

    shared_by: str | None = None
    shared_at: datetime | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DocumentPage:
    """One page of a folder listing, newest ``updated_at`` first."""

    folder_id: str
    documents: tuple[Document, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class FolderShare:
    """A folder share (role None: none): reaches the folder, its subtree and their
    documents (contract v2, section 1)."""

    folder_id: str
    user_id: str
    role: Role | None
    expires_at: datetime | None = None
    shared_by: str | None = None
    shared_at: datetime | None = None
