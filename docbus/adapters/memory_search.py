"""In-memory fake of core.ports.SearchIndex, over the state of adapters.memory: the same
matching, rank and order (core.search), the same access rule (core.access, through the
grants adapters.memory_tree gathers), checked document by document."""

from __future__ import annotations

from docbus.adapters.memory_tree import State, document_grants, folder_in_trash
from docbus.core.access import effective_role
from docbus.core.decisions import AccessDecider, BuiltInDecider, Question
from docbus.core.search import SearchFilter, SearchHit, SearchPosition, hit, matches
from docbus.core.values import Capability, OrgRole


class InMemorySearchIndex:
    def __init__(self, state: State, decider: AccessDecider | None = None) -> None:
        self._s = state
        self._decider = decider or BuiltInDecider(state.now)

    async def search(
        self, org_id: str, reader_id: str, *, org_role: OrgRole, search: SearchFilter,
        limit: int, after: SearchPosition | None,
    ) -> list[SearchHit]:
        hits = [
            hit(search, d) for d in self._s.documents.values()
            if d.org_id == org_id and d.trashed_at is None
            and not folder_in_trash(self._s, d.folder_id)
            and matches(search, d, self._s.folders[d.folder_id].ancestors)
        ]
        hits = [h for h in hits if after is None or h.position < after]
        hits = await self._readable_hits(reader_id, org_role, hits)
        hits.sort(key=lambda h: h.position, reverse=True)
        return hits[:limit]

    async def _readable_hits(
        self, reader_id: str, org_role: OrgRole, hits: list[SearchHit]
    ) -> list[SearchHit]:
        """The decider's filter (a fake: a policy's plan is checked document by document)."""
        readable = await self._decider.anywhere(reader_id, org_role, "document",
                                                Capability.READ)
        if readable.kind in ("all", "none"):
            return hits if readable.kind == "all" else []
        if readable.kind == "built_in":
            return [h for h in hits if self._readable(h.document.doc_id, reader_id)]
        asked = [Question(reader_id, "document", h.document.doc_id, org_role,
                          tuple(document_grants(self._s, h.document.doc_id, reader_id)))
                 for h in hits]
        decided = await self._decider.decide(asked)
        return [h for h, can in zip(hits, decided, strict=True) if Capability.READ in can]

    def _readable(self, doc_id: str, reader_id: str) -> bool:
        grants = document_grants(self._s, doc_id, reader_id)
        return effective_role(OrgRole.MEMBER, grants, self._s.now()) is not None
