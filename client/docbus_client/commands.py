"""One typed method per row of the contract's command table.

Each builds the contract's body, sends it as a request and returns the reply's data
as a typed model, or raises the envelope's typed error. All accept ``message_id`` (the
idempotency key: pass the same one when retrying) and ``timeout`` (seconds; the
client's default when None).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from docbus_client.errors import DocbusProtocolError
from docbus_client.models import Document, Folder, FolderListing, Membership, Share
from docbus_client.reply import Reply
from docbus_client.topology import OrgRole, RoutingKey, ShareRole

Model = TypeVar("Model")


class DocbusCommands(ABC):
    """The contract's commands and queries, on top of :meth:`request`."""

    @abstractmethod
    async def request(
        self,
        routing_key: str,
        body: Mapping[str, Any],
        *,
        message_id: str | None = None,
        timeout: float | None = None,
    ) -> Reply:
        """Send one command and wait for its reply."""

    async def create_folder(
        self,
        folder_id: str,
        org_id: str,
        name: str,
        actor_id: str,
        parent_id: str | None = None,
        *,
        message_id: str | None = None,
        timeout: float | None = None,
    ) -> Folder:
        """Create a folder (a root folder when ``parent_id`` is None)."""
        body = {
            "folder_id": folder_id,
            "org_id": org_id,
            "parent_id": parent_id,
            "name": name,
            "actor_id": actor_id,
        }
        data = await self._data(RoutingKey.CREATE_FOLDER, body, message_id, timeout)
        return _parse(Folder.from_dict, data)

    async def upload_document(  # noqa: PLR0917 -- the contract's field order, kept positional
        self,
        doc_id: str,
        org_id: str,
        folder_id: str,
        owner_id: str,
        name: str,
        mime_type: str,
        blob_uri: str,
        tags: Iterable[str] = (),
        size_bytes: int | None = None,
        sha256: str | None = None,
        *,
        message_id: str | None = None,
        timeout: float | None = None,
    ) -> Document:
        """Store a document's first or next version; ``owner_id`` is the uploader."""
        body: dict[str, Any] = {
            "doc_id": doc_id,
            "org_id": org_id,
            "folder_id": folder_id,
            "owner_id": owner_id,
            "name": name,
            "mime_type": mime_type,
            "blob_uri": blob_uri,
            "tags": list(tags),
        }
        body.update(_present(size_bytes=size_bytes, sha256=sha256))
        data = await self._data(RoutingKey.UPLOAD_DOCUMENT, body, message_id, timeout)
        return _parse(Document.from_dict, data)

    async def share_document(
        self,
        doc_id: str,
        shared_by: str,
        shared_with: str,
        role: ShareRole,
        *,
        expires_at: datetime | None = None,
        message_id: str | None = None,
        timeout: float | None = None,
    ) -> Share:
        """Give ``shared_with`` a role on the document (replacing any previous one), until
        ``expires_at`` if given (contract v2: timezone-aware, later than now)."""
        body: dict[str, Any] = {
            "doc_id": doc_id, "shared_by": shared_by, "shared_with": shared_with, "role": role,
        }
        body.update(_present(expires_at=instant(expires_at)))
        data = await self._data(RoutingKey.SHARE_DOCUMENT, body, message_id, timeout)
        return _parse(Share.from_dict, data)

    async def revoke_share(
        self,
        doc_id: str,
        revoked_by: str,
        user_id: str,
        *,
        message_id: str | None = None,
        timeout: float | None = None,
    ) -> Share:
        """Remove ``user_id``'s role on the document; the reply's role is None."""
        body = {"doc_id": doc_id, "revoked_by": revoked_by, "user_id": user_id}
        data = await self._data(RoutingKey.REVOKE_SHARE, body, message_id, timeout)
        return _parse(Share.from_dict, data)

    async def get_document(
        self,
        doc_id: str,
        user_id: str,
        *,
        message_id: str | None = None,
        timeout: float | None = None,
    ) -> Document:
        """Read a document with its ``versions``, oldest first, as ``user_id``."""
        body = {"doc_id": doc_id, "user_id": user_id}
        data = await self._data(RoutingKey.GET_DOCUMENT, body, message_id, timeout)
        return _parse(Document.from_dict, data)

    async def list_folder(
        self,
        folder_id: str,
        user_id: str,
        limit: int | None = None,
        cursor: str | None = None,
        *,
        message_id: str | None = None,
        timeout: float | None = None,
    ) -> FolderListing:
        """One page of the documents ``user_id`` may read in the folder, newest first."""
        body = {"folder_id": folder_id, "user_id": user_id}
        body.update(_present(limit=limit, cursor=cursor))
        data = await self._data(RoutingKey.LIST_FOLDER, body, message_id, timeout)
        return _parse(FolderListing.from_dict, data)

    async def iter_folder(
        self,
        folder_id: str,
        user_id: str,
        limit: int | None = None,
        *,
        timeout: float | None = None,
    ) -> AsyncIterator[Document]:
        """Every readable document of the folder, following ``next_cursor`` page by page
        (``limit`` is the page size)."""
        cursor: str | None = None
        while True:
            page = await self.list_folder(folder_id, user_id, limit, cursor, timeout=timeout)
            for document in page.documents:
                yield document
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def set_membership(
        self,
        org_id: str,
        user_id: str,
        role: OrgRole,
        *,
        message_id: str | None = None,
        timeout: float | None = None,
    ) -> Membership:
        """Make ``user_id`` a member or admin of the org."""
        body = {"org_id": org_id, "user_id": user_id, "role": role}
        data = await self._data(RoutingKey.SET_MEMBERSHIP, body, message_id, timeout)
        return _parse(Membership.from_dict, data)

    async def remove_membership(
        self,
        org_id: str,
        user_id: str,
        *,
        message_id: str | None = None,
        timeout: float | None = None,
    ) -> Membership:
        """Remove ``user_id`` from the org; the reply's role is None."""
        body = {"org_id": org_id, "user_id": user_id}
        data = await self._data(RoutingKey.REMOVE_MEMBERSHIP, body, message_id, timeout)
        return _parse(Membership.from_dict, data)

    async def _data(
        self,
        routing_key: RoutingKey,
        body: Mapping[str, Any],
        message_id: str | None,
        timeout: float | None,
    ) -> dict[str, Any]:
        reply = await self.request(routing_key, body, message_id=message_id, timeout=timeout)
        return reply.unwrap()


def instant(at: datetime | None) -> str | None:
    """A timezone-aware datetime as the contract's RFC 3339 UTC text."""
    if at is None:
        return None
    if at.tzinfo is None:
        raise ValueError("expires_at must be timezone-aware")
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _present(**fields: Any) -> dict[str, Any]:
    """The optional fields that were given: absent rather than null in the body."""
    return {key: value for key, value in fields.items() if value is not None}


def _parse(parser: Callable[[dict[str, Any]], Model], data: dict[str, Any]) -> Model:
    try:
        return parser(data)
    except (KeyError, TypeError, ValueError) as exc:
        message = f"reply data does not fit the contract: {exc!r}"
        raise DocbusProtocolError("bad_reply", message, [data]) from None
