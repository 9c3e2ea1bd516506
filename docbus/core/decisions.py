"""Access decisions behind a port: who may do what, judged from the grants an adapter
gathered (contract v2, section 1).

- A ``Question`` is one user and one resource (a document or a folder): the user's role in
  the resource's org and the grants through which they may hold a role on it (a document
  share; folder shares on its folder and above).
- An ``AccessDecider`` answers each question with the capabilities it allows; it judges
  expiry at its own clock's instant. When it cannot decide it raises ``Unavailable``: it
  never allows by default (a command then retries within its budget).
- A listing never asks document by document: ``readable`` answers once per listing with a
  ``ReadableFilter`` that the storage adapter turns into its query.
- ``BuiltInDecider`` is the default: core.access's rule, in process.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from docbus.core.access import Grant, capabilities, effective_role
from docbus.core.values import Capability, OrgRole, Role

Kind = Literal["document", "folder"]


@dataclass(frozen=True, slots=True)
class Question:
    """What ``user_id`` may do on one resource. ``grants`` hold the user's document share
    (source "document", on a document only) and their folder shares on the resource's
    folder and every folder above it (source "folder"), expired ones included or not:
    the decider judges expiry."""

    user_id: str
    kind: Kind
    resource_id: str
    org_role: OrgRole | None
    grants: tuple[Grant, ...] = ()

    @property
    def document_grant(self) -> Grant | None:
        return next((g for g in self.grants if g.source == "document"), None)

    @property
    def folder_grants(self) -> tuple[Grant, ...]:
        return tuple(g for g in self.grants if g.source == "folder")


FilterKind = Literal["all", "none", "own_share", "built_in", "plan"]


@dataclass(frozen=True, slots=True)
class ReadableFilter:
    """Which documents of one folder a reader may read, decided once for the listing.

    - ``all``: every document; ``none``: none;
    - ``own_share``: those the reader holds a live document share on (the built-in rule
      for a folder's documents);
    - ``built_in``: the built-in rule, as the listing's own statement applies it
      (``anywhere``: e.g. trash.list's owners through a share or a folder above);
    - ``plan``: a policy decision point's residual condition (``condition``, in Cerbos's
      query plan form) over the reader's grants left unknown:
      ``request.resource.attr.doc_role``, ``request.resource.attr.doc_expires_at`` and,
      asked ``anywhere``, ``request.resource.attr.folder_grants``.
    """

    kind: FilterKind
    condition: dict[str, Any] = field(default_factory=dict)


class AccessDecider(Protocol):
    async def decide(self, questions: Sequence[Question]) -> list[frozenset[Capability]]:
        """The capabilities each question's user holds, in order; Unavailable if it cannot
        decide (never a default)."""
        ...

    async def readable(self, folder: Question) -> ReadableFilter:
        """Which documents of ``folder`` (a question about the folder, by its reader) the
        reader may read; Unavailable if it cannot decide."""
        ...

    async def anywhere(
        self, user_id: str, org_role: OrgRole | None, kind: Kind, capability: Capability
    ) -> ReadableFilter:
        """Which resources of ``kind`` anywhere in the org the user holds ``capability``
        on (trash.list, search); Unavailable if it cannot decide."""
        ...


class BuiltInDecider:
    """core.access's rule in process: the highest live grant; owner for an admin."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now

    async def decide(self, questions: Sequence[Question]) -> list[frozenset[Capability]]:
        now = self._now()
        return [judge(q, now) for q in questions]

    async def readable(self, folder: Question) -> ReadableFilter:
        if Capability.READ in judge(folder, self._now()):
            return ReadableFilter("all")
        return ReadableFilter("own_share" if folder.org_role is not None else "none")

    async def anywhere(
        self, user_id: str, org_role: OrgRole | None, kind: Kind, capability: Capability
    ) -> ReadableFilter:
        if org_role is None:
            return ReadableFilter("none")
        return ReadableFilter("all" if org_role is OrgRole.ADMIN else "built_in")


def judge(question: Question, now: datetime) -> frozenset[Capability]:
    role = effective_role(question.org_role, question.grants, now)
    return capabilities(question.org_role, role)


def summary_grants(
    doc_role: Role | None, doc_until: datetime | None, folder_role: Role | None
) -> tuple[Grant, ...]:
    """Grants from what SQL gathered: the live document share, and the highest live folder
    share on the chain (judged live by the statement; its own expiry is not read)."""
    grants = [] if doc_role is None else [Grant(doc_role, "document", None, doc_until)]
    if folder_role is not None:
        grants.append(Grant(folder_role, "folder"))
    return tuple(grants)
