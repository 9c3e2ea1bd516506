"""The access model of contract v2 (section 1) as a pure function over grants.

- A grant is a document share or a folder share: a role and an optional ``expires_at``.
- A member's effective role on a document is the highest of their live grants on the
  document, on its folder and on every folder above it; on a folder, the highest of
  their live grants on it and above it.
- A grant whose ``expires_at`` is at or before ``now`` counts for nothing.
- An org admin holds ``owner`` on everything of the org; a non-member holds nothing.
- A decision that used expiring grants holds only until the earliest of their expiries.

Adapters gather the grants (PostgreSQL evaluates the same rule in SQL, inside the unit);
this module decides, without I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from docbus.core.values import ALL_CAPABILITIES, Capability, OrgRole, Role

RANK = {Role.VIEWER: 1, Role.EDITOR: 2, Role.OWNER: 3}
Source = Literal["document", "folder", "org_admin"]


@dataclass(frozen=True, slots=True)
class Grant:
    """One share: on the document itself (``folder_id`` None) or on a folder; or, as
    ``org_admin``, the owner role every admin of the org holds."""

    role: Role
    source: Source = "document"
    folder_id: str | None = None
    expires_at: datetime | None = None

    def live(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at > now


def live_grants(grants: Iterable[Grant], now: datetime) -> list[Grant]:
    """The grants that still count, highest role first (then an admin's, a document's,
    a folder's; then the one that lasts longest: the order Explanation lists them in)."""
    live = [g for g in grants if g.live(now)]
    return sorted(live, key=_order)


SOURCES = {"org_admin": 0, "document": 1, "folder": 2}


def _order(grant: Grant) -> tuple[int, int, float, str]:
    lasts = grant.expires_at.timestamp() if grant.expires_at else float("inf")
    return (-RANK[grant.role], SOURCES[grant.source], -lasts, grant.folder_id or "")


def highest(roles: Iterable[Role | None]) -> Role | None:
    held = [r for r in roles if r is not None]
    return max(held, key=RANK.__getitem__) if held else None


def effective_role(org_role: OrgRole | None, grants: Iterable[Grant], now: datetime) -> Role | None:
    """The member's role through the grants; owner for an admin; None for a non-member."""
    if org_role is None:
        return None
    if org_role is OrgRole.ADMIN:
        return Role.OWNER
    return highest(g.role for g in grants if g.live(now))


def capabilities(org_role: OrgRole | None, role: Role | None) -> frozenset[Capability]:
    """What an (already effective) role allows a user with this org role."""
    if org_role is None:
        return frozenset()
    if org_role is OrgRole.ADMIN:
        return ALL_CAPABILITIES
    return role.capabilities if role else frozenset()


def valid_until(grants: Iterable[Grant], now: datetime) -> datetime | None:
    """The earliest expiry among the live grants: when a decision over them may change by
    itself (None: not before some write)."""
    ends = [g.expires_at for g in grants if g.live(now) and g.expires_at is not None]
    return min(ends) if ends else None


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a user may do what on a document (contract v2, access.explain)."""

    role: Role | None
    capabilities: tuple[Capability, ...]
    grants: tuple[Grant, ...]


ORDERED_CAPABILITIES = (Capability.READ, Capability.WRITE, Capability.SHARE)


def explain(org_role: OrgRole | None, grants: Iterable[Grant], now: datetime) -> Explanation:
    """The effective role from the grants that apply (a non-member: none at all), with
    its capabilities and those grants, highest first."""
    if org_role is None:
        return Explanation(None, (), ())
    live = live_grants(grants, now)
    if org_role is OrgRole.ADMIN and not any(g.source == "org_admin" for g in live):
        live = live_grants([Grant(Role.OWNER, "org_admin"), *live], now)
    role = effective_role(org_role, live, now)
    held = capabilities(org_role, role)
    return Explanation(role, tuple(c for c in ORDERED_CAPABILITIES if c in held), tuple(live))
