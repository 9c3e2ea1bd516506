"""The fault-injection suite: ``python -m tests.faults.suite [--full] [--only NAME ...]``.

Runs every scenario of ``tests.faults.scenarios`` against real servers (PostgreSQL,
RabbitMQ, a packaged valkey-server) with real worker subprocesses, then the cluster
scenarios of ``tests.faults.cluster_scenarios`` on a three-node RabbitMQ cluster it
starts on loopback (skipped, saying why, where it cannot), prints a table per
scenario and a final JSON line, and exits non-zero if any scenario lost a command,
doubled an effect, missed an audit event (or broke another promise), or if the control
run, which is broken on purpose, was not caught.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from tests.cluster.cluster import Cluster, available
from tests.faults.checker import Result
from tests.faults.cluster_scenarios import BODIES as CLUSTER_NAMES
from tests.faults.cluster_scenarios import cluster_scenarios
from tests.faults.infra import create_vhost, delete_vhost, ensure_services
from tests.faults.scenarios import SIZES, config, scenarios

COLUMNS = (
    ("scenario", 18), ("faults", 6), ("confirmed", 9), ("lost", 4), ("dup eff", 7),
    ("miss audit", 10), ("dup ev", 6), ("redeliv", 7), ("inbox dup", 9), ("tap dup", 7),
    ("diverg", 6), ("dead", 6), ("empty", 5), ("recover s", 9), ("gap s", 5), ("pub gap", 7),
    ("time s", 6),
    ("ok", 4),
)


def row(r: Result) -> list[str]:
    dead = sum(r.dead.values())
    empty = r.queues_empty and r.outbox_left == 0 and r.drained
    ok = "yes" if r.ok else "NO"
    if r.control:
        ok = "caught" if r.ok else "MISSED"
    return [
        r.scenario, str(r.faults), str(r.confirmed), str(r.lost), str(r.duplicate_effects),
        str(r.missing_audit), str(r.duplicate_events), str(r.redeliveries),
        str(r.inbox_duplicates), str(r.tap_redelivered), str(r.divergent_replies), str(dead),
        "yes" if empty else "NO", "-" if r.recover_s is None else f"{r.recover_s:.1f}",
        "-" if r.commit_gap_s is None else f"{r.commit_gap_s:.1f}",
        "-" if r.publisher_gap_s is None else f"{r.publisher_gap_s:.1f}",
        f"{r.duration_s:.0f}", ok,
    ]


def table(results: Sequence[Result]) -> str:
    lines = [
        " | ".join(name.ljust(width) for name, width in COLUMNS),
        "-+-".join("-" * width for _, width in COLUMNS),
    ]
    for r in results:
        lines.append(" | ".join(v.ljust(w) for v, (_, w) in zip(row(r), COLUMNS, strict=True)))
    return "\n".join(lines)


def details(r: Result) -> str:
    out = []
    extra = {
        "dead-lettered by reason": r.dead or None,
        "phantom effects/events": r.phantom or None,
        "events missing on the tap": r.tap_missing or None,
        "rejected": r.rejected or None,
        "consumers back": r.consumers_ok,
        "reads / stale reads": None if r.reads is None else f"{r.reads} / {r.stale_reads}",
        "publish retries": r.publish_retries or None,
    }
    out += [f"  {k}: {v}" for k, v in extra.items() if v is not None]
    out += [f"  {'caught' if r.control else 'FAIL'} {f}" for f in r.failures]
    out += [f"  note: {n}" for n in r.notes[:14]]
    return "\n".join(out)


async def run_suite(size: str, names: Sequence[str], log_root: Path, seed: int,
                    echo: bool = True) -> list[Result]:
    """Run the scenarios one after the other in a vhost made for the suite (deleted after)."""
    if restored := await ensure_services():
        print(f"restored before the suite: {restored}", flush=True)
    vhost = await create_vhost()
    try:
        table_of = scenarios(config(size, log_root, seed, vhost))
        results = []
        for name in names:
            if echo:
                print(f"-- {name} ...", flush=True)
            result = await table_of[name]()
            results.append(result)
            if echo:
                print(table([result]).splitlines()[-1], flush=True)
                if text := details(result):
                    print(text, flush=True)
            restored = await ensure_services()
            if restored:
                result.notes.append(f"suite restored {restored}")
        return results
    finally:
        await ensure_services()
        await delete_vhost(vhost)


async def run_cluster_suite(size: str, names: Sequence[str], log_root: Path, seed: int,
                            echo: bool = True) -> list[Result]:
    """The cluster scenarios on a three-node cluster of their own (tests/cluster/cluster.py),
    started for them and removed after; one that already runs is used as it is."""
    if not names:
        return []
    cluster = Cluster()
    reuse = cluster.running()
    if not reuse and (why := available()):
        print(f"-- cluster scenarios skipped: {why}", flush=True)
        return []
    if not reuse:
        began = time.monotonic()
        await asyncio.to_thread(cluster.start)
        print(f"-- cluster started in {time.monotonic() - began:.0f} s", flush=True)
    try:
        table_of = cluster_scenarios(config(size, log_root, seed), cluster, size)
        results = []
        for name in names:
            if echo:
                print(f"-- {name} ...", flush=True)
            results.append(result := await table_of[name]())
            if echo:
                print(table([result]).splitlines()[-1], flush=True)
                print(details(result), flush=True)
        return results
    finally:
        if not reuse:
            await asyncio.to_thread(cluster.stop)


def quiet_client_logs() -> None:
    """The suite's own AMQP client sees every broker restart: that is expected, not news."""
    for name in ("aiormq", "aio_pika"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true",
                        help="the issue's numbers: kill -9 20 times during 10,000 uploads"
                             " and 2,000 shares")
    parser.add_argument("--size", choices=sorted(SIZES), default=None,
                        help="ci (the pytest tier), default, or full")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="run only this scenario (repeat)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log-dir", type=Path, default=None,
                        help="where worker logs go (default: a temporary directory)")
    args = parser.parse_args(argv)
    quiet_client_logs()
    size = args.size or ("full" if args.full else "default")
    log_root = args.log_dir or Path(tempfile.mkdtemp(prefix="docbus-faults-"))
    names = list(scenarios(config(size, log_root))) + list(CLUSTER_NAMES)
    if unknown := set(args.only) - set(names):
        parser.error(f"unknown scenario(s) {sorted(unknown)}; known: {names}")
    chosen = [n for n in names if not args.only or n in args.only]
    print(f"docbus fault suite, size {size}, logs in {log_root}", flush=True)
    started = time.monotonic()
    local = [n for n in chosen if n not in CLUSTER_NAMES]
    results = asyncio.run(run_suite(size, local, log_root, args.seed)) if local else []
    on_cluster = [n for n in chosen if n in CLUSTER_NAMES]
    results += asyncio.run(run_cluster_suite(size, on_cluster, log_root, args.seed))
    elapsed = time.monotonic() - started
    print()
    print(table(results))
    print(f"\n{len(results)} scenario(s) in {elapsed:.0f} s")
    ok = all(r.ok for r in results)
    print(json.dumps({
        "suite": "docbus-faults", "size": size, "ok": ok, "seconds": round(elapsed, 1),
        "scenarios": [r.as_dict() for r in results],
    }, default=str))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
