"""Typed method for contract version 2's search (``document.search``). Same conventions
as client/commands.py: ``message_id`` and ``timeout`` on every call."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from docbus_client.commands import _parse, _present
from docbus_client.models import SearchResults
from docbus_client.sharing import DocbusSharing
from docbus_client.topology import RoutingKey


class DocbusSearch(DocbusSharing):
    """document.search, on top of :meth:`request`."""

    async def search_documents(
        self, org_id: str, user_id: str, *, text: str | None = None,
        folder_id: str | None = None, mime_type: str | None = None,
        tags: Sequence[str] | None = None, limit: int | None = None,
        cursor: str | None = None, message_id: str | None = None,
        timeout: float | None = None,
    ) -> SearchResults:
        """Documents of the org that ``user_id`` may read and that match every filter
        given: ``text`` (each word a word of the name or tags, case- and
        accent-insensitive, the last one may be a prefix), ``folder_id`` (with its
        subtree), ``mime_type`` (``type/subtype`` or ``type/*``), ``tags`` (all of them).
        Best match first, then newest; no filter: every readable document, newest first.
        A non-member gets ``not_found``."""
        body: dict[str, Any] = {"org_id": org_id, "user_id": user_id}
        body.update(_present(text=text, folder_id=folder_id, mime_type=mime_type,
                             limit=limit, cursor=cursor))
        if tags:
            body["tags"] = list(tags)
        data = await self._data(RoutingKey.SEARCH_DOCUMENTS, body, message_id, timeout)
        return _parse(SearchResults.from_dict, data)
