"""Access rules: who may do what to a document.

- A capability needs membership of the document's org; nothing crosses organisations.
- An org admin has every capability on every document of the org.
- Otherwise the user's effective role on the document decides (viewer: read; editor:
  read, write; owner: read, write, share): the highest of their live document share and
  live folder shares on its folder and above (core.access).
- A member who cannot read a document must not learn that it exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from docbus.core.access import Grant, capabilities, highest
from docbus.core.errors import CapabilityMissing, DocumentNotFound
from docbus.core.values import Capability, OrgRole, Role


@dataclass(frozen=True, slots=True)
class Access:
    """What one user holds on one document: org role, live document share (``doc_role``),
    highest live folder share on its folder or above (``folder_role``), and when the
    earliest of the live grants that make these up expires (``valid_until``)."""

    user_id: str
    org_role: OrgRole | None
    doc_role: Role | None
    folder_role: Role | None = None
    valid_until: datetime | None = None
    decided: frozenset[Capability] | None = None
    """The capabilities an AccessDecider allowed (core.decisions); the adapters always set
    it. None only for an Access built by hand: then core.access's rule."""
    grants: tuple[Grant, ...] = ()
    """The grants the decider was given (core.decisions.Question)."""

    @property
    def role(self) -> Role | None:
        """The effective role from the grants (an admin's owner aside)."""
        return highest((self.doc_role, self.folder_role))

    @property
    def capabilities(self) -> frozenset[Capability]:
        if self.decided is not None:
            return self.decided
        return capabilities(self.org_role, self.role)

    def can(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def require(self, capability: Capability, doc_id: str) -> None:
        """Raise unless allowed; without read, the document does not exist for the user."""
        if self.can(capability):
            return
        if not self.can(Capability.READ):
            raise DocumentNotFound(doc_id)
        raise CapabilityMissing(self.user_id, capability.value, doc_id)


def owners_after(owners: int, current: Role | None, new: Role | None) -> int:
    """How many owners a document keeps when one user's role goes from current to new."""
    return owners - (current is Role.OWNER) + (new is Role.OWNER)
