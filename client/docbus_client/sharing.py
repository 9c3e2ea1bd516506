"""Typed methods for contract version 2's sharing: folder shares (inherited by the
folder's subtree and documents) with optional expiry. Same conventions as
client/commands.py: every method accepts ``message_id`` and ``timeout``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from docbus_client.commands import _parse, _present, instant
from docbus_client.lifecycle import DocbusLifecycle
from docbus_client.models import Explanation, FolderShare, SharedWithMe, ShareList
from docbus_client.topology import RoutingKey, ShareRole


class DocbusSharing(DocbusLifecycle):
    """Contract v2's sharing commands and queries, on top of :meth:`request`."""

    async def share_folder(
        self, folder_id: str, shared_by: str, shared_with: str, role: ShareRole, *,
        expires_at: datetime | None = None, message_id: str | None = None,
        timeout: float | None = None,
    ) -> FolderShare:
        """Give ``shared_with`` a role on the folder, its subtree and their documents
        (replacing any previous one), until ``expires_at`` if given; needs share on it."""
        body: dict[str, Any] = {
            "folder_id": folder_id, "shared_by": shared_by, "shared_with": shared_with,
            "role": role,
        }
        body.update(_present(expires_at=instant(expires_at)))
        data = await self._data(RoutingKey.SHARE_FOLDER, body, message_id, timeout)
        return _parse(FolderShare.from_dict, data)

    async def unshare_folder(
        self, folder_id: str, revoked_by: str, user_id: str, *, message_id: str | None = None,
        timeout: float | None = None,
    ) -> FolderShare:
        """Take ``user_id``'s share on the folder away; needs share on it."""
        body = {"folder_id": folder_id, "revoked_by": revoked_by, "user_id": user_id}
        data = await self._data(RoutingKey.UNSHARE_FOLDER, body, message_id, timeout)
        return _parse(FolderShare.from_dict, data)

    async def document_shares(
        self, doc_id: str, user_id: str, *, message_id: str | None = None,
        timeout: float | None = None,
    ) -> ShareList:
        """Everyone who may read the document and why; needs share on it."""
        body = {"doc_id": doc_id, "user_id": user_id}
        data = await self._data(RoutingKey.DOCUMENT_SHARES, body, message_id, timeout)
        return _parse(ShareList.from_dict, data)

    async def explain_access(
        self, doc_id: str, user_id: str, *, about: str | None = None,
        message_id: str | None = None, timeout: float | None = None,
    ) -> Explanation:
        """What ``about`` (default: the asker) may do with the document, and why; needs
        read, and share to ask about someone else."""
        body: dict[str, Any] = {"doc_id": doc_id, "user_id": user_id}
        body.update(_present(about=about))
        data = await self._data(RoutingKey.EXPLAIN_ACCESS, body, message_id, timeout)
        return _parse(Explanation.from_dict, data)

    async def shared_with_me(
        self, org_id: str, user_id: str, *, limit: int | None = None, cursor: str | None = None,
        message_id: str | None = None, timeout: float | None = None,
    ) -> SharedWithMe:
        """Grants made to ``user_id`` by someone else in the org, newest first."""
        body: dict[str, Any] = {"org_id": org_id, "user_id": user_id}
        body.update(_present(limit=limit, cursor=cursor))
        data = await self._data(RoutingKey.SHARED_WITH_ME, body, message_id, timeout)
        return _parse(SharedWithMe.from_dict, data)
