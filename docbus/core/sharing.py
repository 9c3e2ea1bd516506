"""Shared with me (contract v2): the grants made to a reader by someone else.

- A document share or a folder share of the reader whose ``shared_by`` is another user
  (shares from before v2 record no grantor and are left out), live (not expired), on an
  item not in the trash, in the asked org.
- Newest grant first: by ``shared_at``, then kind (folders before documents), then id,
  all descending (a keyset position, like trash.list's).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from docbus.core.entities import Document, Folder
from docbus.core.values import Role


@dataclass(frozen=True, slots=True, order=True)
class SharedPosition:
    shared_at: datetime
    kind: str
    item_id: str


@dataclass(frozen=True, slots=True)
class SharedItem:
    kind: Literal["document", "folder"]
    document: Document | None
    folder: Folder | None
    role: Role
    shared_by: str
    shared_at: datetime
    expires_at: datetime | None

    @property
    def item_id(self) -> str:
        if self.document is not None:
            return self.document.doc_id
        assert self.folder is not None  # one of the two, by construction
        return self.folder.folder_id

    @property
    def position(self) -> SharedPosition:
        return SharedPosition(self.shared_at, self.kind, self.item_id)


@dataclass(frozen=True, slots=True)
class ExpiredGrant:
    """A grant past its ``expires_at``, still stored: the expiry sweeper removes it."""

    kind: Literal["document", "folder"]
    item_id: str
    """doc_id or folder_id."""
    org_id: str
    user_id: str
    role: Role
    expires_at: datetime
