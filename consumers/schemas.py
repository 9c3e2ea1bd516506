"""Message bodies of contract version 1 as pydantic models.

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
from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from core.entities import Content
from core.values import OrgRole, Role
from handlers.create_folder import CreateFolder
from handlers.get_document import GetDocument
from handlers.list_folder import DEFAULT_LIMIT, ListFolder
from handlers.revoke_share import RevokeShare
from handlers.set_membership import RemoveMembership, SetMembership
from handlers.share_document import ShareDocument
from handlers.upload_document import UploadDocument


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
    schema refuses them in their field."""
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

    def to_command(self) -> ShareDocument:
        return ShareDocument(self.doc_id, self.shared_by, self.shared_with, Role(self.role))


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
    cursor: Annotated[
        str, StringConstraints(min_length=1, max_length=512, pattern=NO_NUL)
    ] | None = Field(
        None, description="opaque next_cursor of a previous reply"
    )

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


# Outbound shapes (documentation and drift tests).


class Outbound(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FolderOut(Outbound):
    folder_id: str
    org_id: str
    parent_id: str | None
    name: str
    path: str = Field(description="'/' + names from the root, e.g. /finance/2026")


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


class MembershipOut(Outbound):
    org_id: str
    user_id: str
    role: Literal["member", "admin"] | None = Field(description="null after a remove")


class FolderListingOut(Outbound):
    folder_id: str
    documents: list[DocumentOut] = Field(description="newest updated_at first")
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


class DocumentSharedOut(EventOut):
    type: Literal["DocumentShared"]
    document_id: str
    shared_with: str
    shared_by: str
    role: Literal["viewer", "editor", "owner"]
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
}
EVENTS: dict[str, type[EventOut]] = {
    "folder.created": FolderCreatedOut,
    "document.uploaded": DocumentUploadedOut,
    "document.shared.{role}": DocumentSharedOut,
    "document.unshared": DocumentUnsharedOut,
    "org.member.changed": MembershipChangedOut,
}
