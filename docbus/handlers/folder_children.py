"""FolderChildren (query, contract v2).

- The reader must be a member of the org (``not_found`` otherwise, as for an org that
  does not exist); folders are not secret within their org.
- ``folder_id`` null lists the org's roots; otherwise it must be a live folder of the org
  (``not_found``).
- Lists live child folders by name (bytewise), then folder_id, ``limit`` per page, with an
  opaque cursor.
- Served cache-aside; depends on the org's tree (any folder created, renamed, moved,
  trashed, restored or purged in the org) and on the reader (membership).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from docbus.core.cursor import CursorCodec, Listing
from docbus.core.entities import Folder
from docbus.core.errors import FolderNotFound, NotFound
from docbus.core.keyset import decode_key, encode_key
from docbus.core.ports import Json, ReplyCache, UnitOfWork, UnitOfWorkFactory
from docbus.core.values import CacheScope
from docbus.core.views import folder_view
from docbus.handlers.cache_aside import cached_reply
from docbus.handlers.replies import failure, success

DEFAULT_LIMIT = 50
CURSOR_KIND = "children"


@dataclass(frozen=True, slots=True)
class ListChildren:
    org_id: str
    folder_id: str | None
    user_id: str
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None


class FolderChildrenHandler:
    def __init__(
        self, uow: UnitOfWorkFactory, cache: ReplyCache, encode: Callable[[Json], bytes],
        cursors: CursorCodec,
    ) -> None:
        self._uow = uow
        self._cache = cache
        self._encode = encode
        self._cursors = cursors

    async def __call__(self, query: ListChildren) -> bytes:
        """The encoded reply envelope; raises InvalidCommand for a cursor we never issued."""
        listing = _listing(query)
        after = (
            decode_key(self._cursors, listing, CURSOR_KIND, query.cursor, 2)
            if query.cursor else None
        )
        name = (
            f"children:{query.org_id}:{query.folder_id or ''}:{query.user_id}:{query.limit}:"
            f"{query.cursor or ''}"
        )
        scopes = (CacheScope.org_tree(query.org_id), CacheScope.user(query.user_id))
        return await cached_reply(
            self._cache, name, scopes, lambda: self._load(query, after), self._encode
        )

    async def _load(self, query: ListChildren, after: list[str] | None) -> Json:
        async with self._uow(read_only=True) as uow:
            refusal = await _refusal(query, uow)
            if refusal is not None:
                return failure(refusal)
            folders = await uow.tree.children(
                query.org_id, query.folder_id, limit=query.limit + 1,
                after=(after[0], after[1]) if after else None,
            )
        return success(_page(query, folders, self._cursors))


async def _refusal(query: ListChildren, uow: UnitOfWork) -> NotFound | None:
    if await uow.memberships.role_of(query.org_id, query.user_id) is None:
        return NotFound(f"org {query.org_id} not found")
    if query.folder_id is None:
        return None
    state = await uow.tree.find(query.folder_id, query.user_id)
    if state is None or state.folder.org_id != query.org_id or state.in_trash:
        return FolderNotFound(query.folder_id)
    return None


def _listing(query: ListChildren) -> Listing:
    """A children cursor is bound to one folder (or the org's roots) and one reader."""
    return Listing(f"children:{query.org_id}:{query.folder_id or ''}", query.user_id)


def _page(query: ListChildren, folders: list[Folder], cursors: CursorCodec) -> Json:
    page = folders[: query.limit]
    more = len(folders) > query.limit
    last = [page[-1].name, page[-1].folder_id] if more else None
    cursor = encode_key(cursors, _listing(query), CURSOR_KIND, last) if last else None
    return {
        "org_id": query.org_id,
        "folder_id": query.folder_id,
        "folders": [folder_view(f) for f in page],
        "next_cursor": cursor,
    }
