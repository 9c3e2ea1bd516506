"""The fault suite's lifecycle mix, without servers: what the plan sends and how the
checker reads the end state (tests/faults/life.py, tests/faults/life_check.py)."""

from __future__ import annotations

from collections import Counter

from tests.faults.life import NEEDS_TRASH, OPS, SETUP_KINDS, counts
from tests.faults.life_check import LifeState, doubled_life, implied_purges, life_event_key
from tests.faults.load import Command, Plan, Size


def _plan(life: int = 40) -> Plan:
    return Plan("t1", Size(200, 40, lifecycle=life))


def test_every_lifecycle_kind_is_in_the_load_spread_evenly() -> None:
    kinds = Counter(c.kind for c in _plan(43).load if c.kind in OPS)
    assert set(kinds) == set(OPS)
    assert sum(kinds.values()) == 43
    assert max(kinds.values()) - min(kinds.values()) <= 1
    assert counts(5) == dict.fromkeys(OPS[:5], 1) | dict.fromkeys(OPS[5:], 0)


def test_a_fifth_of_the_uploads_by_default() -> None:
    assert Size(200, 40).life == 40
    assert Size(200, 40, lifecycle=0).life == 0


def test_each_command_has_an_effect_of_its_own() -> None:
    effects = Counter(c.effect for c in _plan().commands)
    assert [e for e, n in effects.items() if n > 1] == []


def test_no_load_command_touches_a_lifecycle_target_but_its_own() -> None:
    plan = _plan()
    targets = Counter(c.body.get("doc_id") or c.body["folder_id"]
                      for c in plan.load if c.kind in OPS)
    assert set(targets.values()) == {1}
    others = [c for c in plan.load if c.kind not in OPS]
    touched = {c.body["doc_id"] for c in others} | {c.body.get("folder_id") for c in others}
    assert not touched & set(targets)
    inside = {f"{t}-d" for t in targets}  # the documents inside folder targets
    assert not touched & inside


def test_restores_and_purges_find_their_target_trashed_by_the_setup() -> None:
    plan = _plan()
    trashed = {c.body.get("doc_id") or c.body["folder_id"]
               for c in plan.setup if c.kind in ("dtrash", "ftrash")}
    needing = {c.body.get("doc_id") or c.body["folder_id"]
               for c in plan.load if c.kind in NEEDS_TRASH}
    assert needing and trashed == needing
    assert {c.kind for c in plan.setup} <= set(SETUP_KINDS)
    # the setup runs batch by batch (SETUP_KINDS): each needs only earlier batches
    folders = {c.body["folder_id"] for c in plan.setup if c.kind == "folder"}
    docs = {c.body["doc_id"] for c in plan.setup if c.kind == "upload"}
    assert {c.body["folder_id"] for c in plan.setup if c.kind == "upload"} <= folders
    assert {c.body["doc_id"] for c in plan.setup if c.kind == "dtrash"} <= docs
    assert {c.body["folder_id"] for c in plan.setup if c.kind == "ftrash"} <= folders


def _one(plan: Plan, kind: str) -> Command:
    return next(c for c in plan.load if c.kind == kind)


def test_an_event_names_the_effect_of_its_command() -> None:
    plan = _plan()
    rename, move, purge = _one(plan, "drename"), _one(plan, "fmove"), _one(plan, "fpurge")
    assert life_event_key({
        "type": "DocumentRenamed", "document_id": rename.body["doc_id"],
        "name": rename.body["name"], "previous_name": "x", "renamed_by": "u",
    }) == rename.effect
    assert life_event_key({
        "type": "FolderMoved", "folder_id": move.body["folder_id"], "from_parent_id": None,
        "to_parent_id": move.body["parent_id"], "moved_by": "u",
    }) == move.effect
    assert life_event_key({"type": "FolderPurged", "folder_id": purge.body["folder_id"],
                           "documents": 1, "purged_by": "u"}) == purge.effect
    assert life_event_key({"type": "DocumentUploaded"}) is None


def test_a_second_event_id_for_one_lifecycle_key_is_a_doubled_effect() -> None:
    events = {"drename:d1|n": {"e1", "e2"}, "dtrash:d2": {"e3"}, "upload:s3://b": {"e4", "e5"}}
    assert doubled_life(events) == {"drename:d1|n": 2}  # uploads are counted by their rows


def test_effects_are_read_from_the_end_state() -> None:
    plan = _plan(10)
    rename, trash, purge = _one(plan, "drename"), _one(plan, "dtrash"), _one(plan, "dpurge")
    doc = rename.body["doc_id"]
    state = LifeState()
    state.docs[doc] = ("f0", rename.body["name"], False)
    state.docs[trash.body["doc_id"]] = ("f0", "n", True)
    assert state.holds(rename)
    assert state.holds(trash)
    assert state.holds(purge)  # no row, no version, no share left
    state.docs[doc] = ("f0", "the old name", False)
    state.versions[purge.body["doc_id"]] = 1
    assert not state.holds(rename)
    assert not state.holds(purge)  # a version left behind: not purged


def test_a_setup_trash_holds_when_its_restore_does_and_purges_take_their_contents() -> None:
    plan = _plan(10)
    commands = plan.commands
    restore, fpurge = _one(plan, "frestore"), _one(plan, "fpurge")
    prep = next(c for c in plan.setup if c.kind == "ftrash"
                and c.body["folder_id"] == restore.body["folder_id"])
    state = LifeState()
    target = restore.body["folder_id"]
    state.folders[target] = (None, target, False)
    state.docs[f"{target}-d"] = (target, "n", False)
    state.settle(commands)
    assert state.holds(restore)
    assert state.holds(prep)  # trashed once, restored since
    gone = fpurge.body["folder_id"]
    assert gone in state.purged_folders
    assert f"dpurge:{gone}-d" in implied_purges(commands, state)
    state.folders[target] = (None, target, True)  # the restore did not happen
    assert not state.holds(restore)
    assert not LifeState().holds(prep)  # neither trashed nor restored since
