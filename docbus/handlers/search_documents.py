"""SearchDocuments (query, contract v2: ``document.search``).

- The reader must be a member of the org (``not_found`` otherwise, as for an org that
  does not exist).
- A ``folder_id`` must name a live folder of the org (``not_found`` otherwise: unknown,
  of another org, in the trash or below a trashed folder; folders are not secret within
  their org, contract v2 section 1).
- Finds the documents the reader may read now (every live one of the org for an admin;
  inherited and expiring grants as the access model says; nothing in the trash or below
  a trashed folder) that pass every filter given (core.search): best match first, then
  newest ``updated_at``; no filter: every readable document, newest first.
- ``limit`` per page, with an opaque cursor signed for this org, reader and these very
  filters: any other token is ``invalid``.
- Read through the unit's SearchIndex, which (on PostgreSQL) reads what the commands'
  own transactions wrote: once a command's reply is out, search reflects it. Not cached:
  a search depends on every document and grant of the org (docs/decisions.md).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from docbus.core.cursor import CursorCodec, Listing, not_issued
from docbus.core.errors import DomainError, FolderNotFound, NotFound
from docbus.core.keyset import decode_key, encode_key
from docbus.core.ports import Json, UnitOfWorkFactory
from docbus.core.search import SearchFilter, SearchHit, SearchPosition
from docbus.core.views import document_view
from docbus.handlers.replies import failure, success

DEFAULT_LIMIT = 50
CURSOR_KIND = "search"
NO_FILTER = SearchFilter()
MAX_RANK = 1000  # more distinct words than a text can hold
_IDENTIFIER = re.compile(r"[A-Za-z0-9._:@-]{1,128}")


@dataclass(frozen=True, slots=True)
class SearchDocuments:
    org_id: str
    user_id: str
    search: SearchFilter = NO_FILTER
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None


class SearchDocumentsHandler:
    def __init__(
        self, uow: UnitOfWorkFactory, encode: Callable[[Json], bytes], cursors: CursorCodec
    ) -> None:
        self._uow, self._encode, self._cursors = uow, encode, cursors

    async def __call__(self, query: SearchDocuments) -> bytes:
        """The encoded reply envelope; raises InvalidCommand for a cursor we never issued."""
        listing = _listing(query)
        after = _position(self._cursors, listing, query.cursor) if query.cursor else None
        try:
            return self._encode(success(await self._load(query, listing, after)))
        except DomainError as error:
            return self._encode(failure(error))

    async def _load(
        self, query: SearchDocuments, listing: Listing, after: SearchPosition | None
    ) -> Json:
        async with self._uow(read_only=True) as uow:
            role = await uow.memberships.role_of(query.org_id, query.user_id)
            if role is None:
                raise NotFound(f"org {query.org_id} not found")
            folder_id = query.search.folder_id
            if folder_id is not None:
                folder = await uow.folders.get(folder_id)  # live folders only
                if folder is None or folder.org_id != query.org_id:
                    raise FolderNotFound(folder_id)
            hits = await uow.search.search(
                query.org_id, query.user_id, org_role=role,
                search=query.search, limit=query.limit + 1, after=after,
            )
        page = hits[: query.limit]
        more = len(hits) > query.limit
        cursor = _cursor(self._cursors, listing, page[-1]) if more else None
        return {"documents": [document_view(h.document) for h in page], "next_cursor": cursor}


def _listing(query: SearchDocuments) -> Listing:
    """A search cursor is bound to the org, the reader and the filters (not the limit)."""
    s = query.search
    filters = json.dumps([s.text, s.folder_id, s.mime_type, list(s.tags)])
    return Listing(f"search:{query.org_id}:{filters}", query.user_id)


def _cursor(codec: CursorCodec, listing: Listing, hit: SearchHit) -> str:
    p = hit.position
    values = [str(p.rank), p.updated_at.astimezone(UTC).isoformat(), p.doc_id]
    return encode_key(codec, listing, CURSOR_KIND, values)


def _position(codec: CursorCodec, listing: Listing, token: str) -> SearchPosition:
    rank, at, doc_id = decode_key(codec, listing, CURSOR_KIND, token, 3)
    if not (rank.isascii() and rank.isdigit() and int(rank) <= MAX_RANK):
        raise not_issued("malformed")
    if not _IDENTIFIER.fullmatch(doc_id):
        raise not_issued("malformed")
    try:
        when = datetime.fromisoformat(at)
        if when.tzinfo is None:
            raise not_issued("malformed")
        return SearchPosition(int(rank), when.astimezone(UTC), doc_id)
    except (ValueError, OverflowError) as exc:
        raise not_issued("malformed") from exc
