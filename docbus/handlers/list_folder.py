"""ListFolder (query).

- The reader must be a member of the folder's org; otherwise, as for a folder that does
  not exist, the answer is ``not_found``.
- Lists the documents the reader may read, newest ``updated_at`` first, ``limit`` per
  page, with an opaque cursor for the next page: all of them for an org admin or a
  reader with a live share on the folder or above it (contract v2, section 1), else
  those the reader holds a live document share on. The access decider (core.decisions)
  decides the filter once per listing and the storage applies it in its query (the page's
  index range scan), never a document-by-document check.
- A cursor is signed for its listing (folder and reader, not the limit): one that this
  service did not issue for this folder and reader is ``invalid`` (core/cursor.py).
- A folder in the trash (or below one) does not exist; trashed documents are not listed.
- The reply is served cache-aside; it depends on the folder, on the reader (their
  shares) and on the folder tree (a subtree trashed or moved); it is cached at most until
  the first expiry of the reader's grants in the org.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from docbus.core.cursor import Cursor, CursorCodec, Listing
from docbus.core.entities import Document, DocumentPage
from docbus.core.errors import FolderNotFound
from docbus.core.ports import Json, ReplyCache, UnitOfWorkFactory
from docbus.core.values import CacheScope, OrgRole
from docbus.core.views import page_view
from docbus.handlers.cache_aside import Expiring, cached_reply
from docbus.handlers.replies import failure, success

DEFAULT_LIMIT = 50


@dataclass(frozen=True, slots=True)
class ListFolder:
    folder_id: str
    user_id: str
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None


class ListFolderHandler:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        cache: ReplyCache,
        encode: Callable[[Json], bytes],
        cursors: CursorCodec,
    ) -> None:
        self._uow = uow
        self._cache = cache
        self._encode = encode
        self._cursors = cursors

    async def __call__(self, query: ListFolder) -> bytes:
        """The encoded reply envelope; raises InvalidCommand for a cursor we never issued."""
        listing = Listing(query.folder_id, query.user_id)
        after = self._cursors.decode(query.cursor, listing) if query.cursor else None
        name = f"list:{query.folder_id}:{query.user_id}:{query.limit}:{query.cursor or ''}"
        # The tree scope: a folder trashed, restored, moved or purged anywhere above it.
        scopes = (
            CacheScope.folder(query.folder_id), CacheScope.user(query.user_id), CacheScope.TREE
        )
        return await cached_reply(
            self._cache, name, scopes, lambda: self._load(query, after), self._encode
        )

    async def _load(self, query: ListFolder, after: Cursor | None) -> Json | Expiring:
        async with self._uow(read_only=True) as uow:
            state = await uow.tree.find(query.folder_id, query.user_id)
            if state is None or state.in_trash or state.access.org_role is None:
                return failure(FolderNotFound(query.folder_id))
            admin = state.access.org_role is OrgRole.ADMIN
            documents = await uow.documents.page(
                query.folder_id, state.access, limit=query.limit + 1, after=after
            )
            until = None if admin else await uow.shares.until(query.user_id, state.folder.org_id)
        return Expiring(success(page_view(self._paginate(query, documents))), until)

    def _paginate(self, query: ListFolder, documents: list[Document]) -> DocumentPage:
        page = tuple(documents[: query.limit])
        cursor = None
        if len(documents) > query.limit:
            last = Cursor(page[-1].updated_at, page[-1].doc_id)
            cursor = self._cursors.encode(last, Listing(query.folder_id, query.user_id))
        return DocumentPage(query.folder_id, page, cursor)
