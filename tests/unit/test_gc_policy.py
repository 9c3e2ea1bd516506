"""The worker's GC policy: what exists at start-up is frozen, the thresholds applied."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from docbus.consumers import gc_policy
from docbus.consumers.settings import Settings


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def test_settling_freezes_what_lives_and_sets_the_thresholds(restored_gc: None) -> None:
    built = [[n] for n in range(10)]  # stands for the object graph (tracked containers)
    gc_policy.settle((12_345, 7, 3))
    assert gc.get_threshold() == (12_345, 7, 3)
    assert gc.get_freeze_count() >= len(built)
    walked = {id(o) for generation in range(3) for o in gc.get_objects(generation=generation)}
    assert not walked & {id(o) for o in built}  # no collection walks them any more


def test_without_freeze_nothing_is_frozen(restored_gc: None) -> None:
    gc.unfreeze()
    gc_policy.settle((700, 10, 10), freeze=False)
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == (700, 10, 10)


def test_the_thresholds_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().worker.gc_thresholds == (10_000, 20, 20)
    monkeypatch.setenv("DOCBUS_GC_THRESHOLDS", "[700, 10, 10]")
    monkeypatch.setenv("DOCBUS_GC_FREEZE", "false")
    worker = Settings().worker
    assert (worker.gc_thresholds, worker.gc_freeze) == ((700, 10, 10), False)
    monkeypatch.setenv("DOCBUS_GC_THRESHOLDS", "[-1, 10, 10]")
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        Settings()
