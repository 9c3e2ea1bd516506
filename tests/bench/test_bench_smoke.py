"""``docbus bench --smoke``: every phase runs at a tiny size and the JSON line is complete.

No timing assertions (the machine is shared and tiny runs mean little): only that every
figure and ratio is there and is a sane positive number, that every paired ratio comes
with its spread, that the run says which event loop everything ran on, that the chart was
written and that the run removed its vhost and its database.
"""

from __future__ import annotations

import asyncio
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bench import loops
from bench.infra import PG_SERVER, RABBIT_NODE
from bench.report import PAIRED_RATIOS, RATIOS, TARGETS

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN = f"{PG_SERVER}/postgres"

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

FIGURES = (
    "raw_pipeline_per_s", "raw_pipeline_cpu_ms", "raw_rpc_seq_p50_ms", "raw_rpc_seq_p99_ms",
    "raw_rpc_64_per_s", "faststream_64_per_s", "client_rpc_seq_p50_ms", "client_rpc_64_per_s",
    "upload_per_s", "share_per_s", "upload_worker_cpu_ms", "list_hit_p50_ms", "list_hit_p99_ms",
    "list_hit_64_per_s", "list_miss_p50_ms", "list_miss_p99_ms", "list_miss_64_per_s",
    "get_hit_p50_ms", "get_hit_p99_ms", "get_hit_64_per_s", "get_miss_p50_ms",
    "get_miss_p99_ms", "get_miss_64_per_s", "size_small_p50_ms", "size_medium_p50_ms",
    "size_large_p50_ms", "size_large_member_p50_ms", "stored_documents", "upload_stored_per_s",
    "rss_warm_mib", "rss_half_mib", "rss_mib", "upload_1worker_per_s",
    "upload_2workers_per_s", "elapsed_s", "raw_pipeline_paired_per_s", "list_hit_raw_p50_ms",
    "list_miss_raw_64_per_s", "get_miss_raw_p99_ms", "size_large_raw_p50_ms",
    "rename_per_s", "move_per_s", "trash_per_s", "raw_pipeline_life_per_s",
    "subtree_move_small_p50_ms", "subtree_move_large_p50_ms", "subtree_trash_large_p50_ms",
    "subtree_restore_large_p50_ms", "subtree_rename_large_p50_ms", "subtree_list_large_p50_ms",
    "upload_tracing_off_per_s", "upload_tracing_discard_per_s", "tracing_off_traced_ns",
    "stream_rabbit_per_s", "stream_stream_per_s", "stream_both_per_s", "stream_events",
    "search_documents", "search_seed_s", "search_admin_p50_ms", "search_member_p50_ms",
    "search_admin_raw_p50_ms", "search_member_raw_p50_ms",
    "share_inherited_list_small_p50_ms", "share_inherited_list_large_p50_ms",
    "folder_share_large_p50_ms", "folder_unshare_large_p50_ms", "explain_p50_ms",
    "explain_raw_p50_ms", "with_me_p50_ms", "with_me_raw_p50_ms",
    "builtin_rename_p50_ms", "cerbos_rename_p50_ms", "builtin_rename_64_per_s",
    "cerbos_rename_64_per_s", "builtin_list_p50_ms", "cerbos_list_p50_ms",
)
REQUIRED_RATIOS = (
    "upload_ratio", "share_ratio", "list_hit_p50_ratio", "list_hit_p99_ratio",
    "list_miss_p50_ratio", "list_64_ratio", "client_vs_faststream_ratio", "size_latency_ratio",
    "upload_2workers_ratio", "rename_ratio", "move_ratio", "trash_ratio", "subtree_op_ratio",
    "subtree_list_ratio", "upload_tracing_ratio", "stream_both_ratio",
    "search_admin_p50_ratio", "search_member_p50_ratio",
    "share_inherited_list_ratio", "folder_share_op_ratio", "explain_p50_ratio",
    "with_me_p50_ratio",
    "cerbos_command_p50_ratio", "cerbos_command_64_ratio", "cerbos_list_p50_ratio",
)


def _database_exists(name: str) -> bool:
    async def query() -> bool:
        conn = await asyncpg.connect(PG_ADMIN, timeout=5)
        try:
            found = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        finally:
            await conn.close()
        return found is not None

    return asyncio.run(query())


def _vhosts() -> set[str]:
    ctl = shutil.which("rabbitmqctl")
    assert ctl is not None
    node = ["-n", RABBIT_NODE] if RABBIT_NODE else []
    done = subprocess.run([ctl, *node, "-q", "list_vhosts"], capture_output=True, text=True,
                          timeout=60, check=True)
    return {line.strip() for line in done.stdout.splitlines()[1:]}


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One ``python -m bench --smoke`` run; skipped when the servers are not there."""
    if shutil.which("rabbitmqctl") is None:
        pytest.skip("rabbitmqctl not found: the bench creates its own vhost")
    try:
        _database_exists("postgres")
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.skip(f"PostgreSQL is not reachable: {exc!r}")
    chart = tmp_path_factory.mktemp("bench") / "chart.png"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--chart", str(chart)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-3000:]
    line = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "line": line, "chart": chart, "stdout": done.stdout,
        "database_left": _database_exists(line["meta"]["database"]),
        "vhost_left": line["meta"]["vhost"] in _vhosts(),
    }


def test_the_last_line_holds_every_figure_and_ratio(smoke_run: dict[str, Any]) -> None:
    line = smoke_run["line"]
    expected = {*FIGURES, *REQUIRED_RATIOS, *RATIOS, *(t.key for t in TARGETS)}
    assert expected <= line.keys(), sorted(expected - line.keys())
    for key in expected:
        value = line[key]
        assert isinstance(value, int | float), key
        assert math.isfinite(value), key
        if key != "rss_growth_pct":  # RSS may even shrink between the halves
            assert value > 0, key
    assert line["bench"] == "docbus"
    assert line["targets_total"] == len(TARGETS)
    assert line["meta"]["mode"] == "smoke"


def test_every_paired_ratio_is_a_median_between_its_extremes(
    smoke_run: dict[str, Any],
) -> None:
    line = smoke_run["line"]
    assert line["meta"]["repetitions"] >= 3
    for key in PAIRED_RATIOS:
        assert 0 < line[f"{key}_min"] <= line[key] <= line[f"{key}_max"], key


def test_one_event_loop_for_the_worker_the_baselines_and_the_clients(
    smoke_run: dict[str, Any],
) -> None:
    # the run checks each process against it and fails on a mismatch
    assert smoke_run["line"]["meta"]["event_loop"] == loops.resolve(loops.configured())
    assert f"event loop: {smoke_run['line']['meta']['event_loop']}" in smoke_run["stdout"]


def test_the_numbers_are_sane(smoke_run: dict[str, Any]) -> None:
    line = smoke_run["line"]
    assert line["raw_rpc_seq_p50_ms"] <= line["raw_rpc_seq_p99_ms"]
    assert line["list_hit_p50_ms"] <= line["list_hit_p99_ms"]
    assert line["size_small_docs"] < line["size_medium_docs"] < line["size_large_docs"]
    assert line["stored_documents"] >= 3000
    assert 10 < line["rss_mib"] < 4096
    assert line["list_page_documents"] == 50
    assert line["search_documents"] == 2000
    assert line["share_small_docs"] < line["share_large_docs"]
    assert line["share_depth"] == 5
    assert line["subtree_small_docs"] < line["subtree_large_docs"]
    assert line["subtree_op_ratio"] == max(
        line[f"subtree_{op}_ratio"] for op in ("move", "rename", "trash", "restore")
    )


def test_the_chart_is_a_png(smoke_run: dict[str, Any]) -> None:
    assert smoke_run["chart"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_nothing_is_left_behind(smoke_run: dict[str, Any]) -> None:
    assert smoke_run["line"]["meta"]["database"].startswith("docbus_bench_")
    assert not smoke_run["database_left"]
    assert not smoke_run["vhost_left"]
