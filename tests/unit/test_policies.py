"""Access rules: what each role and an org admin may do, and how refusals are worded."""

from __future__ import annotations

import pytest

from docbus.core.errors import CapabilityMissing, DocumentNotFound, Forbidden
from docbus.core.policies import Access, owners_after
from docbus.core.values import Capability, OrgRole, Role

READ, WRITE, SHARE = Capability.READ, Capability.WRITE, Capability.SHARE


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (Role.VIEWER, {READ}),
        (Role.EDITOR, {READ, WRITE}),
        (Role.OWNER, {READ, WRITE, SHARE}),
    ],
)
def test_a_member_holds_exactly_the_capabilities_of_their_role(
    role: Role, expected: set[Capability]
) -> None:
    assert Access("u", OrgRole.MEMBER, role).capabilities == expected


def test_a_member_without_a_role_holds_nothing() -> None:
    assert Access("u", OrgRole.MEMBER, None).capabilities == frozenset()


@pytest.mark.parametrize("role", [None, Role.VIEWER])
def test_an_org_admin_holds_every_capability_whatever_their_role(role: Role | None) -> None:
    assert Access("u", OrgRole.ADMIN, role).capabilities == {READ, WRITE, SHARE}


@pytest.mark.parametrize("role", [None, *Role])
def test_a_non_member_holds_nothing_even_with_a_role(role: Role | None) -> None:
    access = Access("u", None, role)
    assert access.capabilities == frozenset()
    assert not any(access.can(c) for c in Capability)


def test_viewer_cannot_write_or_share() -> None:
    access = Access("u", OrgRole.MEMBER, Role.VIEWER)
    assert access.can(READ)
    assert not access.can(WRITE)
    assert not access.can(SHARE)


def test_require_passes_silently_when_allowed() -> None:
    Access("u", OrgRole.MEMBER, Role.OWNER).require(SHARE, "d1")


@pytest.mark.parametrize(("org_role", "role"), [(OrgRole.MEMBER, None), (None, Role.OWNER)])
def test_require_without_read_says_the_document_does_not_exist(
    org_role: OrgRole | None, role: Role | None
) -> None:
    with pytest.raises(DocumentNotFound) as raised:
        Access("u", org_role, role).require(WRITE, "d1")
    assert raised.value.code == "not_found"
    assert "d1" in raised.value.message


@pytest.mark.parametrize(("role", "capability"), [(Role.VIEWER, WRITE), (Role.EDITOR, SHARE)])
def test_require_with_read_but_not_the_capability_is_forbidden(
    role: Role, capability: Capability
) -> None:
    with pytest.raises(CapabilityMissing) as raised:
        Access("u", OrgRole.MEMBER, role).require(capability, "d1")
    assert isinstance(raised.value, Forbidden)
    assert raised.value.code == "forbidden"
    assert raised.value.message == f"user u may not {capability.value} document d1"


@pytest.mark.parametrize(
    ("owners", "current", "new", "after"),
    [
        (1, Role.OWNER, None, 0),
        (1, Role.OWNER, Role.EDITOR, 0),
        (1, Role.OWNER, Role.OWNER, 1),
        (2, Role.OWNER, Role.VIEWER, 1),
        (1, None, Role.OWNER, 2),
        (1, Role.EDITOR, Role.OWNER, 2),
        (1, Role.VIEWER, None, 1),
        (0, None, None, 0),
    ],
)
def test_owners_after_counts_the_owners_left_by_one_role_change(
    owners: int, current: Role | None, new: Role | None, after: int
) -> None:
    assert owners_after(owners, current, new) == after
