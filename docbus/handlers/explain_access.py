"""DocumentShares and ExplainAccess (queries, contract v2): who may read a document and
why, and what one user may do with it and why.

- Both are decided in PostgreSQL, never from the cache (they are not cached): every
  answer reflects every acknowledged share, unshare, move and expiry (section 5).
- document.shares needs ``share`` on the document; access.explain needs ``read``, and
  ``share`` to ask about another user (``about``). Whoever cannot read the document (or
  finds it in the trash) gets ``not_found``; a reader lacking ``share`` gets
  ``forbidden``.
- ShareList: one entry per live grant held by a member of the org (document shares,
  folder shares on its folder and above), plus one ``org_admin`` entry per admin; by
  user_id, then highest role first (core.access's order).
- Explanation: the user's effective role (null: none), its capabilities, and every grant
  that applies, highest first (core.access.explain decides).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from docbus.core.access import Grant, explain, live_grants
from docbus.core.errors import CapabilityMissing, DocumentNotFound, DomainError
from docbus.core.policies import Access
from docbus.core.ports import Clock, Json, UnitOfWork, UnitOfWorkFactory
from docbus.core.values import Capability
from docbus.core.views import timestamp
from docbus.handlers.replies import failure, success


@dataclass(frozen=True, slots=True)
class ListDocumentShares:
    doc_id: str
    user_id: str


@dataclass(frozen=True, slots=True)
class ExplainAccess:
    doc_id: str
    user_id: str
    about: str | None = None


def grant_view(grant: Grant) -> Json:
    return {
        "source": grant.source, "role": grant.role.value, "folder_id": grant.folder_id,
        "expires_at": timestamp(grant.expires_at) if grant.expires_at else None,
    }


async def _readable(uow: UnitOfWork, doc_id: str, user_id: str) -> Access:
    """The asker's access to a live document they may read (else not_found)."""
    document, access = await uow.documents.get_with_access(doc_id, user_id)
    if document is None or document.in_trash or not access.can(Capability.READ):
        raise DocumentNotFound(doc_id)
    return access


class DocumentSharesHandler:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, encode: Callable[[Json], bytes]):
        self._uow, self._clock, self._encode = uow, clock, encode

    async def __call__(self, query: ListDocumentShares) -> bytes:
        try:
            return self._encode(success(await self._load(query)))
        except DomainError as error:
            return self._encode(failure(error))

    async def _load(self, query: ListDocumentShares) -> Json:
        async with self._uow(read_only=True) as uow:
            access = await _readable(uow, query.doc_id, query.user_id)
            access.require(Capability.SHARE, query.doc_id)
            grants = await uow.shares.grants(query.doc_id)
        by_user: dict[str, list[Grant]] = {}
        for user_id, grant in grants:
            by_user.setdefault(user_id, []).append(grant)
        now = self._clock.now()
        shares = [
            {"user_id": user_id, **grant_view(grant)}
            for user_id in sorted(by_user) for grant in live_grants(by_user[user_id], now)
        ]
        return {"doc_id": query.doc_id, "shares": shares}


class ExplainAccessHandler:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, encode: Callable[[Json], bytes]):
        self._uow, self._clock, self._encode = uow, clock, encode

    async def __call__(self, query: ExplainAccess) -> bytes:
        try:
            return self._encode(success(await self._load(query)))
        except DomainError as error:
            return self._encode(failure(error))

    async def _load(self, query: ExplainAccess) -> Json:
        about = query.about or query.user_id
        async with self._uow(read_only=True) as uow:
            access = await _readable(uow, query.doc_id, query.user_id)
            if about != query.user_id and not access.can(Capability.SHARE):
                raise CapabilityMissing(query.user_id, Capability.SHARE.value, query.doc_id)
            subject = access if about == query.user_id else await self._access(uow, query, about)
            grants = [g for _, g in await uow.shares.grants(query.doc_id, about)]
        found = explain(subject.org_role, grants, self._clock.now())
        return {
            "doc_id": query.doc_id, "user_id": about,
            "role": found.role.value if found.role else None,
            "capabilities": [c.value for c in found.capabilities],
            "grants": [grant_view(g) for g in found.grants],
        }

    @staticmethod
    async def _access(uow: UnitOfWork, query: ExplainAccess, about: str) -> Access:
        _, access = await uow.documents.get_with_access(query.doc_id, about)
        return access
