"""GetDocument (query).

- The reader needs ``read``; otherwise, as for a document that does not exist, the
  answer is ``not_found``. A document in the trash (itself, or through a folder above
  it) does not exist.
- Read access is the effective role (core.access): a live document share, or a live
  folder share on its folder or above, or an org admin.
- The reply (the Document with its versions, oldest first) is served cache-aside; it
  depends on the document, on the reader (their folder shares) and on the folder tree (a
  subtree trashed or moved), and is invalidated when any of them changes; it is cached at
  most until the first expiry of the grants the reader's access came from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from docbus.core.errors import DocumentNotFound
from docbus.core.ports import Json, ReplyCache, UnitOfWorkFactory
from docbus.core.values import CacheScope, Capability
from docbus.core.views import document_with_versions_view
from docbus.handlers.cache_aside import Expiring, cached_reply
from docbus.handlers.replies import failure, success


@dataclass(frozen=True, slots=True)
class GetDocument:
    doc_id: str
    user_id: str


class GetDocumentHandler:
    def __init__(
        self, uow: UnitOfWorkFactory, cache: ReplyCache, encode: Callable[[Json], bytes]
    ) -> None:
        self._uow = uow
        self._cache = cache
        self._encode = encode

    async def __call__(self, query: GetDocument) -> bytes:
        """The encoded reply envelope."""
        name = f"doc:{query.doc_id}:{query.user_id}"
        # The tree scope: a folder trashed, restored, moved or purged anywhere above it.
        scopes = (
            CacheScope.document(query.doc_id), CacheScope.user(query.user_id), CacheScope.TREE
        )
        return await cached_reply(
            self._cache, name, scopes, lambda: self._load(query), self._encode
        )

    async def _load(self, query: GetDocument) -> Json | Expiring:
        async with self._uow(read_only=True) as uow:
            document, access = await uow.documents.get_with_access(query.doc_id, query.user_id)
            if document is None or document.in_trash or not access.can(Capability.READ):
                return failure(DocumentNotFound(query.doc_id))
            versions = await uow.documents.versions(query.doc_id)
        return Expiring(success(document_with_versions_view(document, versions)),
                        access.valid_until)
