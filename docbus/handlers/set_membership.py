"""SetMembership and RemoveMembership (membership comes from the identity service).

- Setting the role already held, or removing a membership that does not exist, changes
  nothing and emits nothing.
- A change takes effect for the very next command, and invalidates every cached reply
  the user was given.
- Emits MembershipChanged (role null when removed).
"""

from __future__ import annotations

from dataclasses import dataclass

from docbus.core.entities import Membership
from docbus.core.events import MembershipChanged
from docbus.core.ports import Clock, IdGenerator, Json, UnitOfWork
from docbus.core.values import CacheScope, OrgRole
from docbus.core.views import membership_view


@dataclass(frozen=True, slots=True)
class SetMembership:
    org_id: str
    user_id: str
    role: OrgRole


@dataclass(frozen=True, slots=True)
class RemoveMembership:
    org_id: str
    user_id: str


class SetMembershipHandler:
    def __init__(self, clock: Clock, ids: IdGenerator) -> None:
        self._clock = clock
        self._ids = ids

    async def __call__(self, cmd: SetMembership | RemoveMembership, uow: UnitOfWork) -> Json:
        membership = Membership(cmd.org_id, cmd.user_id, getattr(cmd, "role", None))
        before = await uow.memberships.put(membership)
        if before is not membership.role:
            event = MembershipChanged(
                event_id=self._ids.new_id(),
                org_id=cmd.org_id,
                occurred_at=self._clock.now(),
                user_id=cmd.user_id,
                role=membership.role,
            )
            uow.emit(event, [CacheScope.user(cmd.user_id)])
        return membership_view(membership)
