"""The ratios and targets, the rich table, the PNG chart and the one JSON line."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
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
    Target("rss_mib", 150.0, False, "worker RSS after K commands, MiB"),
    Target("rss_growth_pct", 10.0, False, "RSS growth from K/2 to K, %"),
)

RATIOS: dict[str, tuple[str, str]] = {
    "upload_ratio": ("upload_per_s", "raw_pipeline_paired_per_s"),
    "share_ratio": ("share_per_s", "raw_pipeline_paired_per_s"),
    "list_hit_p50_ratio": ("list_hit_p50_ms", "list_hit_raw_p50_ms"),
    "list_hit_p99_ratio": ("list_hit_p99_ms", "list_hit_raw_p99_ms"),
    "list_miss_p50_ratio": ("list_miss_p50_ms", "list_miss_raw_p50_ms"),
    "list_miss_p99_ratio": ("list_miss_p99_ms", "list_miss_raw_p99_ms"),
    "list_64_ratio": ("list_hit_64_per_s", "list_hit_raw_64_per_s"),
    "list_miss_64_ratio": ("list_miss_64_per_s", "list_miss_raw_64_per_s"),
    "get_hit_p50_ratio": ("get_hit_p50_ms", "get_hit_raw_p50_ms"),
    "get_hit_p99_ratio": ("get_hit_p99_ms", "get_hit_raw_p99_ms"),
    "get_miss_p50_ratio": ("get_miss_p50_ms", "get_miss_raw_p50_ms"),
    "get_64_ratio": ("get_hit_64_per_s", "get_hit_raw_64_per_s"),
    "get_miss_64_ratio": ("get_miss_64_per_s", "get_miss_raw_64_per_s"),
    "client_vs_faststream_ratio": ("client_rpc_64_per_s", "faststream_64_per_s"),
    "client_vs_raw_64_ratio": ("client_rpc_64_per_s", "raw_rpc_64_per_s"),
    "size_latency_ratio": ("size_large_p50_ms", "size_small_p50_ms"),
    "size_member_latency_ratio": ("size_large_member_p50_ms", "size_small_member_p50_ms"),
    "size_raw_drift_ratio": ("size_large_raw_p50_ms", "size_small_raw_p50_ms"),
    "upload_stored_ratio": ("upload_stored_per_s", "upload_per_s"),
    "upload_stored_vs_raw_ratio": ("upload_stored_per_s", "raw_pipeline_stored_per_s"),
    "upload_2workers_ratio": ("upload_2workers_per_s", "upload_1worker_per_s"),
    "upload_cpu_ratio": ("upload_worker_cpu_ms", "raw_pipeline_cpu_ms"),
}


def with_ratios(figures: Figures) -> dict[str, float]:
    """The figures plus every ratio of ``RATIOS``."""
    out = dict(figures)
    for name, (top, bottom) in RATIOS.items():
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
    payload["targets_met"] = sum(t.met(figures) for t in TARGETS)
    payload["targets_total"] = len(TARGETS)
    payload["meta"] = dict(meta)
    return json.dumps(payload, separators=(",", ":"))


# the table

SECTIONS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("aio-pika baselines", (
        ("raw consume -> publish -> ack (alone / around uploads)",
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
        ("worker CPU per upload / raw message", "upload_worker_cpu_ms|raw_pipeline_cpu_ms"),
        ("UploadDocument, store full | raw right after",
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


def print_tables(console: Console, figures: Figures) -> None:
    """The figures by section, then the issue's targets with met / missed and the margin."""
    table = Table(title="docbus bench", show_lines=False)
    table.add_column("measurement")
    table.add_column("value", justify="right")
    for section, rows in SECTIONS:
        table.add_row(f"[bold]{section}[/bold]", "")
        for label, keys in rows:
            table.add_row(f"  {label}", _show(figures, keys))
    console.print(table)
    targets = Table(title="targets of the issue")
    for column in ("target", "measured", "goal", "met", "margin"):
        targets.add_column(column, justify="right" if column != "target" else "left")
    for t in TARGETS:
        met = t.met(figures)
        targets.add_row(
            f"{t.key} ({t.label})", f"{figures[t.key]:.3g}",
            f"{'>=' if t.at_least else '<='} {t.goal:g}",
            "[green]yes[/green]" if met else "[red]no[/red]", f"x{t.margin(figures):.2f}",
        )
    console.print(targets)


# the chart


def write_chart(path: Path, figures: Figures) -> None:
    """Six panels: throughput, request-reply, latency, folder size, RSS, targets."""
    import matplotlib as mpl

    mpl.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(18, 10))
    _bars(axes[0][0], "Throughput, commands + events (msgs/s)", figures, {
        "raw\nalone": "raw_pipeline_per_s", "raw around\nuploads": "raw_pipeline_paired_per_s",
        "upload": "upload_per_s",
        "share": "share_per_s", "upload\nstore full": "upload_stored_per_s",
        "upload\n1 worker": "upload_1worker_per_s", "upload\n2 workers": "upload_2workers_per_s",
    })
    _bars(axes[0][1], "Request-reply at 64 in flight (req/s)", figures, {
        "raw\nclient": "raw_rpc_64_per_s", "docbus\nclient": "client_rpc_64_per_s",
        "FastStream\nrequest": "faststream_64_per_s",
        "raw beside\nlist hit": "list_hit_raw_64_per_s", "list\nhit": "list_hit_64_per_s",
        "list\nmiss": "list_miss_64_per_s", "get\nhit": "get_hit_64_per_s",
        "get\nmiss": "get_miss_64_per_s",
    })
    _latency(axes[0][2], figures)
    _sizes(axes[1][0], figures)
    _bars(axes[1][1], "Worker RSS (MiB); target 150", figures, {
        "warm": "rss_warm_mib", "before K": "rss_before_memory_mib",
        "K/2": "rss_half_mib", "K": "rss_mib",
    }, line=150.0)
    _targets(axes[1][2], figures)
    fig.suptitle("docbus bench: docbus against plain aio-pika, same machine, same run")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _bars(ax: Any, title: str, figures: Figures, bars: dict[str, str],
          line: float | None = None) -> None:
    values = [figures[k] for k in bars.values()]
    ax.bar(list(bars), values, color="tab:blue")
    for x, v in enumerate(values):
        ax.annotate(f"{v:,.0f}", (x, v), ha="center", va="bottom", fontsize=8)
    if line is not None:
        ax.axhline(line, color="tab:red", linestyle="--")
    ax.set_title(title)
    ax.tick_params(axis="x", labelsize=8)


def _latency(ax: Any, figures: Figures) -> None:
    names = {"raw RPC\nalone": "raw_rpc_seq", "client\nRPC": "client_rpc_seq",
             "raw beside\nlist hit": "list_hit_raw", "list\nhit": "list_hit",
             "raw beside\nlist miss": "list_miss_raw", "list\nmiss": "list_miss",
             "get\nhit": "get_hit", "get\nmiss": "get_miss"}
    xs = range(len(names))
    p50 = [figures[f"{k}_p50_ms"] for k in names.values()]
    p99 = [figures[f"{k}_p99_ms"] for k in names.values()]
    ax.bar([x - 0.2 for x in xs], p50, width=0.4, label="p50")
    ax.bar([x + 0.2 for x in xs], p99, width=0.4, label="p99")
    ax.set_xticks(list(xs), list(names), fontsize=7)
    ax.set_title("Sequential latency (ms)")
    ax.legend()


def _sizes(ax: Any, figures: Figures) -> None:
    sizes = [figures[f"size_{n}_docs"] for n in ("small", "medium", "large")]
    for suffix, label in (("p50_ms", "admin p50"), ("p99_ms", "admin p99"),
                          ("member_p50_ms", "member p50")):
        ax.plot(sizes, [figures[f"size_{n}_{suffix}"] for n in ("small", "medium", "large")],
                marker="o", label=label)
    ax.set_xscale("log")
    ax.set_ylim(bottom=0)
    ax.set_title("First page (cache miss) by folder size (ms)")
    ax.set_xlabel("documents in the folder")
    ax.legend()


def _targets(ax: Any, figures: Figures) -> None:
    margins = [min(t.margin(figures), 5.0) for t in TARGETS]
    colors = ["tab:green" if t.met(figures) else "tab:red" for t in TARGETS]
    ax.barh([t.key for t in TARGETS], margins, color=colors)
    ax.axvline(1.0, color="black")
    ax.invert_yaxis()
    ax.tick_params(axis="y", labelsize=8)
    ax.set_title("Targets: margin (>= 1 met; capped at 5)")
