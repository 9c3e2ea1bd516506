"""Read-ahead: what a use case declares it will read, so that a group of commands can load
it at once.

An optimisation a use case may offer, never a requirement: a use case that declares
nothing runs exactly the same, grouped or not; it only pays a round trip per read. What
is declared changes no answer: a grouped unit answers a declared read exactly as it
would have without the declaration (its own earlier writes included).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

C = TypeVar("C")

Pair = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Reads:
    """Keys a command will read, by the repository call that reads them."""

    folder_roles: tuple[Pair, ...] = ()
    """(folder_id, user_id): ``folders.get_with_role``."""
    new_documents: tuple[str, ...] = ()
    """doc_id: ``documents.add`` (whether the document exists already)."""
    locked_access: tuple[Pair, ...] = ()
    """(doc_id, user_id): ``documents.get_with_access(..., lock=True)``; the documents are
    locked by the read-ahead itself, in doc_id order (two groups never deadlock)."""
    document_roles: tuple[Pair, ...] = ()
    """(doc_id, user_id): the user's role in the document's org
    (``memberships.role_of``) and on the document (``shares.role_of``)."""

    @classmethod
    def of(cls, declared: Iterable[Reads]) -> Reads:
        """All of them together, each key once, in first-declared order."""
        reads = list(declared)
        return cls(
            _union(r.folder_roles for r in reads),
            _union(r.new_documents for r in reads),
            _union(r.locked_access for r in reads),
            _union(r.document_roles for r in reads),
        )


K = TypeVar("K")


def _union(keys: Iterable[tuple[K, ...]]) -> tuple[K, ...]:
    return tuple(dict.fromkeys(key for some in keys for key in some))


class ReadsAhead(ABC, Generic[C]):
    """A use case that declares its reads (the use case's class inherits from this)."""

    @abstractmethod
    def reads(self, command: C) -> Reads:
        """What running ``command`` will read; it loads nothing and decides nothing."""
