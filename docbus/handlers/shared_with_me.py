"""SharedWithMe (query, contract v2).

- The reader must be a member of the org (``not_found`` otherwise, as for an org that
  does not exist).
- Lists the grants made to the reader by someone else (core.sharing): document and
  folder shares, live and unexpired, on items not in the trash; newest grant first,
  ``limit`` per page, with an opaque cursor signed for this org and reader.
- Read from the grant tables themselves, which every share, unshare, trash, restore,
  purge and expiry changes in the same transaction: the projection cannot lag, so once
  a share's reply is out, the recipient sees it (section 5). Not cached.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from docbus.core.cursor import CursorCodec, Listing
from docbus.core.errors import DomainError, NotFound
from docbus.core.keyset import decode_dated_item, encode_key
from docbus.core.ports import Json, UnitOfWorkFactory
from docbus.core.sharing import SharedItem, SharedPosition
from docbus.core.views import document_view, folder_view, timestamp
from docbus.handlers.replies import failure, success

DEFAULT_LIMIT = 50
CURSOR_KIND = "shared"


@dataclass(frozen=True, slots=True)
class SharedWithMe:
    org_id: str
    user_id: str
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None


class SharedWithMeHandler:
    def __init__(
        self, uow: UnitOfWorkFactory, encode: Callable[[Json], bytes], cursors: CursorCodec
    ) -> None:
        self._uow, self._encode, self._cursors = uow, encode, cursors

    async def __call__(self, query: SharedWithMe) -> bytes:
        """The encoded reply envelope; raises InvalidCommand for a cursor we never issued."""
        listing = Listing(f"shared:{query.org_id}", query.user_id)
        after = _position(self._cursors, listing, query.cursor) if query.cursor else None
        try:
            return self._encode(success(await self._load(query, listing, after)))
        except DomainError as error:
            return self._encode(failure(error))

    async def _load(
        self, query: SharedWithMe, listing: Listing, after: SharedPosition | None
    ) -> Json:
        async with self._uow(read_only=True) as uow:
            if await uow.memberships.role_of(query.org_id, query.user_id) is None:
                raise NotFound(f"org {query.org_id} not found")
            items = await uow.shares.with_me(
                query.org_id, query.user_id, limit=query.limit + 1, after=after
            )
        page = items[: query.limit]
        cursor = None
        if len(items) > query.limit:
            last = page[-1]
            values = [last.shared_at.isoformat(), last.kind, last.item_id]
            cursor = encode_key(self._cursors, listing, CURSOR_KIND, values)
        return {"items": [item_view(i) for i in page], "next_cursor": cursor}


def item_view(item: SharedItem) -> Json:
    view: Json = {"kind": item.kind}
    if item.document is not None:
        view["document"] = document_view(item.document)
    if item.folder is not None:
        view["folder"] = folder_view(item.folder)
    return {
        **view, "role": item.role.value, "shared_by": item.shared_by,
        "shared_at": timestamp(item.shared_at),
        "expires_at": timestamp(item.expires_at) if item.expires_at else None,
    }


def _position(codec: CursorCodec, listing: Listing, token: str) -> SharedPosition:
    return SharedPosition(*decode_dated_item(codec, listing, CURSOR_KIND, token))
