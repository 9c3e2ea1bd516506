"""Domain errors. Each carries the contract's error code; the message is for people."""

from __future__ import annotations

from typing import ClassVar


class DomainError(Exception):
    """A final decision: the same command against the same state fails the same way."""

    code: ClassVar[str] = "invalid"

    def __init__(self, message: str, details: list[dict[str, object]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class InvalidCommand(DomainError):
    code = "invalid"


class NotFound(DomainError):
    code = "not_found"


class Forbidden(DomainError):
    code = "forbidden"


class Conflict(DomainError):
    code = "conflict"


class FolderNotFound(NotFound):
    def __init__(self, folder_id: str) -> None:
        super().__init__(f"folder {folder_id} not found")


class DocumentNotFound(NotFound):
    def __init__(self, doc_id: str) -> None:
        super().__init__(f"document {doc_id} not found")


class NotAMember(Forbidden):
    def __init__(self, user_id: str, org_id: str) -> None:
        super().__init__(f"user {user_id} is not a member of org {org_id}")


class CapabilityMissing(Forbidden):
    def __init__(self, user_id: str, action: str, doc_id: str) -> None:
        super().__init__(f"user {user_id} may not {action} document {doc_id}")


class FolderNameTaken(Conflict):
    def __init__(self, name: str) -> None:
        super().__init__(f"a folder named {name!r} already exists here")


class FolderIdTaken(Conflict):
    def __init__(self, folder_id: str) -> None:
        super().__init__(f"folder {folder_id} already exists")


class DocumentMoved(Conflict):
    def __init__(self, doc_id: str) -> None:
        super().__init__(
            f"document {doc_id} lives in another folder or org; a new version must keep both"
        )


class LastOwner(Conflict):
    def __init__(self, doc_id: str) -> None:
        super().__init__(f"document {doc_id} must keep at least one owner")


class FolderCapabilityMissing(Forbidden):
    def __init__(self, user_id: str, action: str, folder_id: str) -> None:
        super().__init__(f"user {user_id} may not {action} folder {folder_id}")


class VersionNotFound(NotFound):
    def __init__(self, doc_id: str, version: int) -> None:
        super().__init__(f"document {doc_id} has no version {version}")


class DocumentInTrash(Conflict):
    def __init__(self, doc_id: str) -> None:
        super().__init__(f"document {doc_id} is in the trash; restore it first")


class ParentInTrash(Conflict):
    def __init__(self, kind: str, item_id: str) -> None:
        super().__init__(
            f"{kind} {item_id} lies in a folder that is in the trash; restore that first"
        )


class NotInTrash(Conflict):
    def __init__(self, kind: str, item_id: str) -> None:
        super().__init__(f"{kind} {item_id} is not in the trash; only trashed items can be purged")


class FolderCycle(Conflict):
    def __init__(self, folder_id: str) -> None:
        super().__init__(f"folder {folder_id} cannot move into itself or below itself")


class Unavailable(Exception):
    """A dependency (database, cache, broker) failed in a way that may pass: retry."""
