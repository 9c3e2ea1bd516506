"""TrashList (query, contract v2).

- The reader must be a member of the org (``not_found`` otherwise).
- Lists what the reader could restore (``share``: an owner share, on the document, or on
  the folder or above it; everything for an org admin): each document or folder trashed
  by its own command. A document trashed on its own stays listed when its folder is
  trashed later; the contents of a trashed folder are not listed separately.
- Most recently trashed first (ties: folders before documents, then id descending),
  ``limit`` per page, with an opaque cursor.
- Served cache-aside; depends on the org's tree scope (every trash, restore and purge in
  the org bumps it) and on the reader.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from docbus.core.cursor import CursorCodec, Listing
from docbus.core.errors import NotFound
from docbus.core.keyset import decode_dated_item, encode_key
from docbus.core.lifecycle import TrashItem, TrashPosition
from docbus.core.ports import Json, ReplyCache, UnitOfWorkFactory
from docbus.core.values import CacheScope, OrgRole
from docbus.core.views import document_view, folder_view, timestamp
from docbus.handlers.cache_aside import Expiring, cached_reply
from docbus.handlers.replies import failure, success

DEFAULT_LIMIT = 50
CURSOR_KIND = "trash"


@dataclass(frozen=True, slots=True)
class ListTrash:
    org_id: str
    user_id: str
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None


class TrashListHandler:
    def __init__(
        self, uow: UnitOfWorkFactory, cache: ReplyCache, encode: Callable[[Json], bytes],
        cursors: CursorCodec,
    ) -> None:
        self._uow = uow
        self._cache = cache
        self._encode = encode
        self._cursors = cursors

    async def __call__(self, query: ListTrash) -> bytes:
        """The encoded reply envelope; raises InvalidCommand for a cursor we never issued."""
        listing = _listing(query)
        after = _position(self._cursors, listing, query.cursor) if query.cursor else None
        name = f"trash:{query.org_id}:{query.user_id}:{query.limit}:{query.cursor or ''}"
        scopes = (CacheScope.org_tree(query.org_id), CacheScope.user(query.user_id))
        return await cached_reply(
            self._cache, name, scopes, lambda: self._load(query, after), self._encode
        )

    async def _load(self, query: ListTrash, after: TrashPosition | None) -> Json | Expiring:
        async with self._uow(read_only=True) as uow:
            role = await uow.memberships.role_of(query.org_id, query.user_id)
            if role is None:
                return failure(NotFound(f"org {query.org_id} not found"))
            items = await uow.tree.trash_page(
                query.org_id, query.user_id, org_role=role, limit=query.limit + 1, after=after,
            )
            # What the reader could restore rests on their grants: cached until one expires.
            admin = role is OrgRole.ADMIN
            until = None if admin else await uow.shares.until(query.user_id, query.org_id)
        page = items[: query.limit]
        more = len(items) > query.limit
        cursor = _cursor(self._cursors, _listing(query), page[-1]) if more else None
        reply = success({"items": [item_view(i) for i in page], "next_cursor": cursor})
        return Expiring(reply, until)


def item_view(item: TrashItem) -> Json:
    view: Json = {"kind": item.kind}
    if item.document is not None:
        view["document"] = document_view(item.document)
    if item.folder is not None:
        view["folder"] = folder_view(item.folder)
    return {**view, "trashed_by": item.trashed_by, "trashed_at": timestamp(item.trashed_at)}


def _listing(query: ListTrash) -> Listing:
    """A trash cursor is bound to the org's trash as this reader sees it."""
    return Listing(f"trash:{query.org_id}", query.user_id)


def _cursor(codec: CursorCodec, listing: Listing, item: TrashItem) -> str:
    values = [item.trashed_at.isoformat(), item.kind, item.item_id]
    return encode_key(codec, listing, CURSOR_KIND, values)


def _position(codec: CursorCodec, listing: Listing, token: str) -> TrashPosition:
    return TrashPosition(*decode_dated_item(codec, listing, CURSOR_KIND, token))
