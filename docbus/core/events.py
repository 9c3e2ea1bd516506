"""Domain events: what happened, named in the past tense.

Each event knows its routing key on ``doc.events`` and its body as the contract shapes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from docbus.core.entities import Document, Folder
from docbus.core.values import OrgRole, Role
from docbus.core.views import document_view, folder_view, timestamp


@dataclass(frozen=True, slots=True, kw_only=True)
class DomainEvent:
    type: ClassVar[str]
    event_id: str
    org_id: str
    occurred_at: datetime

    @property
    def routing_key(self) -> str:
        raise NotImplementedError

    def fields(self) -> dict[str, Any]:
        raise NotImplementedError

    def body(self) -> dict[str, Any]:
        """The event as published: common envelope fields plus the event's own."""
        return {
            "event_id": self.event_id,
            "type": self.type,
            "org_id": self.org_id,
            "occurred_at": timestamp(self.occurred_at),
            **self.fields(),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class FolderCreated(DomainEvent):
    type: ClassVar[str] = "FolderCreated"
    folder: Folder

    @property
    def routing_key(self) -> str:
        return "folder.created"

    def fields(self) -> dict[str, Any]:
        return {"folder": folder_view(self.folder)}


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentUploaded(DomainEvent):
    type: ClassVar[str] = "DocumentUploaded"
    document: Document
    uploaded_by: str
    reverted_from: int | None = None
    """Set by a revert (contract v2): the version whose content this one repeats."""

    @property
    def routing_key(self) -> str:
        return "document.uploaded"

    def fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "document": document_view(self.document), "uploaded_by": self.uploaded_by
        }
        if self.reverted_from is not None:
            fields["reverted_from"] = self.reverted_from
        return fields


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentShared(DomainEvent):
    type: ClassVar[str] = "DocumentShared"
    document_id: str
    shared_with: str
    shared_by: str
    role: Role
    expires_at: datetime | None = None
    """Contract v2: when the share stops counting (null: never)."""

    @property
    def routing_key(self) -> str:
        return f"document.shared.{self.role.value}"

    def fields(self) -> dict[str, Any]:
        return {
            "document_id": self.document_id,
            "shared_with": self.shared_with,
            "shared_by": self.shared_by,
            "role": self.role.value,
            "expires_at": timestamp(self.expires_at) if self.expires_at else None,
            "at": timestamp(self.occurred_at),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentUnshared(DomainEvent):
    type: ClassVar[str] = "DocumentUnshared"
    document_id: str
    user_id: str
    revoked_by: str

    @property
    def routing_key(self) -> str:
        return "document.unshared"

    def fields(self) -> dict[str, Any]:
        return {
            "document_id": self.document_id,
            "user_id": self.user_id,
            "revoked_by": self.revoked_by,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class MembershipChanged(DomainEvent):
    type: ClassVar[str] = "MembershipChanged"
    user_id: str
    role: OrgRole | None

    @property
    def routing_key(self) -> str:
        return "org.member.changed"

    def fields(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "role": self.role.value if self.role else None}
