"""Rules shared by ShareDocument and RevokeShare."""

from __future__ import annotations

from docbus.core.entities import Document
from docbus.core.errors import DocumentNotFound, LastOwner
from docbus.core.policies import owners_after
from docbus.core.ports import UnitOfWork
from docbus.core.reads import Reads
from docbus.core.values import CacheScope, Capability, Role


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


def sharing_reads(doc_id: str, actor_id: str, user_id: str) -> Reads:
    """What a share change reads: the document, locked, with its actor's access; then the
    user's org role and document role."""
    return Reads(locked_access=((doc_id, actor_id),), document_roles=((doc_id, user_id),))


def share_scopes(document: Document) -> list[str]:
    """A share change alters the document's gets and its folder's listings."""
    return [CacheScope.folder(document.folder_id), CacheScope.document(document.doc_id)]
