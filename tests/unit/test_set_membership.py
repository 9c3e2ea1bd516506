"""SetMembership and RemoveMembership through the bus."""

from __future__ import annotations

from docbus.core.values import OrgRole
from tests.unit.conftest import ADA, BOB, NOBODY, World


async def test_setting_a_membership_makes_the_user_a_member(world: World) -> None:
    outcome = await world.set_member(NOBODY)
    assert outcome.decoded == {"ok": True, "data": {
        "org_id": "acme", "user_id": NOBODY, "role": "member",
    }}
    assert world.db.state.memberships[("acme", NOBODY)] is OrgRole.MEMBER


async def test_a_membership_change_emits_membership_changed(world: World) -> None:
    await world.set_member(BOB, OrgRole.ADMIN)
    assert world.routing_keys == ["org.member.changed"]
    [event] = world.events
    assert {k: v for k, v in event.items() if k != "event_id"} == {
        "type": "MembershipChanged", "org_id": "acme",
        "occurred_at": "2026-11-24T10:00:00.000000Z", "user_id": BOB, "role": "admin",
    }


async def test_setting_the_role_already_held_changes_nothing_and_emits_nothing(
    world: World,
) -> None:
    outcome = await world.set_member(ADA, OrgRole.ADMIN)
    assert outcome.decoded["data"]["role"] == "admin"
    assert world.events == []


async def test_removing_a_membership_replies_role_null_and_emits_role_null(world: World) -> None:
    outcome = await world.remove_member(BOB)
    assert outcome.decoded == {"ok": True, "data": {"org_id": "acme", "user_id": BOB, "role": None}}
    assert ("acme", BOB) not in world.db.state.memberships
    assert world.routing_keys == ["org.member.changed"]
    assert world.events[0]["role"] is None
    assert world.events[0]["user_id"] == BOB


async def test_removing_a_membership_that_does_not_exist_is_a_no_op_without_event(
    world: World,
) -> None:
    outcome = await world.remove_member(NOBODY)
    assert outcome.decoded["data"] == {"org_id": "acme", "user_id": NOBODY, "role": None}
    assert world.events == []


async def test_a_membership_in_one_org_leaves_the_others_alone(world: World) -> None:
    await world.set_member(BOB, OrgRole.ADMIN, org_id="globex")
    assert world.db.state.memberships[("acme", BOB)] is OrgRole.MEMBER
    assert world.db.state.memberships[("globex", BOB)] is OrgRole.ADMIN
    assert world.events[0]["org_id"] == "globex"
