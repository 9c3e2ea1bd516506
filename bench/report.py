"""The ratios and targets, the rich tables and the one JSON line."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

Figures = Mapping[str, float]


@dataclass(frozen=True, slots=True)
class Target:
    """A goal of the issue: ``key`` (a ratio or a figure) compared with ``goal``."""

    key: str
    goal: float
    at_least: bool
    label: str

    def met(self, figures: Figures) -> bool:
        value = figures[self.key]
        return value >= self.goal if self.at_least else value <= self.goal

    def margin(self, figures: Figures) -> float:
        """How far from the goal, as a factor: >= 1 means met (e.g. 1.25: 25% to spare)."""
        value = figures[self.key]
        if self.at_least:
            return value / self.goal
        return self.goal / value if value > 0 else math.inf


TARGETS = (
    Target("upload_ratio", 0.40, True, "upload/s over raw consume-publish-ack msgs/s"),
    Target("share_ratio", 0.40, True, "share/s over raw consume-publish-ack msgs/s"),
    Target("list_hit_p50_ratio", 1.5, False, "folder.list hit p50 over raw RPC p50"),
    Target("list_hit_p99_ratio", 2.5, False, "folder.list hit p99 over raw RPC p99"),
    Target("list_miss_p50_ratio", 3.0, False, "folder.list miss p50 over raw RPC p50"),
    Target("list_64_ratio", 0.5, True, "folder.list req/s at 64 in flight over raw RPC"),
    Target("client_vs_faststream_ratio", 3.0, True, "docbus client over broker.request"),
    Target("size_latency_ratio", 1.3, False, "first page, largest over smallest folder"),
    Target("subtree_op_ratio", 2.0, False,
           "worst subtree move/trash/restore/rename reply, largest over smallest subtree"),
    Target("subtree_list_ratio", 1.3, False,
           "first page after an ancestor's trash and restore, largest over smallest"),
    Target("share_inherited_list_ratio", 1.3, False,
           "first page via a folder share five levels up, largest over smallest folder"),
    Target("folder_share_op_ratio", 2.0, False,
           "worse of folder.share/unshare reply, largest over smallest subtree"),
    Target("explain_p50_ratio", 3.0, False, "access.explain p50 over raw RPC p50"),
    Target("with_me_p50_ratio", 3.0, False, "shared.with_me p50 over raw RPC p50"),
    Target("search_admin_p50_ratio", 10.0, False,
           "document.search first page p50, org admin, over raw RPC p50"),
    Target("search_member_p50_ratio", 10.0, False,
           "document.search first page p50, member reading 1%, over raw RPC p50"),
    Target("rss_mib", 150.0, False, "worker RSS after K commands, MiB"),
    Target("rss_growth_pct", 10.0, False, "RSS growth from K/2 to K, %"),
)

PAIRED_RATIOS: dict[str, str] = {
    "upload_ratio": "uploads/s over the raw loop's msgs/s",
    "share_ratio": "shares/s over the raw loop's msgs/s",
    "rename_ratio": "document renames/s over the raw loop's msgs/s",
    "move_ratio": "document moves/s over the raw loop's msgs/s",
    "trash_ratio": "document trashes/s over the raw loop's msgs/s",
    "upload_cpu_ratio": "worker CPU per upload over the raw loop's per message",
    "list_hit_p50_ratio": "folder.list hit p50 over raw RPC p50",
    "list_hit_p99_ratio": "folder.list hit p99 over raw RPC p99",
    "list_miss_p50_ratio": "folder.list miss p50 over raw RPC p50",
    "list_miss_p99_ratio": "folder.list miss p99 over raw RPC p99",
    "list_64_ratio": "folder.list hit req/s at 64 over raw RPC",
    "list_miss_64_ratio": "folder.list miss req/s at 64 over raw RPC",
    "get_hit_p50_ratio": "document.get hit p50 over raw RPC p50",
    "get_hit_p99_ratio": "document.get hit p99 over raw RPC p99",
    "get_miss_p50_ratio": "document.get miss p50 over raw RPC p50",
    "get_miss_p99_ratio": "document.get miss p99 over raw RPC p99",
    "get_64_ratio": "document.get hit req/s at 64 over raw RPC",
    "get_miss_64_ratio": "document.get miss req/s at 64 over raw RPC",
    "client_vs_faststream_ratio": "docbus client req/s over FastStream broker.request",
    "client_vs_raw_64_ratio": "docbus client req/s over the raw client",
    "size_latency_ratio": "first page p50, largest over smallest folder (admins)",
    "size_member_latency_ratio": "first page p50, largest over smallest folder (member)",
    "size_raw_drift_ratio": "raw RPC p50 beside the largest over beside the smallest",
    "subtree_move_ratio": "folder.move reply p50, largest over smallest subtree",
    "subtree_rename_ratio": "folder.rename reply p50, largest over smallest subtree",
    "subtree_trash_ratio": "folder.trash reply p50, largest over smallest subtree",
    "subtree_restore_ratio": "folder.restore reply p50, largest over smallest subtree",
    "subtree_op_ratio": "the worst of the four subtree ratios above",
    "subtree_list_ratio": "first page p50 after an ancestor's trash and restore, largest"
                          " over smallest subtree",
    "share_inherited_list_ratio": "first page p50 of a member whose only grant is a folder"
                                  " share five levels up, largest over smallest folder",
    "folder_share_ratio": "folder.share reply p50, largest over smallest subtree",
    "folder_unshare_ratio": "folder.unshare reply p50, largest over smallest subtree",
    "folder_share_op_ratio": "the worse of the two ratios above",
    "explain_p50_ratio": "access.explain p50 over raw RPC p50",
    "explain_p99_ratio": "access.explain p99 over raw RPC p99",
    "with_me_p50_ratio": "shared.with_me p50 over raw RPC p50",
    "with_me_p99_ratio": "shared.with_me p99 over raw RPC p99",
    "search_admin_p50_ratio": "document.search first page p50 (org admin) over raw RPC p50",
    "search_member_p50_ratio": "document.search first page p50 (member, 1%) over raw RPC p50",
    "upload_stored_vs_raw_ratio": "uploads/s with the store full over the raw loop",
    "upload_2workers_ratio": "uploads/s, two workers over one",
    "upload_tracing_ratio": "uploads/s, tracing on (spans dropped) over off",
    "stream_both_ratio": "relay events/s, RabbitMQ + Valkey Streams over RabbitMQ only",
    "cerbos_command_p50_ratio": "document.rename p50, Cerbos deciding over built in",
    "cerbos_command_64_ratio": "document.rename/s at 64 in flight, Cerbos over built in",
    "cerbos_list_p50_ratio": "folder.list miss p50 (member, query plan), Cerbos over built in",
}
"""Ratios measured in paired repetitions (``bench.paired``): the median, with ``_min`` and
``_max`` beside it in the figures."""

DERIVED_RATIOS: dict[str, tuple[str, str, str]] = {
    "upload_stored_ratio": ("upload_stored_per_s", "upload_per_s",
                            "uploads/s, store full over store small (between phases)"),
}
"""Ratios of two medians from different phases: nothing to pair them with (the store grew
in between), so no minimum or maximum."""

RATIOS = (*PAIRED_RATIOS, *DERIVED_RATIOS)


def with_ratios(figures: Figures) -> dict[str, float]:
    """The figures plus the ratios of ``DERIVED_RATIOS`` (the paired ones are there)."""
    out = dict(figures)
    for name, (top, bottom, _) in DERIVED_RATIOS.items():
        if top in figures and bottom in figures:  # (a run of some phases only: --only)
            out[name] = figures[top] / figures[bottom] if figures[bottom] else math.inf
    return out


def _round(value: float) -> float:
    """Four significant digits: enough for a benchmark, short enough to read."""
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, max(0, 3 - math.floor(math.log10(abs(value)))))


def json_line(figures: Figures, meta: Mapping[str, Any]) -> str:
    """One line: every figure and ratio (rounded), the targets met, and the run's facts."""
    payload: dict[str, Any] = {"bench": "docbus", **{k: _round(v) for k, v in figures.items()}}
    measured = [t for t in TARGETS if t.key in figures]  # all but in a run with --only
    payload["targets_met"] = sum(t.met(figures) for t in measured)
    payload["targets_total"] = len(measured)
    payload["meta"] = dict(meta)
    return json.dumps(payload, separators=(",", ":"))


# the table

SECTIONS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("aio-pika baselines", (
        ("raw consume -> publish -> ack (alone / paired with uploads)",
         "raw_pipeline_per_s|raw_pipeline_paired_per_s"),
        ("raw RPC sequential p50 / p99", "raw_rpc_seq_p50_ms|raw_rpc_seq_p99_ms"),
        ("raw RPC at 64 in flight", "raw_rpc_64_per_s"),
        ("FastStream broker.request at 64", "faststream_64_per_s"),
        ("docbus client at 64 (raw responder)", "client_rpc_64_per_s"),
        ("docbus client sequential p50 / p99", "client_rpc_seq_p50_ms|client_rpc_seq_p99_ms"),
    )),
    ("docbus commands (replies + events)", (
        ("UploadDocument", "upload_per_s"),
        ("ShareDocument", "share_per_s"),
        ("document.rename / move / trash | raw paired with them",
         "rename_per_s|move_per_s|trash_per_s|raw_pipeline_life_per_s"),
        ("worker CPU per upload / raw message (paired)",
         "upload_worker_cpu_ms|raw_pipeline_paired_cpu_ms"),
        ("UploadDocument, store full | raw paired with it",
         "upload_stored_per_s|raw_pipeline_stored_per_s"),
        ("UploadDocument, 1 / 2 workers", "upload_1worker_per_s|upload_2workers_per_s"),
    )),
    ("docbus queries", (
        ("folder.list hit p50 / p99 | raw beside it",
         "list_hit_p50_ms|list_hit_p99_ms|list_hit_raw_p50_ms|list_hit_raw_p99_ms"),
        ("folder.list miss p50 / p99 | raw beside it",
         "list_miss_p50_ms|list_miss_p99_ms|list_miss_raw_p50_ms|list_miss_raw_p99_ms"),
        ("folder.list hit / miss at 64 | raw beside each",
         "list_hit_64_per_s|list_miss_64_per_s|list_hit_raw_64_per_s|list_miss_raw_64_per_s"),
        ("document.get hit p50 / p99 | raw beside it",
         "get_hit_p50_ms|get_hit_p99_ms|get_hit_raw_p50_ms|get_hit_raw_p99_ms"),
        ("document.get miss p50 / p99 | raw beside it",
         "get_miss_p50_ms|get_miss_p99_ms|get_miss_raw_p50_ms|get_miss_raw_p99_ms"),
        ("document.get hit / miss at 64 | raw beside each",
         "get_hit_64_per_s|get_miss_64_per_s|get_hit_raw_64_per_s|get_miss_raw_64_per_s"),
    )),
    ("folder size (first page, miss)", (
        ("small: admin p50 / p99 | raw p50",
         "size_small_p50_ms|size_small_p99_ms|size_small_raw_p50_ms"),
        ("medium: admin p50 / p99 | raw p50",
         "size_medium_p50_ms|size_medium_p99_ms|size_medium_raw_p50_ms"),
        ("large: admin p50 / p99 | raw p50",
         "size_large_p50_ms|size_large_p99_ms|size_large_raw_p50_ms"),
        ("small / medium / large: member p50",
         "size_small_member_p50_ms|size_medium_member_p50_ms|size_large_member_p50_ms"),
    )),
    ("subtrees (reply p50, smallest / largest subtree)", (
        ("folder.move", "subtree_move_small_p50_ms|subtree_move_large_p50_ms"),
        ("folder.rename", "subtree_rename_small_p50_ms|subtree_rename_large_p50_ms"),
        ("folder.trash", "subtree_trash_small_p50_ms|subtree_trash_large_p50_ms"),
        ("folder.restore", "subtree_restore_small_p50_ms|subtree_restore_large_p50_ms"),
        ("first page after the restore (owner)",
         "subtree_list_small_p50_ms|subtree_list_large_p50_ms"),
    )),
    ("sharing (reply p50, smallest / largest folder)", (
        ("first page, only grant a folder share five levels up",
         "share_inherited_list_small_p50_ms|share_inherited_list_large_p50_ms"),
        ("folder.share", "folder_share_small_p50_ms|folder_share_large_p50_ms"),
        ("folder.unshare", "folder_unshare_small_p50_ms|folder_unshare_large_p50_ms"),
        ("access.explain p50 / p99 | raw beside it",
         "explain_p50_ms|explain_p99_ms|explain_raw_p50_ms|explain_raw_p99_ms"),
        ("shared.with_me p50 / p99 | raw beside it",
         "with_me_p50_ms|with_me_p99_ms|with_me_raw_p50_ms|with_me_raw_p99_ms"),
    )),
    ("events through the relay (issue 12: Valkey Streams)", (
        ("RabbitMQ only / Valkey Streams only / both",
         "stream_rabbit_per_s|stream_stream_per_s|stream_both_per_s"),
    )),
    ("document.search (first page of 50, text: a median word and a 3-letter prefix)", (
        ("documents in the org | seeding s", "search_documents|search_seed_s"),
        ("org admin: p50 / p99 | raw p50 beside it",
         "search_admin_p50_ms|search_admin_p99_ms|search_admin_raw_p50_ms"),
        ("member reading 1%: p50 / p99 | raw p50 beside it",
         "search_member_p50_ms|search_member_p99_ms|search_member_raw_p50_ms"),
        ("documents found: admin / member",
         "search_admin_page_documents|search_member_page_documents"),
        ("rows read from documents by the plan: admin / member",
         "search_admin_plan_rows|search_member_plan_rows"),
    )),
    ("worker memory", (
        ("RSS warm / K/2 / K", "rss_warm_mib|rss_half_mib|rss_mib"),
        ("growth K/2 -> K", "rss_growth_pct"),
    )),
)


def _unit(key: str) -> str:
    for suffix, unit in (("_per_s", "/s"), ("_ms", " ms"), ("_mib", " MiB"), ("_pct", " %")):
        if key.endswith(suffix):
            return unit
    return ""


def _show(figures: Figures, keys: str) -> str:
    parts = keys.split("|")
    values = " / ".join(f"{figures[k]:,.3g}" if figures[k] < 100 else f"{figures[k]:,.0f}"
                        for k in parts)
    return values + _unit(parts[0])


def _spread(figures: Figures, key: str) -> str:
    """``min - max`` of a paired ratio, ``-`` for anything else."""
    low, high = figures.get(f"{key}_min"), figures.get(f"{key}_max")
    return "-" if low is None or high is None else f"{low:.3g} - {high:.3g}"


def print_tables(console: Console, figures: Figures, meta: Mapping[str, Any]) -> None:
    """How the run ran, the figures by section, every ratio with its spread, then the
    issue's targets with met / missed and the margin."""
    console.print(
        f"event loop: {meta['event_loop']} for the worker, the raw aio-pika baselines and "
        f"the bench's clients; each ratio: the median of {meta['repetitions']} paired "
        f"repetitions ({meta.get('throughput_repetitions', meta['repetitions'])} for uploads "
        "and shares), with their minimum and maximum"
    )
    table = Table(title="docbus bench", show_lines=False)
    table.add_column("measurement")
    table.add_column("value", justify="right")
    for section, rows in SECTIONS:
        shown = [(label, keys) for label, keys in rows  # all but with --only
                 if all(k in figures for k in keys.split("|"))]
        if shown:
            table.add_row(f"[bold]{section}[/bold]", "")
        for label, keys in shown:
            table.add_row(f"  {label}", _show(figures, keys))
    console.print(table)
    console.print(_ratio_table(figures))
    console.print(_target_table(figures))


def _ratio_table(figures: Figures) -> Table:
    table = Table(title="ratios (median of the paired repetitions)")
    for column in ("ratio", "median", "min - max"):
        table.add_column(column, justify="right" if column != "ratio" else "left")
    labels = PAIRED_RATIOS | {k: label for k, (_, _, label) in DERIVED_RATIOS.items()}
    for key, label in labels.items():
        if key not in figures:  # a phase left out (--only)
            continue
        table.add_row(f"{key} ({label})", f"{figures[key]:.3g}", _spread(figures, key))
    return table


def _target_table(figures: Figures) -> Table:
    table = Table(title="targets of the issue")
    for column in ("target", "measured", "min - max", "goal", "met", "margin"):
        table.add_column(column, justify="right" if column != "target" else "left")
    for t in TARGETS:
        if t.key not in figures:  # a phase left out (--only)
            continue
        met = t.met(figures)
        table.add_row(
            f"{t.key} ({t.label})", f"{figures[t.key]:.3g}", _spread(figures, t.key),
            f"{'>=' if t.at_least else '<='} {t.goal:g}",
            "[green]yes[/green]" if met else "[red]no[/red]", f"x{t.margin(figures):.2f}",
        )
    return table
