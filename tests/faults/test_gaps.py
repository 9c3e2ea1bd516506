"""The gap measures of tests/faults/gaps.py (no servers)."""

from __future__ import annotations

import pytest

from tests.faults.gaps import commit_gaps, publisher_gap


def test_a_pause_with_work_offered_is_docbus_s() -> None:
    # a, b offered at 0 and 1; b waits until 9 for its commit: 8 s with work offered
    gaps = commit_gaps({"a": 0.5, "b": 9.0}, {"a": 0.0, "b": 1.0})
    assert gaps.offered is not None and gaps.raw is not None
    assert gaps.offered.seconds == pytest.approx(8.0)
    assert (gaps.offered.start, gaps.offered.end) == (1.0, 9.0)
    assert gaps.raw.seconds == pytest.approx(8.5)


def test_a_pause_with_nothing_offered_is_not_counted() -> None:
    # the publisher stalled: b was confirmed only at 8.8 and committed at 9.0
    gaps = commit_gaps({"a": 0.5, "b": 9.0}, {"a": 0.0, "b": 8.8})
    assert gaps.offered is not None and gaps.raw is not None
    assert gaps.offered.seconds == pytest.approx(0.5)  # a: offered at 0, committed at 0.5
    assert gaps.raw.seconds == pytest.approx(8.5)


def test_the_pause_counts_from_the_earliest_offer_still_waiting() -> None:
    commits = {"a": 1.0, "b": 2.0, "c": 10.0, "d": 10.0}
    offered = {"a": 0.9, "b": 1.9, "c": 5.0, "d": 3.0}  # d waits from 3
    gaps = commit_gaps(commits, offered)
    assert gaps.offered is not None
    assert (gaps.offered.start, gaps.offered.end) == (3.0, 10.0)


def test_a_commit_before_its_confirm_counts_from_the_commit() -> None:
    # the confirm came back late: the command was committed before it
    gaps = commit_gaps({"a": 1.0, "b": 1.2}, {"a": 0.9, "b": 4.0})
    assert gaps.offered is not None and gaps.raw is not None
    assert gaps.offered.seconds == pytest.approx(0.1)  # a's; nothing known offered after
    assert gaps.raw.seconds == pytest.approx(0.2)


def test_no_commit_no_gap() -> None:
    gaps = commit_gaps({}, {"a": 1.0})
    assert gaps.offered is None and gaps.raw is None


def test_the_publisher_gap_runs_from_the_load_start() -> None:
    gap = publisher_gap([1.0, 1.1, 1.2, 5.2, 5.3], started=0.5)
    assert gap is not None
    assert gap.seconds == pytest.approx(4.0)
    assert (gap.start, gap.end) == (1.2, 5.2)
    late = publisher_gap([7.0, 7.1], started=0.0)
    assert late is not None and late.seconds == pytest.approx(7.0)
    assert publisher_gap([], started=0.0) is None
