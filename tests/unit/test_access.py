"""core.access: the access model of contract v2, section 1, on its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from docbus.core.access import Grant, capabilities, effective_role, live_grants, valid_until
from docbus.core.values import Capability, OrgRole, Role

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)


def test_the_highest_live_grant_wins_wherever_it_comes_from() -> None:
    grants = [Grant(Role.VIEWER), Grant(Role.EDITOR, "folder", "f-top")]
    assert effective_role(OrgRole.MEMBER, grants, NOW) is Role.EDITOR


def test_a_grant_counts_for_nothing_from_its_expiry_on() -> None:
    owner_until_now = Grant(Role.OWNER, "folder", "f", NOW)
    assert effective_role(OrgRole.MEMBER, [owner_until_now, Grant(Role.VIEWER)], NOW) is Role.VIEWER
    just_before = NOW - timedelta(microseconds=1)
    assert effective_role(OrgRole.MEMBER, [owner_until_now], just_before) is Role.OWNER
    assert effective_role(OrgRole.MEMBER, [owner_until_now], NOW) is None


def test_admins_hold_owner_and_non_members_nothing() -> None:
    assert effective_role(OrgRole.ADMIN, [], NOW) is Role.OWNER
    assert effective_role(None, [Grant(Role.OWNER)], NOW) is None
    assert capabilities(None, Role.OWNER) == frozenset()
    assert capabilities(OrgRole.ADMIN, None) == frozenset(Capability)


def test_capabilities_follow_the_role() -> None:
    assert capabilities(OrgRole.MEMBER, Role.VIEWER) == {Capability.READ}
    assert capabilities(OrgRole.MEMBER, Role.EDITOR) == {Capability.READ, Capability.WRITE}
    assert capabilities(OrgRole.MEMBER, None) == frozenset()


def test_live_grants_come_highest_first_documents_before_folders() -> None:
    grants = [
        Grant(Role.VIEWER, "folder", "f1"),
        Grant(Role.OWNER, "folder", "f2", LATER),
        Grant(Role.OWNER),
        Grant(Role.EDITOR, "folder", "f3", NOW),  # expired
    ]
    assert live_grants(grants, NOW) == [grants[2], grants[1], grants[0]]


def test_a_decision_holds_until_the_first_live_expiry() -> None:
    grants = [Grant(Role.VIEWER, expires_at=LATER), Grant(Role.EDITOR, "folder", "f", NOW)]
    assert valid_until(grants, NOW) == LATER
    assert valid_until([Grant(Role.VIEWER)], NOW) is None
