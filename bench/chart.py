"""The PNG chart of a run: six panels, the targets' panel with each ratio's spread."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.report import TARGETS, Figures


def write_chart(path: Path, figures: Figures) -> None:
    """Six panels: throughput, request-reply, latency, folder size, RSS, targets."""
    import matplotlib as mpl

    mpl.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(18, 10))
    _bars(axes[0][0], "Throughput, commands + events (msgs/s)", figures, {
        "raw\nalone": "raw_pipeline_per_s", "raw paired\nwith uploads": "raw_pipeline_paired_per_s",
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
    """Each target's margin (the median), a whisker from its worst to its best repetition."""
    cap = 5.0
    margins = [min(t.margin(figures), cap) for t in TARGETS]
    low, high = [], []
    for t, mid in zip(TARGETS, margins, strict=True):
        ends = sorted(
            min(t.margin({t.key: figures.get(f"{t.key}_{end}", figures[t.key])}), cap)
            for end in ("min", "max")
        )
        low.append(max(0.0, mid - ends[0]))
        high.append(max(0.0, ends[1] - mid))
    colors = ["tab:green" if t.met(figures) else "tab:red" for t in TARGETS]
    ax.barh([t.key for t in TARGETS], margins, color=colors, xerr=[low, high], capsize=3)
    ax.axvline(1.0, color="black")
    ax.invert_yaxis()
    ax.tick_params(axis="y", labelsize=8)
    ax.set_title("Targets: margin, median and spread (>= 1 met; cap 5)")
