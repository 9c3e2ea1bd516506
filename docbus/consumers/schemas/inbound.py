"""The inbound messages of contract versions 1 and 2, one pydantic model each.

They validate strictly (unknown fields, wrong types and bad identifiers are ``invalid``)
and turn into the use cases' commands (``to_command``). ``INBOUND`` maps each routing key
to its model; ``AuditEventIn`` is what the audit consumer needs of any event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)

from docbus.consumers.schemas.fields import (
    NO_NUL,
    CursorText,
    ExpiresAt,
    FolderName,
    Identifier,
    Inbound,
    Limit,
    Name,
    Tag,
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
