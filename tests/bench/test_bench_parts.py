"""The bench's own rules, without servers: paired repetitions, the loop, the chart's place."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from bench import loops
from bench.events import docbus_key, moved_key, renamed_key, trashed_key
from bench.lifecycle import layout
from bench.paired import Side, chunks, latency_ratio, ratio, repeat, spread
from bench.report import json_line, with_ratios
from bench.runner import DOCBUS_PHASES, chart_path, phases
from bench.stats import BenchError

ROOT = Path(__file__).resolve().parents[2]


def test_repetitions_alternate_the_order_of_the_sides() -> None:
    order: list[str] = []

    def side(name: str, value: float) -> Side:
        async def run(rep: int) -> Mapping[str, float]:
            order.append(f"{name}{rep}")
            return {name: value + rep}

        return run

    samples = asyncio.run(repeat(3, [side("raw", 10.0), side("ours", 5.0)]))
    assert order == ["raw0", "ours0", "ours1", "raw1", "raw2", "ours2"]
    assert samples == {"raw": [10.0, 11.0, 12.0], "ours": [5.0, 6.0, 7.0]}


def test_a_ratio_is_taken_within_each_repetition_then_summarised() -> None:
    samples = {"ours": [1.0, 4.0, 3.0], "raw": [2.0, 4.0, 10.0]}
    # per repetition 0.5, 1.0, 0.3: not 8 / 16 (the ratio of the sums) nor of the medians
    assert ratio("r", samples, "ours", "raw") == {"r": 0.5, "r_min": 0.3, "r_max": 1.0}


def test_spread_needs_samples() -> None:
    assert spread("r", [2.0, 1.0, 3.0, 4.0]) == {"r": 2.5, "r_min": 1.0, "r_max": 4.0}
    with pytest.raises(BenchError):
        spread("r", [])


def test_chunks_cover_every_sample_once() -> None:
    parts = chunks(list(range(10)), 3)
    assert [len(p) for p in parts] == [3, 4, 3]
    assert [x for p in parts for x in p] == list(range(10))


def test_latency_ratios_pair_chunk_with_chunk() -> None:
    ours = [2.0] * 10 + [6.0] * 10 + [3.0] * 10
    raw = [1.0] * 10 + [2.0] * 10 + [3.0] * 10
    figures = latency_ratio("p", ours, raw, 50, 3)
    assert figures == {"p": 2.0, "p_min": 1.0, "p_max": 3.0}
    with pytest.raises(BenchError):
        latency_ratio("p", ours, raw[:-1], 50, 3)


def test_loop_choices_resolve_as_the_workers_do() -> None:
    assert loops.resolve("asyncio") == "asyncio"
    assert loops.resolve("auto") == loops.resolve("uvloop") == "uvloop"  # uvloop is installed
    with pytest.raises(BenchError):
        loops.resolve("trio")


def test_the_loop_actually_running_is_named() -> None:
    async def name() -> str:
        return loops.running()

    assert loops.run(name(), "asyncio") == "asyncio"
    assert loops.run(name(), "uvloop") == "uvloop"


def test_a_process_loop_is_read_off_its_mapped_libraries() -> None:
    import uvloop  # noqa: F401 - mapped into this process

    assert loops.mapped_in(os.getpid()) == "uvloop"
    plain = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    try:
        assert loops.mapped_in(plain.pid) == "asyncio"
    finally:
        plain.communicate(b"")


def test_a_mismatch_stops_the_run() -> None:
    loops.check("the raw pipeline", "uvloop", "uvloop")
    with pytest.raises(BenchError, match="runs on asyncio"):
        loops.check("the raw pipeline", "asyncio", "uvloop")


def test_the_chart_stays_out_of_the_repository_unless_asked() -> None:
    default = chart_path(None)
    assert ROOT not in default.parents
    assert default.parent.is_dir()
    default.parent.rmdir()
    assert chart_path(ROOT / "docs" / "x.png") == ROOT / "docs" / "x.png"


def test_a_subtree_holds_half_its_documents_in_its_leaf_the_rest_spread() -> None:
    subfolders = [f"c{i}" for i in range(100)]
    big = layout(subfolders, 100_000)
    assert sum(big.values()) == 100_000
    assert big["c0"] == 50_000
    assert {n for f, n in big.items() if f != "c0"} == {505, 506}
    small = layout(subfolders, 100)
    assert sum(small.values()) == 100 and small["c0"] == 50
    assert layout(["only"], 7) == {"only": 7}


def test_lifecycle_events_are_keyed_like_the_commands_that_wait_for_them() -> None:
    renamed = {"document_id": "d1", "name": "n.pdf", "previous_name": "o", "renamed_by": "u"}
    moved = {"document_id": "d1", "from_folder_id": "a", "to_folder_id": "b", "moved_by": "u"}
    assert docbus_key("document.renamed", renamed) == renamed_key("d1", "n.pdf")
    assert docbus_key("document.moved", moved) == moved_key("d1", "b")
    assert docbus_key("document.trashed", {"document_id": "d1"}) == trashed_key("d1")
    assert docbus_key("document.restored", {"document_id": "d1"}) is None


def test_the_search_vocabulary_and_query_are_fixed_and_fit_the_words_rule() -> None:
    from bench.search import VOCABULARY, query_text, rows_read, vocabulary
    from docbus.core.search import words

    vocab = vocabulary()
    assert len(set(vocab)) == VOCABULARY and vocab == vocabulary()  # the same every run
    assert all(words(w) == (w,) for w in vocab)
    median, prefix = query_text(vocab).split()
    assert median == vocab[VOCABULARY // 2 - 1] and vocab[0].startswith(prefix)
    assert len(prefix) == 3
    plan = {"Relation Name": "documents", "Actual Rows": 5, "Actual Loops": 2,
            "Rows Removed by Filter": 3, "Plans": [
                {"Relation Name": "folders", "Actual Rows": 9},
                {"Node Type": "Bitmap Heap Scan", "Plans": [
                    {"Relation Name": "documents", "Actual Rows": 1}]}]}
    assert rows_read(plan) == 5 * 2 + 3 * 2 + 1


def test_only_runs_the_warm_up_and_the_phases_named() -> None:
    assert phases(None) == DOCBUS_PHASES
    assert [name for name, _ in phases("sharing")] == [
        "docbus warm-up", "sharing at scale (folder shares five levels up)"]
    with pytest.raises(BenchError, match="no phase named like"):
        phases("no such phase")


def test_a_partial_run_reports_the_targets_it_measured() -> None:
    figures = with_ratios({"explain_p50_ratio": 2.0, "with_me_p50_ratio": 4.0})
    line = json.loads(json_line(figures, {}))
    assert (line["targets_met"], line["targets_total"]) == (1, 2)
