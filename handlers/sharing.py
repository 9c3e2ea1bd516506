"""Rules shared by ShareDocument and RevokeShare."""

from __future__ import annotations

from collections.abc import Sequence

from core.entities import Document
from core.errors import DocumentNotFound, LastOwner
from core.policies import Access, owners_after
from core.ports import UnitOfWork
from core.values import CacheScope, Capability, Role


async def access_of(uow: UnitOfWork, document: Document, user_id: str) -> Access:
    """The user's org role and document role, read inside the unit (never from a cache)."""
    org_role = await uow.memberships.role_of(document.org_id, user_id)
    doc_role = await uow.shares.role_of(document.doc_id, user_id) if org_role else None
    return Access(user_id, org_role, doc_role)


async def locked_for_sharing(uow: UnitOfWork, doc_id: str, actor_id: str) -> Document:
    """The document, locked against concurrent share changes, if the actor may share it."""
    document, access = await uow.documents.get_with_access(doc_id, actor_id, lock=True)
    if document is None or document.in_trash:  # refuses all but restore and purge
        raise DocumentNotFound(doc_id)
    access.require(Capability.SHARE, doc_id)
    return document


async def keeps_an_owner(
    uow: UnitOfWork, doc_id: str, current: Role | None, new: Role | None
) -> None:
    """Raise LastOwner if moving one user from ``current`` to ``new`` leaves no owner."""
    demoted = current is Role.OWNER and new is not Role.OWNER
    if demoted and owners_after(await uow.shares.owners(doc_id), current, new) < 1:
        raise LastOwner(doc_id)


async def prepare_sharing(
    uow: UnitOfWork, actors: Sequence[tuple[str, str]], targets: Sequence[tuple[str, str]]
) -> None:
    """Read ahead for a group of share changes: each document locked with its actor's
    access (actors: (doc_id, actor_id)), then the targets' org roles and document roles
    (targets: (doc_id, user_id))."""
    documents = await uow.documents.preload_with_access(actors, lock=True)
    org_of = {d.doc_id: d.org_id for d in documents}
    await uow.memberships.preload([(org_of[d], u) for d, u in targets if d in org_of])
    await uow.shares.preload([(d, u) for d, u in targets if d in org_of])


def share_scopes(document: Document) -> list[str]:
    """A share change alters the document's gets and its folder's listings."""
    return [CacheScope.folder(document.folder_id), CacheScope.document(document.doc_id)]
