"""Typed methods for contract version 2's lives of documents and folders: rename, move,
revert, trash, restore, purge, folder.children and trash.list. Same conventions as
client/commands.py: every method accepts ``message_id`` and ``timeout``."""

from __future__ import annotations

from typing import Any

from docbus_client.commands import DocbusCommands, _parse, _present
from docbus_client.models import Document, Folder, FolderChildren, Purged, TrashListing
from docbus_client.topology import RoutingKey


class DocbusLifecycle(DocbusCommands):
    """Contract v2's lifecycle commands and queries, on top of :meth:`request`."""

    async def _document(
        self, key: RoutingKey, body: dict[str, Any], message_id: str | None,
        timeout: float | None,
    ) -> Document:
        data = await self._data(key, body, message_id, timeout)
        return _parse(Document.from_dict, data)

    async def _folder(
        self, key: RoutingKey, body: dict[str, Any], message_id: str | None,
        timeout: float | None,
    ) -> Folder:
        data = await self._data(key, body, message_id, timeout)
        return _parse(Folder.from_dict, data)

    async def _purged(
        self, key: RoutingKey, body: dict[str, Any], message_id: str | None,
        timeout: float | None,
    ) -> Purged:
        data = await self._data(key, body, message_id, timeout)
        return _parse(Purged.from_dict, data)

    async def rename_document(
        self, doc_id: str, user_id: str, name: str, *, message_id: str | None = None,
        timeout: float | None = None,
    ) -> Document:
        """Rename the document (its stored versions keep their names); needs write."""
        body = {"doc_id": doc_id, "user_id": user_id, "name": name}
        return await self._document(RoutingKey.RENAME_DOCUMENT, body, message_id, timeout)

    async def move_document(
        self, doc_id: str, user_id: str, folder_id: str, *, message_id: str | None = None,
        timeout: float | None = None,
    ) -> Document:
        """Move the document into another live folder of its org; needs write."""
        body = {"doc_id": doc_id, "user_id": user_id, "folder_id": folder_id}
        return await self._document(RoutingKey.MOVE_DOCUMENT, body, message_id, timeout)

    async def revert_document(
        self, doc_id: str, user_id: str, version: int, *, message_id: str | None = None,
        timeout: float | None = None,
    ) -> Document:
        """Store a new version with ``version``'s content; needs write."""
        body = {"doc_id": doc_id, "user_id": user_id, "version": version}
        return await self._document(RoutingKey.REVERT_DOCUMENT, body, message_id, timeout)

    async def trash_document(
        self, doc_id: str, user_id: str, *, message_id: str | None = None,
        timeout: float | None = None,
    ) -> Document:
        """Move the document to the trash (the reply shows ``trashed_at``); needs share."""
        body = {"doc_id": doc_id, "user_id": user_id}
        return await self._document(RoutingKey.TRASH_DOCUMENT, body, message_id, timeout)

    async def restore_document(
        self, doc_id: str, user_id: str, *, message_id: str | None = None,
        timeout: float | None = None,
    ) -> Document:
        """Bring the document back from the trash; needs share."""
        body = {"doc_id": doc_id, "user_id": user_id}
        return await self._document(RoutingKey.RESTORE_DOCUMENT, body, message_id, timeout)

    async def purge_document(
        self, doc_id: str, user_id: str, *, message_id: str | None = None,
        timeout: float | None = None,
    ) -> Purged:
        """Delete a trashed document for good; the reply lists every version's blob_uri."""
        body = {"doc_id": doc_id, "user_id": user_id}
        return await self._purged(RoutingKey.PURGE_DOCUMENT, body, message_id, timeout)

    async def rename_folder(
        self, folder_id: str, user_id: str, name: str, *, message_id: str | None = None,
        timeout: float | None = None,
    ) -> Folder:
        """Rename the folder (unique among live siblings); needs write on it."""
        body = {"folder_id": folder_id, "user_id": user_id, "name": name}
        return await self._folder(RoutingKey.RENAME_FOLDER, body, message_id, timeout)

    async def move_folder(
        self, folder_id: str, user_id: str, parent_id: str | None, *,
        message_id: str | None = None, timeout: float | None = None,
    ) -> Folder:
        """Move the folder with its subtree (``parent_id`` None: a root); needs write."""
        body = {"folder_id": folder_id, "user_id": user_id, "parent_id": parent_id}
        return await self._folder(RoutingKey.MOVE_FOLDER, body, message_id, timeout)

    async def trash_folder(
        self, folder_id: str, user_id: str, *, message_id: str | None = None,
        timeout: float | None = None,
    ) -> Folder:
        """Move the folder and its subtree to the trash; needs share on it."""
        body = {"folder_id": folder_id, "user_id": user_id}
        return await self._folder(RoutingKey.TRASH_FOLDER, body, message_id, timeout)

    async def restore_folder(
        self, folder_id: str, user_id: str, *, message_id: str | None = None,
        timeout: float | None = None,
    ) -> Folder:
        """Bring the folder back, its subtree as it was trashed; needs share on it."""
        body = {"folder_id": folder_id, "user_id": user_id}
        return await self._folder(RoutingKey.RESTORE_FOLDER, body, message_id, timeout)

    async def purge_folder(
        self, folder_id: str, user_id: str, *, message_id: str | None = None,
        timeout: float | None = None,
    ) -> Purged:
        """Delete a trashed folder, its subtree and their documents for good."""
        body = {"folder_id": folder_id, "user_id": user_id}
        return await self._purged(RoutingKey.PURGE_FOLDER, body, message_id, timeout)

    async def folder_children(
        self, org_id: str, folder_id: str | None, user_id: str, limit: int | None = None,
        cursor: str | None = None, *, message_id: str | None = None,
        timeout: float | None = None,
    ) -> FolderChildren:
        """One page of the live folders below ``folder_id`` (None: the org's roots)."""
        body: dict[str, Any] = {"org_id": org_id, "folder_id": folder_id, "user_id": user_id}
        body.update(_present(limit=limit, cursor=cursor))
        data = await self._data(RoutingKey.FOLDER_CHILDREN, body, message_id, timeout)
        return _parse(FolderChildren.from_dict, data)

    async def list_trash(
        self, org_id: str, user_id: str, limit: int | None = None, cursor: str | None = None,
        *, message_id: str | None = None, timeout: float | None = None,
    ) -> TrashListing:
        """One page of what ``user_id`` could restore from the org's trash, newest first."""
        body: dict[str, Any] = {"org_id": org_id, "user_id": user_id}
        body.update(_present(limit=limit, cursor=cursor))
        data = await self._data(RoutingKey.TRASH_LIST, body, message_id, timeout)
        return _parse(TrashListing.from_dict, data)
