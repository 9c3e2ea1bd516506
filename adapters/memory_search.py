"""In-memory fake of core.ports.SearchIndex, over the state of adapters.memory: the same
matching, rank and order (core.search), the same access rule (core.access, through the
grants adapters.memory_tree gathers), checked document by document."""

from __future__ import annotations

from adapters.memory_tree import State, document_grants, folder_in_trash
from core.access import effective_role
from core.search import SearchFilter, SearchHit, SearchPosition, hit, matches
from core.values import OrgRole


class InMemorySearchIndex:
    def __init__(self, state: State) -> None:
        self._s = state

    async def search(
        self, org_id: str, reader_id: str, *, everything: bool, search: SearchFilter,
        limit: int, after: SearchPosition | None,
    ) -> list[SearchHit]:
        hits = [
            hit(search, d) for d in self._s.documents.values()
            if d.org_id == org_id and d.trashed_at is None
            and not folder_in_trash(self._s, d.folder_id)
            and (everything or self._readable(d.doc_id, reader_id))
            and matches(search, d, self._s.folders[d.folder_id].ancestors)
        ]
        hits = [h for h in hits if after is None or h.position < after]
        hits.sort(key=lambda h: h.position, reverse=True)
        return hits[:limit]

    def _readable(self, doc_id: str, reader_id: str) -> bool:
        grants = document_grants(self._s, doc_id, reader_id)
        return effective_role(OrgRole.MEMBER, grants, self._s.now()) is not None
