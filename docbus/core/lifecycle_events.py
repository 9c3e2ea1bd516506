"""Events of documents' and folders' lives (contract v2 section 4): renamed, moved,
trashed, restored, purged. Bodies carry exactly the contract's fields."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from docbus.core.events import DomainEvent


@dataclass(frozen=True, slots=True, kw_only=True)
class _Simple(DomainEvent):
    """An event whose body is its own fields, as named in the contract."""

    key: ClassVar[str]
    names: ClassVar[tuple[str, ...]]

    @property
    def routing_key(self) -> str:
        return self.key

    def fields(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.names}


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentRenamed(_Simple):
    type: ClassVar[str] = "DocumentRenamed"
    key: ClassVar[str] = "document.renamed"
    names: ClassVar[tuple[str, ...]] = ("document_id", "name", "previous_name", "renamed_by")
    document_id: str
    name: str
    previous_name: str
    renamed_by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentMoved(_Simple):
    type: ClassVar[str] = "DocumentMoved"
    key: ClassVar[str] = "document.moved"
    names: ClassVar[tuple[str, ...]] = ("document_id", "from_folder_id", "to_folder_id", "moved_by")
    document_id: str
    from_folder_id: str
    to_folder_id: str
    moved_by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentTrashed(_Simple):
    type: ClassVar[str] = "DocumentTrashed"
    key: ClassVar[str] = "document.trashed"
    names: ClassVar[tuple[str, ...]] = ("document_id", "trashed_by")
    document_id: str
    trashed_by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentRestored(_Simple):
    type: ClassVar[str] = "DocumentRestored"
    key: ClassVar[str] = "document.restored"
    names: ClassVar[tuple[str, ...]] = ("document_id", "restored_by")
    document_id: str
    restored_by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentPurged(_Simple):
    type: ClassVar[str] = "DocumentPurged"
    key: ClassVar[str] = "document.purged"
    names: ClassVar[tuple[str, ...]] = ("document_id", "blob_uris", "purged_by")
    document_id: str
    blob_uris: list[str]
    purged_by: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class FolderRenamed(_Simple):
    type: ClassVar[str] = "FolderRenamed"
    key: ClassVar[str] = "folder.renamed"
    names: ClassVar[tuple[str, ...]] = ("folder_id", "name", "previous_name", "renamed_by")
    folder_id: str
    name: str
    previous_name: str
    renamed_by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FolderMoved(_Simple):
    type: ClassVar[str] = "FolderMoved"
    key: ClassVar[str] = "folder.moved"
    names: ClassVar[tuple[str, ...]] = ("folder_id", "from_parent_id", "to_parent_id", "moved_by")
    folder_id: str
    from_parent_id: str | None
    to_parent_id: str | None
    moved_by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FolderTrashed(_Simple):
    type: ClassVar[str] = "FolderTrashed"
    key: ClassVar[str] = "folder.trashed"
    names: ClassVar[tuple[str, ...]] = ("folder_id", "trashed_by")
    folder_id: str
    trashed_by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FolderRestored(_Simple):
    type: ClassVar[str] = "FolderRestored"
    key: ClassVar[str] = "folder.restored"
    names: ClassVar[tuple[str, ...]] = ("folder_id", "restored_by")
    folder_id: str
    restored_by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FolderPurged(_Simple):
    type: ClassVar[str] = "FolderPurged"
    key: ClassVar[str] = "folder.purged"
    names: ClassVar[tuple[str, ...]] = ("folder_id", "documents", "purged_by")
    folder_id: str
    documents: int
    purged_by: str | None
