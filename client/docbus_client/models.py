"""Typed views of the contract's reply data. Each keeps the decoded dict as ``raw``.

Parsing is deliberately cheap: field lookups, tuples for lists and
``datetime.fromisoformat`` for timestamps (always timezone-aware, UTC assumed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def parse_time(value: str) -> datetime:
    """An RFC 3339 timestamp (``...Z`` or ``+00:00``) as an aware datetime."""
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class DocumentVersion:
    """One stored version of a document, as listed by ``document.get``."""

    version: int
    blob_uri: str
    name: str
    mime_type: str
    size_bytes: int | None
    sha256: str | None
    uploaded_by: str
    uploaded_at: datetime
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DocumentVersion:
        """Parse one entry of a Document's ``versions``."""
        return cls(
            version=data["version"],
            blob_uri=data["blob_uri"],
            name=data["name"],
            mime_type=data["mime_type"],
            size_bytes=data.get("size_bytes"),
            sha256=data.get("sha256"),
            uploaded_by=data["uploaded_by"],
            uploaded_at=parse_time(data["uploaded_at"]),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class Document:
    """A document at its current version; ``versions`` only in ``document.get`` replies."""

    doc_id: str
    org_id: str
    folder_id: str
    owner_id: str
    name: str
    mime_type: str
    version: int
    blob_uri: str
    size_bytes: int | None
    sha256: str | None
    tags: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    versions: tuple[DocumentVersion, ...] | None
    raw: dict[str, Any] = field(repr=False, compare=False)
    trashed_at: datetime | None = None
    """Contract v2: set in document.trash replies and trash.list items only."""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Document:
        """Parse the contract's Document (with or without ``versions``)."""
        versions = data.get("versions")
        return cls(
            doc_id=data["doc_id"],
            org_id=data["org_id"],
            folder_id=data["folder_id"],
            owner_id=data["owner_id"],
            name=data["name"],
            mime_type=data["mime_type"],
            version=data["version"],
            blob_uri=data["blob_uri"],
            size_bytes=data.get("size_bytes"),
            sha256=data.get("sha256"),
            tags=tuple(data.get("tags") or ()),
            created_at=parse_time(data["created_at"]),
            updated_at=parse_time(data["updated_at"]),
            versions=None if versions is None else _versions(versions),
            raw=data,
            trashed_at=_maybe_time(data.get("trashed_at")),
        )


def _maybe_time(value: str | None) -> datetime | None:
    return None if value is None else parse_time(value)


def _versions(entries: list[dict[str, Any]]) -> tuple[DocumentVersion, ...]:
    return tuple(DocumentVersion.from_dict(entry) for entry in entries)


@dataclass(frozen=True, slots=True)
class Folder:
    """A folder; ``path`` is its place in the org's tree."""

    folder_id: str
    org_id: str
    parent_id: str | None
    name: str
    path: str
    raw: dict[str, Any] = field(repr=False, compare=False)
    trashed_at: datetime | None = None
    """Contract v2: set when trashed by its own command."""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Folder:
        """Parse the contract's Folder."""
        return cls(
            folder_id=data["folder_id"],
            org_id=data["org_id"],
            parent_id=data.get("parent_id"),
            name=data["name"],
            path=data["path"],
            raw=data,
            trashed_at=_maybe_time(data.get("trashed_at")),
        )


@dataclass(frozen=True, slots=True)
class Share:
    """A user's role on a document; ``role`` is None after a revoke; ``expires_at`` (v2)
    None: no expiry."""

    doc_id: str
    user_id: str
    role: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)
    expires_at: datetime | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Share:
        """Parse the contract's Share."""
        return cls(data["doc_id"], data["user_id"], data.get("role"), data,
                   _maybe_time(data.get("expires_at")))


@dataclass(frozen=True, slots=True)
class FolderShare:
    """A user's role on a folder and everything below it (contract v2); ``role`` is None
    after an unshare, ``expires_at`` None: no expiry."""

    folder_id: str
    user_id: str
    role: str | None
    expires_at: datetime | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FolderShare:
        """Parse the contract's folder Share."""
        return cls(data["folder_id"], data["user_id"], data.get("role"),
                   _maybe_time(data.get("expires_at")), data)


@dataclass(frozen=True, slots=True)
class Membership:
    """A user's role in an org; ``role`` is None after a remove."""

    org_id: str
    user_id: str
    role: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Membership:
        """Parse the contract's Membership."""
        return cls(data["org_id"], data["user_id"], data.get("role"), data)


@dataclass(frozen=True, slots=True)
class FolderListing:
    """One page of a folder: readable documents, newest first; ``next_cursor`` None at the end."""

    folder_id: str
    documents: tuple[Document, ...]
    next_cursor: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FolderListing:
        """Parse the contract's FolderListing."""
        documents = tuple(Document.from_dict(item) for item in data["documents"])
        return cls(data["folder_id"], documents, data.get("next_cursor"), data)


@dataclass(frozen=True, slots=True)
class Purged:
    """What a purge removed (v2): ``blob_uris`` for the blob store (``()`` for a folder:
    each document's ``document.purged`` event lists its own)."""

    doc_id: str | None
    folder_id: str | None
    documents: int
    blob_uris: tuple[str, ...]
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Purged:
        """Parse the contract's Purged."""
        return cls(data.get("doc_id"), data.get("folder_id"), data["documents"],
                   tuple(data["blob_uris"]), data)


@dataclass(frozen=True, slots=True)
class FolderChildren:
    """One page of the live folders below a folder (or the org's roots), by name (v2)."""

    org_id: str
    folder_id: str | None
    folders: tuple[Folder, ...]
    next_cursor: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FolderChildren:
        """Parse the contract's FolderChildren."""
        folders = tuple(Folder.from_dict(item) for item in data["folders"])
        return cls(data["org_id"], data.get("folder_id"), folders, data.get("next_cursor"), data)


@dataclass(frozen=True, slots=True)
class TrashItem:
    """A document or folder in the trash (v2); ``kind`` says which one is set."""

    kind: str
    document: Document | None
    folder: Folder | None
    trashed_by: str
    trashed_at: datetime
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrashItem:
        """Parse one item of a TrashListing."""
        document = data.get("document")
        folder = data.get("folder")
        return cls(
            data["kind"],
            None if document is None else Document.from_dict(document),
            None if folder is None else Folder.from_dict(folder),
            data["trashed_by"],
            parse_time(data["trashed_at"]),
            data,
        )


@dataclass(frozen=True, slots=True)
class TrashListing:
    """One page of the trash, most recently trashed first (v2)."""

    items: tuple[TrashItem, ...]
    next_cursor: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrashListing:
        """Parse the contract's TrashListing."""
        items = tuple(TrashItem.from_dict(item) for item in data["items"])
        return cls(items, data.get("next_cursor"), data)


@dataclass(frozen=True, slots=True)
class AccessGrant:
    """One grant (contract v2): ``source`` is document, folder (with ``folder_id``) or
    org_admin; ``user_id`` is set in a ShareList, None in an Explanation."""

    source: str
    role: str
    folder_id: str | None
    expires_at: datetime | None
    user_id: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AccessGrant:
        return cls(data["source"], data["role"], data.get("folder_id"),
                   _maybe_time(data.get("expires_at")), data.get("user_id"))


@dataclass(frozen=True, slots=True)
class ShareList:
    """Everyone who may read a document, and why (contract v2, document.shares)."""

    doc_id: str
    shares: tuple[AccessGrant, ...]
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ShareList:
        return cls(data["doc_id"], tuple(AccessGrant.from_dict(s) for s in data["shares"]), data)


@dataclass(frozen=True, slots=True)
class Explanation:
    """What one user may do with a document, and why (contract v2, access.explain)."""

    doc_id: str
    user_id: str
    role: str | None
    capabilities: tuple[str, ...]
    grants: tuple[AccessGrant, ...]
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Explanation:
        return cls(data["doc_id"], data["user_id"], data.get("role"),
                   tuple(data["capabilities"]),
                   tuple(AccessGrant.from_dict(g) for g in data["grants"]), data)


@dataclass(frozen=True, slots=True)
class SharedItem:
    """A grant made to the reader by someone else (contract v2, shared.with_me)."""

    kind: str
    document: Document | None
    folder: Folder | None
    role: str
    shared_by: str
    shared_at: datetime
    expires_at: datetime | None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SharedItem:
        document, folder = data.get("document"), data.get("folder")
        return cls(
            data["kind"], Document.from_dict(document) if document else None,
            Folder.from_dict(folder) if folder else None, data["role"], data["shared_by"],
            parse_time(data["shared_at"]), _maybe_time(data.get("expires_at")),
        )


@dataclass(frozen=True, slots=True)
class SearchResults:
    """One page of document.search: best match first; ``next_cursor`` None at the end."""

    documents: tuple[Document, ...]
    next_cursor: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SearchResults:
        """Parse the contract's SearchResults."""
        documents = tuple(Document.from_dict(item) for item in data["documents"])
        return cls(documents, data.get("next_cursor"), data)


@dataclass(frozen=True, slots=True)
class SharedWithMe:
    """One page of shared.with_me, newest grant first."""

    items: tuple[SharedItem, ...]
    next_cursor: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SharedWithMe:
        items = tuple(SharedItem.from_dict(i) for i in data["items"])
        return cls(items, data.get("next_cursor"), data)
