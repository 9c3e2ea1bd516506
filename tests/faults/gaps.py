"""Pauses in a scenario's history: docbus's commit gap beside the suite's publisher gap.

A pause in commits can be docbus's (it had work and did none) or the load's (the suite's
own publisher was failing over and offered nothing). Two measures keep them apart:

- ``publisher_gap``: the longest time the suite's publisher went without a newly confirmed
  command, from the start of the load to its last confirm;
- ``commit_gap``: the longest time without a commit of the load while at least one
  command was *offered*: confirmed by the broker (so in its queue) and not yet committed.
  A command committed before its confirm came back counts from its commit, never before.
  Time when nothing was offered is nobody's pause of docbus's. ``raw`` is the plain
  longest pause between two commits, offered or not (the measure before issue 14's fix).

Times are wall-clock seconds (``time.time()`` on the suite's side, PostgreSQL's ``now()``
of the inbox row's transaction on docbus's: one machine, one clock).
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Gap:
    seconds: float
    start: float  # wall-clock time the pause began
    end: float

    def around(self, origin: float) -> str:
        """``1.23 s from t+4.5 to t+5.7`` (t: ``origin``, e.g. the fault)."""
        return (f"{self.seconds:.2f} s from t{self.start - origin:+.1f}"
                f" to t{self.end - origin:+.1f}")


@dataclass(frozen=True)
class CommitGaps:
    offered: Gap | None  # the judged one
    raw: Gap | None


def commit_gaps(commits: Mapping[str, float], offered: Mapping[str, float]) -> CommitGaps:
    """``commits``: message_id -> commit time; ``offered``: message_id -> first confirm time.

    Commands without a commit (dead-lettered, lost: the checker's business) are left out.
    """
    times = sorted(set(commits.values()))
    raw = None
    for before, after in itertools.pairwise(times):
        if raw is None or after - before > raw.seconds:
            raw = Gap(after - before, before, after)
    # For each command: offered from min(confirm, commit) until its commit.
    spans = sorted(
        (commit, min(offered.get(mid, commit), commit)) for mid, commit in commits.items()
    )
    # earliest[i]: the earliest offer among the commands committed at or after spans[i]
    earliest = [0.0] * len(spans)
    low = float("inf")
    for i in range(len(spans) - 1, -1, -1):
        low = min(low, spans[i][1])
        earliest[i] = low
    keys = [commit for commit, _ in spans]
    best = None
    previous: float | None = None
    for commit in times:
        # the commands still to commit at ``commit``'s moment are those committed at it
        # or later; one of them offered before it means docbus had work since then
        i = bisect.bisect_left(keys, commit)
        began = earliest[i] if previous is None else max(previous, earliest[i])
        if commit - began > 0 and (best is None or commit - began > best.seconds):
            best = Gap(commit - began, began, commit)
        previous = commit
    return CommitGaps(best, raw)


def publisher_gap(confirms: Iterable[float], started: float) -> Gap | None:
    """The longest time without a new confirm, from ``started`` to the last confirm."""
    times = sorted(t for t in confirms if t >= started)
    if not times:
        return None
    best = Gap(times[0] - started, started, times[0])
    for before, after in itertools.pairwise(times):
        if after - before > best.seconds:
            best = Gap(after - before, before, after)
    return best
