"""Message bodies of contract versions 1 and 2 as pydantic models.

Inbound models validate strictly (unknown fields, wrong types and bad identifiers are
``invalid``) and turn into the use cases' commands. Every string field refuses what
PostgreSQL cannot store as text: NUL (by its pattern) and lone surrogates (the pipeline
validates the parsed body in Python mode, where pydantic refuses them as ``string_unicode``
in the field where they are). ``load_json`` parses a body strictly (UTF-8, no duplicate
keys, no NaN). Outbound models describe replies and events for the AsyncAPI document;
tests check that what the core produces fits them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

import jiter
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    StringConstraints,
    WithJsonSchema,
)

from docbus.core.entities import Content
from docbus.core.search import SearchFilter, media_type
from docbus.core.values import OrgRole, Role
from docbus.handlers.create_folder import CreateFolder
from docbus.handlers.explain_access import ExplainAccess, ListDocumentShares
from docbus.handlers.folder_children import ListChildren
from docbus.handlers.get_document import GetDocument
from docbus.handlers.list_folder import DEFAULT_LIMIT, ListFolder
from docbus.handlers.move_document import MoveDocument
from docbus.handlers.move_folder import MoveFolder
from docbus.handlers.purge import PurgeDocument, PurgeFolder
from docbus.handlers.rename_document import RenameDocument
from docbus.handlers.rename_folder import RenameFolder
from docbus.handlers.restore_document import RestoreDocument
from docbus.handlers.restore_folder import RestoreFolder
from docbus.handlers.revert_document import RevertDocument
from docbus.handlers.revoke_share import RevokeShare
from docbus.handlers.search_documents import DEFAULT_LIMIT as SEARCH_DEFAULT_LIMIT
from docbus.handlers.search_documents import SearchDocuments
from docbus.handlers.set_membership import RemoveMembership, SetMembership
from docbus.handlers.share_document import ShareDocument
from docbus.handlers.share_folder import ShareFolder, UnshareFolder
from docbus.handlers.shared_with_me import DEFAULT_LIMIT as SHARED_DEFAULT_LIMIT
from docbus.handlers.shared_with_me import SharedWithMe
from docbus.handlers.trash_document import TrashDocument
from docbus.handlers.trash_folder import TrashFolder
from docbus.handlers.trash_list import ListTrash
from docbus.handlers.upload_document import UploadDocument


class NotStrictJson(ValueError):
    """A body that is not strict JSON; ``field`` names the key at fault, if one is."""

    def __init__(self, error: str, field: str = "(body)") -> None:
        super().__init__(error)
        self.error = error
        self.field = field


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):  # "last wins" would let two readers see two bodies
        keys = [key for key, _ in pairs]
        raise NotStrictJson("duplicate key", next(k for k in keys if keys.count(k) > 1))
    return obj


def _no_constant(name: str) -> Any:
    raise NotStrictJson(f"{name} is not JSON")


_STRICT_JSON = json.JSONDecoder(object_pairs_hook=_unique_keys, parse_constant=_no_constant)


def load_json(body: bytes) -> Any:
    """The body parsed; NotStrictJson unless it is UTF-8 JSON without duplicate keys (at
    any depth) and without NaN or Infinity. Lone surrogates (``"\\ud800"``) parse: the
    schema refuses them in their field.

    Every body is parsed once, by jiter (Rust; it refuses duplicate keys, NaN and bad
    UTF-8 itself): a third of the instructions of the careful parse below, which runs
    only for a body jiter refuses, to say why (the key at fault) or to let a lone
    surrogate through to the schema (jiter refuses those; deep nesting too). What jiter
    accepts, the careful parse accepts as the same value (tests/consumers/test_strict_json.py).
    """
    try:
        return jiter.from_json(
            body, catch_duplicate_keys=True, allow_inf_nan=False, cache_mode="keys"
        )
    except ValueError:
        return _careful(body)


def _careful(body: bytes) -> Any:
    try:
        return _STRICT_JSON.decode(body.decode("utf-8"))
    except NotStrictJson:
        raise
    except (ValueError, RecursionError) as error:  # bad UTF-8, bad JSON, nested too deep
        raise NotStrictJson(f"not UTF-8 JSON: {error}") from None


def storable(text: str | None) -> bool:
    """Whether PostgreSQL can store this text: no NUL, no lone surrogate."""
    if text is None:
        return True
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


NO_NUL = r"^[^\x00]+$"
"""Any text PostgreSQL can store (a lone surrogate fails before any pattern)."""

Identifier = Annotated[
    str,
    StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@-]+$"),
    Field(description="1-128 characters from [A-Za-z0-9._:@-], chosen upstream"),
]
Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\x7f]+$"),
]


def _not_dots(name: str) -> str:
    if name in {".", ".."}:
        raise ValueError("'.' and '..' are not folder names")
    return name


FolderName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=255, pattern=r"^[^/\x00-\x1f\x7f]+$"),
    AfterValidator(_not_dots),
    Field(description="1-255 characters, no '/' or control characters, not '.' or '..'"),
]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=NO_NUL)]


class Inbound(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _instant(value: object) -> datetime:
    """An RFC 3339 timestamp with its offset, as a UTC datetime (strings only: no numbers)."""
    if not isinstance(value, str) or len(value) > 40:
        raise ValueError("an RFC 3339 timestamp with an offset, e.g. 2026-12-04T17:00:00Z")
    try:
        at = datetime.fromisoformat(value)
        if at.tzinfo is None:
            raise ValueError("a timestamp needs its offset (Z or +hh:mm)")
        return at.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("timestamp out of range") from exc


def _instant_text(at: datetime) -> str:
    """The canonical text of an Instant (always UTC), as pydantic writes a UTC datetime:
    ``Z``, microseconds only when there are any. Idempotency fingerprints hash it: it must
    never change (tests/unit/test_schemas_canonical.py)."""
    return at.isoformat().replace("+00:00", "Z")


Instant = Annotated[
    datetime, PlainValidator(_instant), PlainSerializer(_instant_text, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
ExpiresAt = Annotated[
    Instant | None,
    Field(description="when the grant stops counting; later than now; null or absent: never"),
]


Limit = Annotated[int, Field(ge=1, le=500, description="1-500")]
CursorText = Annotated[str, StringConstraints(min_length=1, max_length=512, pattern=NO_NUL)]


class CreateFolderIn(Inbound):
    """Create a folder (routing key ``folder.create``)."""

    folder_id: Identifier
    org_id: Identifier
    parent_id: Identifier | None = Field(description="null for a root folder")
    name: FolderName
    actor_id: Identifier = Field(description="the member creating the folder")

    def to_command(self) -> CreateFolder:
        return CreateFolder(self.folder_id, self.org_id, self.parent_id, self.name, self.actor_id)


class UploadDocumentIn(Inbound):
    """Upload a document: a new doc_id stores version 1, a known one the next version."""

    doc_id: Identifier
    org_id: Identifier
    folder_id: Identifier
    owner_id: Identifier = Field(description="the uploading user")
    name: Name
    mime_type: Annotated[
        str, StringConstraints(max_length=255, pattern=r"^[\w.+-]+/[\w.+-]+(\s*;[^\x00]*)?$")
    ] = Field(description="type/subtype, e.g. application/pdf")
    blob_uri: Annotated[
        str, StringConstraints(max_length=2048, pattern=r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s\x00]+$")
    ] = Field(description="where the bytes live (an absolute URI); docbus stores no bytes")
    tags: Annotated[list[Tag], Field(max_length=100, description="may be empty")]
    size_bytes: Annotated[int, Field(ge=0, le=2**63 - 1)] | None = Field(
        None, description="optional size of the blob"
    )
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$")] | None = Field(
        None, description="optional SHA-256 of the blob, 64 hex digits"
    )

    def to_command(self) -> UploadDocument:
        content = Content(
            self.name,
            self.mime_type,
            self.blob_uri,
            tuple(self.tags),
            self.size_bytes,
            self.sha256.lower() if self.sha256 else None,
        )
        return UploadDocument(self.doc_id, self.org_id, self.folder_id, self.owner_id, content)


class ShareDocumentIn(Inbound):
    """Give a user a role on a document (replaces the role they had)."""

    doc_id: Identifier
    shared_by: Identifier = Field(description="needs the share capability")
    shared_with: Identifier = Field(description="must be a member of the document's org")
    role: Literal["viewer", "editor", "owner"]
    expires_at: ExpiresAt = None

    def to_command(self) -> ShareDocument:
        return ShareDocument(
            self.doc_id, self.shared_by, self.shared_with, Role(self.role), self.expires_at
        )


class RevokeShareIn(Inbound):
    """Take a user's role on a document away."""

    doc_id: Identifier
    revoked_by: Identifier = Field(description="needs the share capability")
    user_id: Identifier

    def to_command(self) -> RevokeShare:
        return RevokeShare(self.doc_id, self.revoked_by, self.user_id)


class GetDocumentIn(Inbound):
    """Read a document with all its versions (query: needs reply_to)."""

    doc_id: Identifier
    user_id: Identifier = Field(description="the reader; needs read")

    def to_command(self) -> GetDocument:
        return GetDocument(self.doc_id, self.user_id)


class ListFolderIn(Inbound):
    """List the documents of a folder the reader may read (query: needs reply_to)."""

    folder_id: Identifier
    user_id: Identifier = Field(description="the reader")
    limit: Annotated[int, Field(ge=1, le=500)] = Field(DEFAULT_LIMIT, description="1-500")
    cursor: CursorText | None = Field(None, description="opaque next_cursor of a previous reply")

    def to_command(self) -> ListFolder:
        return ListFolder(self.folder_id, self.user_id, self.limit, self.cursor)


class SetMembershipIn(Inbound):
    """Make a user a member or admin of an org (from the identity service)."""

    org_id: Identifier
    user_id: Identifier
    role: Literal["member", "admin"]

    def to_command(self) -> SetMembership:
        return SetMembership(self.org_id, self.user_id, OrgRole(self.role))


class RemoveMembershipIn(Inbound):
    """Remove a user from an org (from the identity service)."""

    org_id: Identifier
    user_id: Identifier

    def to_command(self) -> RemoveMembership:
        return RemoveMembership(self.org_id, self.user_id)


# Contract v2: lives of documents and folders.



class RenameDocumentIn(Inbound):
    """Rename a document (its versions keep their names); needs write."""

    doc_id: Identifier
    user_id: Identifier = Field(description="needs write")
    name: Name

    def to_command(self) -> RenameDocument:
        return RenameDocument(self.doc_id, self.user_id, self.name)


class MoveDocumentIn(Inbound):
    """Move a document into another live folder of its org; needs write."""

    doc_id: Identifier
    user_id: Identifier = Field(description="needs write")
    folder_id: Identifier = Field(description="the target folder")

    def to_command(self) -> MoveDocument:
        return MoveDocument(self.doc_id, self.user_id, self.folder_id)


class RevertDocumentIn(Inbound):
    """Store a new version with the content of an earlier one; needs write."""

    doc_id: Identifier
    user_id: Identifier = Field(description="needs write")
    version: Annotated[int, Field(ge=1, le=2**31 - 1)] = Field(description="the version to repeat")

    def to_command(self) -> RevertDocument:
        return RevertDocument(self.doc_id, self.user_id, self.version)


class DocumentActionIn(Inbound):
    """A document and the acting user (trash, restore, purge: need share)."""

    doc_id: Identifier
    user_id: Identifier = Field(description="needs share")


class TrashDocumentIn(DocumentActionIn):
    """Move a document to the trash; needs share."""

    def to_command(self) -> TrashDocument:
        return TrashDocument(self.doc_id, self.user_id)


class RestoreDocumentIn(DocumentActionIn):
    """Bring a document back from the trash; needs share."""

    def to_command(self) -> RestoreDocument:
        return RestoreDocument(self.doc_id, self.user_id)


class PurgeDocumentIn(DocumentActionIn):
    """Delete a trashed document for good (every version, every share); needs share."""

    def to_command(self) -> PurgeDocument:
        return PurgeDocument(self.doc_id, self.user_id)


class RenameFolderIn(Inbound):
    """Rename a folder (unique among live siblings); needs write on the folder."""

    folder_id: Identifier
    user_id: Identifier = Field(description="needs write on the folder")
    name: FolderName

    def to_command(self) -> RenameFolder:
        return RenameFolder(self.folder_id, self.user_id, self.name)


class MoveFolderIn(Inbound):
    """Move a folder with its subtree; needs write on the folder."""

    folder_id: Identifier
    user_id: Identifier = Field(description="needs write on the folder")
    parent_id: Identifier | None = Field(description="the new parent; null: a root")

    def to_command(self) -> MoveFolder:
        return MoveFolder(self.folder_id, self.user_id, self.parent_id)


class ShareFolderIn(Inbound):
    """Give a user a role on a folder, its subtree and their documents (contract v2)."""

    folder_id: Identifier
    shared_by: Identifier = Field(description="needs share on the folder")
    shared_with: Identifier = Field(description="must be a member of the folder's org")
    role: Literal["viewer", "editor", "owner"]
    expires_at: ExpiresAt = None

    def to_command(self) -> ShareFolder:
        return ShareFolder(
            self.folder_id, self.shared_by, self.shared_with, Role(self.role), self.expires_at
        )


class UnshareFolderIn(Inbound):
    """Take a user's share on a folder away (contract v2)."""

    folder_id: Identifier
    revoked_by: Identifier = Field(description="needs share on the folder")
    user_id: Identifier

    def to_command(self) -> UnshareFolder:
        return UnshareFolder(self.folder_id, self.revoked_by, self.user_id)


class DocumentSharesIn(Inbound):
    """Who may read the document, and why (contract v2); needs share on it."""

    doc_id: Identifier
    user_id: Identifier = Field(description="the asker; needs share")

    def to_command(self) -> ListDocumentShares:
        return ListDocumentShares(self.doc_id, self.user_id)


class ExplainAccessIn(Inbound):
    """What a user may do with the document, and why (contract v2)."""

    doc_id: Identifier
    user_id: Identifier = Field(description="the asker; needs read (share to ask about another)")
    about: Identifier | None = Field(None, description="the user asked about; default user_id")

    def to_command(self) -> ExplainAccess:
        return ExplainAccess(self.doc_id, self.user_id, self.about)


class SharedWithMeIn(Inbound):
    """Grants made to the reader by someone else, newest first (contract v2)."""

    org_id: Identifier
    user_id: Identifier = Field(description="the reader; must be a member")
    limit: Limit = SHARED_DEFAULT_LIMIT
    cursor: CursorText | None = None

    def to_command(self) -> SharedWithMe:
        return SharedWithMe(self.org_id, self.user_id, self.limit, self.cursor)


MimeFilter = Annotated[
    str,
    StringConstraints(max_length=255, pattern=r"^[A-Za-z0-9.+_-]+/([A-Za-z0-9.+_-]+|\*)$"),
    Field(description="type/subtype (exact), or type/* (any subtype); case-insensitive,"
          " parameters of the stored type ignored"),
]


class SearchDocumentsIn(Inbound):
    """Documents the reader may read that match every filter given, best match first
    (contract v2)."""

    org_id: Identifier
    user_id: Identifier = Field(description="the reader; must be a member")
    text: Annotated[
        str, StringConstraints(min_length=1, max_length=255, pattern=NO_NUL)
    ] | None = Field(
        None, description="every word must match a word of the name or the tags (case- and"
        " accent-insensitive); the last word may be a prefix"
    )
    folder_id: Identifier | None = Field(
        None, description="that folder and its subtree (a live folder of the org)"
    )
    mime_type: MimeFilter | None = None
    tags: Annotated[list[Tag], Field(max_length=100)] = Field(
        [], description="the document has every one of them (exact)"
    )
    limit: Limit = SEARCH_DEFAULT_LIMIT
    cursor: CursorText | None = Field(None, description="opaque next_cursor of a previous reply")

    def to_command(self) -> SearchDocuments:
        mime = media_type(self.mime_type) if self.mime_type is not None else None
        search = SearchFilter(self.text, self.folder_id, mime, tuple(self.tags))
        return SearchDocuments(self.org_id, self.user_id, search, self.limit, self.cursor)


class FolderActionIn(Inbound):
    """A folder and the acting user (trash, restore, purge: need share on the folder)."""

    folder_id: Identifier
    user_id: Identifier = Field(description="needs share on the folder")


class TrashFolderIn(FolderActionIn):
    """Move a folder with its subtree to the trash; needs share on the folder."""

    def to_command(self) -> TrashFolder:
        return TrashFolder(self.folder_id, self.user_id)


class RestoreFolderIn(FolderActionIn):
    """Bring a folder back from the trash, its subtree as it was trashed."""

    def to_command(self) -> RestoreFolder:
        return RestoreFolder(self.folder_id, self.user_id)


class PurgeFolderIn(FolderActionIn):
    """Delete a trashed folder, its subtree and their documents for good."""

    def to_command(self) -> PurgeFolder:
        return PurgeFolder(self.folder_id, self.user_id)


class FolderChildrenIn(Inbound):
    """List the live folders directly below a folder, or the org's roots (query)."""

    org_id: Identifier
    folder_id: Identifier | None = Field(description="null: the org's root folders")
    user_id: Identifier = Field(description="the reader; must be a member")
    limit: Limit = DEFAULT_LIMIT
    cursor: CursorText | None = Field(None, description="opaque next_cursor of a previous reply")

    def to_command(self) -> ListChildren:
        return ListChildren(self.org_id, self.folder_id, self.user_id, self.limit, self.cursor)


class TrashListIn(Inbound):
    """List what is in the org's trash that the reader could restore (query)."""

    org_id: Identifier
    user_id: Identifier = Field(description="the reader; must be a member")
    limit: Limit = DEFAULT_LIMIT
    cursor: CursorText | None = Field(None, description="opaque next_cursor of a previous reply")

    def to_command(self) -> ListTrash:
        return ListTrash(self.org_id, self.user_id, self.limit, self.cursor)


# Outbound shapes (documentation and drift tests).


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


class AuditEventIn(BaseModel):
    """What the audit consumer needs of any event on doc.events (other fields are kept
    in the log as they came, and not validated here)."""

    # "ignore", not "allow": the rest of the event is logged from the raw body, and
    # pydantic would otherwise build Python objects for all of it, for nothing.
    model_config = ConfigDict(extra="ignore")

    event_id: Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=NO_NUL)]
    type: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=NO_NUL)]
    org_id: Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=NO_NUL)]
    occurred_at: datetime


INBOUND: dict[str, type[Inbound]] = {
    "folder.create": CreateFolderIn,
    "document.upload": UploadDocumentIn,
    "document.share": ShareDocumentIn,
    "document.unshare": RevokeShareIn,
    "document.get": GetDocumentIn,
    "folder.list": ListFolderIn,
    "org.member.set": SetMembershipIn,
    "org.member.remove": RemoveMembershipIn,
    "document.rename": RenameDocumentIn,
    "document.move": MoveDocumentIn,
    "document.revert": RevertDocumentIn,
    "document.trash": TrashDocumentIn,
    "document.restore": RestoreDocumentIn,
    "document.purge": PurgeDocumentIn,
    "folder.rename": RenameFolderIn,
    "folder.move": MoveFolderIn,
    "folder.trash": TrashFolderIn,
    "folder.restore": RestoreFolderIn,
    "folder.purge": PurgeFolderIn,
    "folder.children": FolderChildrenIn,
    "trash.list": TrashListIn,
    "folder.share": ShareFolderIn,
    "folder.unshare": UnshareFolderIn,
    "document.shares": DocumentSharesIn,
    "access.explain": ExplainAccessIn,
    "shared.with_me": SharedWithMeIn,
    "document.search": SearchDocumentsIn,
}
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
