"""Replies and events as pydantic models: they describe the AsyncAPI document, and tests
check that what the core produces fits them (``REPLY_DATA`` by routing key, ``EVENTS`` by
event routing key).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
)


class Outbound(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FolderOut(Outbound):
    folder_id: str
    org_id: str
    parent_id: str | None
    name: str
    path: str = Field(description="'/' + names from the root, e.g. /finance/2026")
    trashed_at: datetime | None = Field(description="null unless trashed by its own command")


class DocumentOut(Outbound):
    doc_id: str
    org_id: str
    folder_id: str
    owner_id: str = Field(description="the creator (uploader of version 1)")
    name: str
    mime_type: str
    version: int
    blob_uri: str
    size_bytes: int | None
    sha256: str | None
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    trashed_at: datetime | None = Field(
        description="null unless in the trash (shown by document.trash and trash.list)"
    )


class VersionOut(Outbound):
    version: int
    blob_uri: str
    name: str
    mime_type: str
    size_bytes: int | None
    sha256: str | None
    uploaded_by: str
    uploaded_at: datetime


class DocumentWithVersionsOut(DocumentOut):
    versions: list[VersionOut] = Field(description="oldest first")


class ShareOut(Outbound):
    doc_id: str
    user_id: str
    role: Literal["viewer", "editor", "owner"] | None = Field(description="null after a revoke")
    expires_at: datetime | None = Field(None, description="v2; null: no expiry")


class FolderShareOut(Outbound):
    folder_id: str
    user_id: str
    role: Literal["viewer", "editor", "owner"] | None = Field(description="null after a revoke")
    expires_at: datetime | None = Field(description="null: no expiry")


class MembershipOut(Outbound):
    org_id: str
    user_id: str
    role: Literal["member", "admin"] | None = Field(description="null after a remove")


class FolderListingOut(Outbound):
    folder_id: str
    documents: list[DocumentOut] = Field(description="newest updated_at first")
    next_cursor: str | None = Field(description="null on the last page")


class SearchResultsOut(Outbound):
    documents: list[DocumentOut] = Field(
        description="best match first (more words of the text in the name), then newest"
        " updated_at"
    )
    next_cursor: str | None = Field(description="null on the last page")


class PurgedOut(Outbound):
    doc_id: str | None = Field(None, description="for document.purge")
    folder_id: str | None = Field(None, description="for folder.purge")
    documents: int = Field(description="how many documents were purged")
    blob_uris: list[str] = Field(
        description="every version's blob_uri (document.purge); [] for folder.purge"
    )


class FolderChildrenOut(Outbound):
    org_id: str
    folder_id: str | None
    folders: list[FolderOut] = Field(description="by name, then folder_id")
    next_cursor: str | None = Field(description="null on the last page")


class TrashItemOut(Outbound):
    kind: Literal["document", "folder"]
    document: DocumentOut | None = Field(None, description="when kind is document")
    folder: FolderOut | None = Field(None, description="when kind is folder")
    trashed_by: str
    trashed_at: datetime


class TrashListingOut(Outbound):
    items: list[TrashItemOut] = Field(description="most recently trashed first")
    next_cursor: str | None = Field(description="null on the last page")


Role3 = Literal["viewer", "editor", "owner"]


class AccessGrantOut(Outbound):
    source: Literal["document", "folder", "org_admin"]
    role: Role3
    folder_id: str | None = Field(description="the folder shared, for source folder")
    expires_at: datetime | None = Field(description="null: no expiry")


class ShareEntryOut(AccessGrantOut):
    user_id: str


class ShareListOut(Outbound):
    doc_id: str
    shares: list[ShareEntryOut] = Field(
        description="one per live grant of a member, plus one org_admin entry per admin;"
        " by user_id, then highest role first"
    )


class ExplanationOut(Outbound):
    doc_id: str
    user_id: str = Field(description="the user asked about")
    role: Role3 | None = Field(description="effective role; null: none")
    capabilities: list[Literal["read", "write", "share"]]
    grants: list[AccessGrantOut] = Field(description="every grant that applies, highest first")


class SharedItemOut(Outbound):
    kind: Literal["document", "folder"]
    document: DocumentOut | None = Field(None, description="when kind is document")
    folder: FolderOut | None = Field(None, description="when kind is folder")
    role: Role3
    shared_by: str
    shared_at: datetime
    expires_at: datetime | None = Field(description="null: no expiry")


class SharedWithMeOut(Outbound):
    items: list[SharedItemOut] = Field(description="newest grant first")
    next_cursor: str | None = Field(description="null on the last page")


class ErrorOut(Outbound):
    code: Literal["invalid", "not_found", "forbidden", "conflict", "unavailable"]
    message: str = Field(description="for people; clients branch on code")
    details: list[dict[str, Any]]


T = TypeVar("T")


class Success(Outbound, Generic[T]):
    ok: Literal[True]
    data: T


class Failure(Outbound):
    ok: Literal[False]
    error: ErrorOut


class EventOut(Outbound):
    event_id: str = Field(description="unique; also the AMQP message_id")
    type: str
    org_id: str
    occurred_at: datetime


class FolderCreatedOut(EventOut):
    type: Literal["FolderCreated"]
    folder: FolderOut


class DocumentUploadedOut(EventOut):
    type: Literal["DocumentUploaded"]
    document: DocumentOut
    uploaded_by: str
    reverted_from: int | None = Field(None, description="set by document.revert (v2)")


class DocumentSharedOut(EventOut):
    type: Literal["DocumentShared"]
    document_id: str
    shared_with: str
    shared_by: str
    role: Literal["viewer", "editor", "owner"]
    expires_at: datetime | None = Field(None, description="v2; null: no expiry")
    at: datetime


class DocumentUnsharedOut(EventOut):
    type: Literal["DocumentUnshared"]
    document_id: str
    user_id: str
    revoked_by: str


class MembershipChangedOut(EventOut):
    type: Literal["MembershipChanged"]
    user_id: str
    role: Literal["member", "admin"] | None


class DocumentRenamedOut(EventOut):
    type: Literal["DocumentRenamed"]
    document_id: str
    name: str
    previous_name: str
    renamed_by: str


class DocumentMovedOut(EventOut):
    type: Literal["DocumentMoved"]
    document_id: str
    from_folder_id: str
    to_folder_id: str
    moved_by: str


class DocumentTrashedOut(EventOut):
    type: Literal["DocumentTrashed"]
    document_id: str
    trashed_by: str


class DocumentRestoredOut(EventOut):
    type: Literal["DocumentRestored"]
    document_id: str
    restored_by: str


class DocumentPurgedOut(EventOut):
    type: Literal["DocumentPurged"]
    document_id: str
    blob_uris: list[str]
    purged_by: str | None = Field(description="null: purged by the retention sweeper")


class FolderRenamedOut(EventOut):
    type: Literal["FolderRenamed"]
    folder_id: str
    name: str
    previous_name: str
    renamed_by: str


class FolderMovedOut(EventOut):
    type: Literal["FolderMoved"]
    folder_id: str
    from_parent_id: str | None
    to_parent_id: str | None
    moved_by: str


class FolderTrashedOut(EventOut):
    type: Literal["FolderTrashed"]
    folder_id: str
    trashed_by: str


class FolderRestoredOut(EventOut):
    type: Literal["FolderRestored"]
    folder_id: str
    restored_by: str


class FolderPurgedOut(EventOut):
    type: Literal["FolderPurged"]
    folder_id: str
    documents: int
    purged_by: str | None = Field(description="null: purged by the retention sweeper")


class FolderSharedOut(EventOut):
    type: Literal["FolderShared"]
    folder_id: str
    shared_with: str
    shared_by: str
    role: Literal["viewer", "editor", "owner"]
    expires_at: datetime | None = Field(description="null: no expiry")
    at: datetime


class FolderUnsharedOut(EventOut):
    type: Literal["FolderUnshared"]
    folder_id: str
    user_id: str
    revoked_by: str


class DocumentShareExpiredOut(EventOut):
    type: Literal["DocumentShareExpired"]
    document_id: str
    user_id: str
    role: Literal["viewer", "editor", "owner"]
    expired_at: datetime = Field(description="the grant's expires_at")


class FolderShareExpiredOut(EventOut):
    type: Literal["FolderShareExpired"]
    folder_id: str
    user_id: str
    role: Literal["viewer", "editor", "owner"]
    expired_at: datetime = Field(description="the grant's expires_at")


REPLY_DATA: dict[str, type[Outbound]] = {
    "folder.create": FolderOut,
    "document.upload": DocumentOut,
    "document.share": ShareOut,
    "document.unshare": ShareOut,
    "document.get": DocumentWithVersionsOut,
    "folder.list": FolderListingOut,
    "org.member.set": MembershipOut,
    "org.member.remove": MembershipOut,
    "document.rename": DocumentOut,
    "document.move": DocumentOut,
    "document.revert": DocumentOut,
    "document.trash": DocumentOut,
    "document.restore": DocumentOut,
    "document.purge": PurgedOut,
    "folder.rename": FolderOut,
    "folder.move": FolderOut,
    "folder.trash": FolderOut,
    "folder.restore": FolderOut,
    "folder.purge": PurgedOut,
    "folder.children": FolderChildrenOut,
    "trash.list": TrashListingOut,
    "folder.share": FolderShareOut,
    "folder.unshare": FolderShareOut,
    "document.shares": ShareListOut,
    "access.explain": ExplanationOut,
    "shared.with_me": SharedWithMeOut,
    "document.search": SearchResultsOut,
}
EVENTS: dict[str, type[EventOut]] = {
    "folder.created": FolderCreatedOut,
    "document.uploaded": DocumentUploadedOut,
    "document.shared.{role}": DocumentSharedOut,
    "document.unshared": DocumentUnsharedOut,
    "org.member.changed": MembershipChangedOut,
    "document.renamed": DocumentRenamedOut,
    "document.moved": DocumentMovedOut,
    "document.trashed": DocumentTrashedOut,
    "document.restored": DocumentRestoredOut,
    "document.purged": DocumentPurgedOut,
    "folder.renamed": FolderRenamedOut,
    "folder.moved": FolderMovedOut,
    "folder.trashed": FolderTrashedOut,
    "folder.restored": FolderRestoredOut,
    "folder.purged": FolderPurgedOut,
    "folder.shared.{role}": FolderSharedOut,
    "folder.unshared": FolderUnsharedOut,
    "document.share.expired": DocumentShareExpiredOut,
    "folder.share.expired": FolderShareExpiredOut,
}
