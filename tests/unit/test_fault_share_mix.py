"""The fault suite's folder share mix, without servers: what the plan sends
(tests/faults/share_load.py) and how its effects are read back."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from tests.faults.load import Plan, Size
from tests.faults.share_load import (
    EXPIRING,
    KINDS,
    SETUP_KIND,
    ShareMix,
    ShareState,
    default_count,
    event_key,
    key,
    pair,
)


def _mix(count: int = 10) -> tuple[Plan, ShareMix]:
    plan = Plan("t1", Size(200, 40, lifecycle=0))
    return plan, ShareMix(plan, count)


def test_shares_unshares_and_expiring_shares_each_on_a_pair_of_their_own() -> None:
    plan, mix = _mix(25)  # more pairs than one folder has users
    mix.expiring(datetime.now(UTC) + timedelta(seconds=5))
    kinds = Counter(c.kind for c in plan.commands if c.kind in KINDS)
    assert kinds == {"fshare": 25, "funshare": 25, SETUP_KIND: 25, EXPIRING: 25}
    load = Counter(pair(c) for c in plan.load if c.kind in KINDS)
    setup = Counter(pair(c) for c in plan.setup if c.kind in KINDS)
    assert set(load.values()) == set(setup.values()) == {1}
    unshared = {pair(c) for c in plan.load if c.kind == "funshare"}
    assert unshared == {pair(c) for c in plan.setup if c.kind == SETUP_KIND}
    assert not (set(load) - unshared) & set(setup)
    assert [e for e, n in Counter(c.effect for c in plan.commands).items() if n > 1] == []


def test_the_setup_makes_the_folders_the_shares_need_and_the_sharer_owns_them() -> None:
    plan, mix = _mix()
    made = {c.body["folder_id"] for c in plan.setup if c.kind == "folder"}
    assert set(mix.folders) <= made
    for cmd in plan.commands:
        if cmd.kind in KINDS:
            assert cmd.body["folder_id"] in mix.folders
            assert (cmd.body.get("shared_by") or cmd.body["revoked_by"]) == plan.users[0]
            assert (cmd.body.get("shared_with") or cmd.body["user_id"]) in plan.users[1:]


def test_load_shares_never_expire_during_a_run_and_expiring_ones_do() -> None:
    plan, mix = _mix()
    until = datetime.now(UTC) + timedelta(seconds=4)
    expiring = mix.expiring(until)
    assert expiring and all(c in plan.setup for c in expiring)
    assert {c.body["expires_at"] for c in expiring} == {until.isoformat()}
    far = [datetime.fromisoformat(c.body["expires_at"]) for c in plan.load
           if c.kind == "fshare" and "expires_at" in c.body]
    assert len(far) == 5 and min(far) > datetime.now(UTC) + timedelta(days=6)


def test_a_quarter_of_the_document_shares_of_each_kind() -> None:
    assert default_count(40) == 10
    assert default_count(0) == 1


def test_events_report_the_keys_of_the_commands_effects() -> None:
    base = {"folder_id": "f", "event_id": "e"}
    assert event_key({**base, "type": "FolderShared", "shared_with": "u"}) == "fshare:f|u"
    assert event_key({**base, "type": "FolderUnshared", "user_id": "u"}) == "funshare:f|u"
    assert event_key({**base, "type": "FolderShareExpired", "user_id": "u"}) == "fexpire:f|u"
    assert event_key({**base, "type": "FolderCreated"}) is None


def test_an_effect_holds_by_the_end_state() -> None:
    plan, mix = _mix(2)
    mix.expiring(datetime.now(UTC) + timedelta(seconds=4))
    by_kind = {c.kind: c for c in plan.commands if c.kind in KINDS}
    share, unshare = by_kind["fshare"], by_kind["funshare"]
    setup, expiring = by_kind[SETUP_KIND], by_kind[EXPIRING]
    role = share.body["role"]
    state = ShareState(rows={pair(share): role})
    assert state.holds(share) and state.holds(unshare)
    upload = next(c for c in plan.load if c.kind == "upload")
    assert state.holds(upload) is None  # not one of the mix
    assert not ShareState(rows={pair(share): "owner"}).holds(share)  # another role
    assert not ShareState().holds(share)
    assert not ShareState(rows={pair(unshare): "viewer"}).holds(unshare)
    # the setup share and the expiring one are gone by the end: their removal's event
    assert not ShareState().holds(setup)
    assert ShareState(audited={key("funshare", *pair(setup))}).holds(setup)
    assert not ShareState().holds(expiring)
    assert ShareState(audited={key("fexpire", *pair(expiring))}).holds(expiring)
    assert ShareState().expiries([share, expiring]) == {key("fexpire", *pair(expiring))}
