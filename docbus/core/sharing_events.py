"""Events of sharing (contract v2 section 4): folder shares and expiries. Bodies carry
exactly the contract's fields."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from docbus.core.events import DomainEvent
from docbus.core.values import Role
from docbus.core.views import timestamp


def _at(at: datetime | None) -> str | None:
    return timestamp(at) if at is not None else None


@dataclass(frozen=True, slots=True, kw_only=True)
class FolderShared(DomainEvent):
    type: ClassVar[str] = "FolderShared"
    folder_id: str
    shared_with: str
    shared_by: str
    role: Role
    expires_at: datetime | None

    @property
    def routing_key(self) -> str:
        return f"folder.shared.{self.role.value}"

    def fields(self) -> dict[str, Any]:
        return {
            "folder_id": self.folder_id, "shared_with": self.shared_with,
            "shared_by": self.shared_by, "role": self.role.value,
            "expires_at": _at(self.expires_at), "at": timestamp(self.occurred_at),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class FolderUnshared(DomainEvent):
    type: ClassVar[str] = "FolderUnshared"
    folder_id: str
    user_id: str
    revoked_by: str

    @property
    def routing_key(self) -> str:
        return "folder.unshared"

    def fields(self) -> dict[str, Any]:
        return {"folder_id": self.folder_id, "user_id": self.user_id,
                "revoked_by": self.revoked_by}


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentShareExpired(DomainEvent):
    type: ClassVar[str] = "DocumentShareExpired"
    document_id: str
    user_id: str
    role: Role
    expired_at: datetime
    """The grant's expires_at."""

    @property
    def routing_key(self) -> str:
        return "document.share.expired"

    def fields(self) -> dict[str, Any]:
        return {"document_id": self.document_id, "user_id": self.user_id,
                "role": self.role.value, "expired_at": timestamp(self.expired_at)}


@dataclass(frozen=True, slots=True, kw_only=True)
class FolderShareExpired(DomainEvent):
    type: ClassVar[str] = "FolderShareExpired"
    folder_id: str
    user_id: str
    role: Role
    expired_at: datetime
    """The grant's expires_at."""

    @property
    def routing_key(self) -> str:
        return "folder.share.expired"

    def fields(self) -> dict[str, Any]:
        return {"folder_id": self.folder_id, "user_id": self.user_id,
                "role": self.role.value, "expired_at": timestamp(self.expired_at)}
