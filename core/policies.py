"""Access rules: who may do what to a document.

- A capability needs membership of the document's org; nothing crosses organisations.
- An org admin has every capability on every document of the org.
- Otherwise the user's role on the document decides (viewer: read; editor: read, write;
  owner: read, write, share).
- A member who cannot read a document must not learn that it exists.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import CapabilityMissing, DocumentNotFound
from core.values import ALL_CAPABILITIES, Capability, OrgRole, Role


@dataclass(frozen=True, slots=True)
class Access:
    """What one user holds on one document: org role and document role."""

    user_id: str
    org_role: OrgRole | None
    doc_role: Role | None

    @property
    def capabilities(self) -> frozenset[Capability]:
        if self.org_role is None:
            return frozenset()
        if self.org_role is OrgRole.ADMIN:
            return ALL_CAPABILITIES
        return self.doc_role.capabilities if self.doc_role else frozenset()

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
