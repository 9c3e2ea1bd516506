"""Lives of documents and folders (contract v2), through the client's typed methods.

- ``renames_moves_trashes``: document.rename, document.move and document.trash throughput
  (replies and events), each as many commands as the raw loop's messages, paired with the
  raw consume-publish-ack loop in repetitions like the uploads (``<op>_ratio``). The
  documents are seeded in PostgreSQL (one set per repetition); each repetition renames
  its set, moves it to another folder, then trashes it.
- ``subtree_ops``: two subtrees of the same shape, a root R with ``subtree_folders``
  subfolders, holding the smallest and the largest of ``subtree_sizes`` documents (half
  of them in one leaf L, the rest spread over the other subfolders, as in
  ``bench.tree_measure``). Round after round, on each subtree in turn (the order
  alternating): R moved (under a parent, then back to the roots), renamed, trashed,
  restored, then L's first page read by its owner (the restore made every cached listing
  miss). Each op's ratio, large over small p50, is paired by chunks of rounds;
  ``subtree_op_ratio`` is the worst of move, trash, restore and rename, and
  ``subtree_list_ratio`` the listing's (L after an ancestor was trashed and restored).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bench.docbus_bench import ORG, OWNER, Scenario, run_of
from bench.events import moved_key, renamed_key, trashed_key
from bench.paired import latency_ratio, medians, ratio, repeat, spread
from bench.seed import seed_folders
from bench.stats import BenchError
from bench.throughput import events_throughput

LIFE_OPS = ("rename", "move", "trash")
SUBTREE_OPS = ("move", "rename", "trash", "restore")


async def renames_moves_trashes(s: Scenario) -> dict[str, float]:
    """Rename, move and trash throughput beside the raw loop, in paired repetitions."""
    c = s.config
    n = c.uploads
    source, target = await s.folder("life-source"), await s.folder("life-target")
    await seed_folders(s.stack.pg_url, {source: n * c.repetitions}, "lc-", org_id=ORG,
                       owner_id=OWNER)
    docs = [f"lc-{source}-{i}" for i in range(1, n * c.repetitions + 1)]  # seed_folders' ids

    async def raw(_: int) -> dict[str, float]:
        return {"raw_pipeline_life_per_s": (await s.pipeline.measure(c))["raw_pipeline_per_s"]}

    async def ours(rep: int) -> dict[str, float]:
        mine = docs[rep * n: (rep + 1) * n]
        return {
            "rename_per_s": await _rate(s, mine, "renames", lambda d: _rename(s, d),
                                        lambda d: renamed_key(d, f"{d}-renamed.pdf")),
            "move_per_s": await _rate(s, mine, "moves", lambda d: _move(s, d, target),
                                      lambda d: moved_key(d, target)),
            "trash_per_s": await _rate(s, mine, "trashes", lambda d: _trash(s, d),
                                       trashed_key),
        }

    samples = await repeat(c.repetitions, [raw, ours])
    figures = medians(samples)
    for op in LIFE_OPS:
        figures |= ratio(f"{op}_ratio", samples, f"{op}_per_s", "raw_pipeline_life_per_s")
    return figures


async def _rate(
    s: Scenario, docs: list[str], what: str, call: Callable[[str], Awaitable[object]],
    key: Callable[[str], str],
) -> float:
    return await events_throughput(
        s.tap, docs, call, key=key, lanes=s.config.bulk_in_flight,
        timeout=s.config.phase_timeout, what=what,
    )


async def _rename(s: Scenario, doc_id: str) -> None:
    await s.client.rename_document(doc_id, OWNER, f"{doc_id}-renamed.pdf")


async def _move(s: Scenario, doc_id: str, folder_id: str) -> None:
    await s.client.move_document(doc_id, OWNER, folder_id)


async def _trash(s: Scenario, doc_id: str) -> None:
    await s.client.trash_document(doc_id, OWNER)


# subtrees


@dataclass
class Subtree:
    """A root R with its subfolders; L, the first subfolder, holds half the documents."""

    root: str
    leaf: str
    documents: int
    latencies: dict[str, list[float]] = field(
        default_factory=lambda: {op: [] for op in (*SUBTREE_OPS, "list")}
    )


async def build_subtree(s: Scenario, name: str, documents: int) -> Subtree:
    """R and its subfolders through commands, the documents straight into PostgreSQL."""
    root = await s.folder(name)
    subfolders = [f"{root}-c{i}" for i in range(s.config.subtree_folders)]
    await asyncio.gather(*(s.client.create_folder(f, ORG, f, OWNER, root) for f in subfolders))
    await seed_folders(s.stack.pg_url, layout(subfolders, documents), "sub-", org_id=ORG,
                       owner_id=OWNER)
    return Subtree(root, subfolders[0], documents)


def layout(subfolders: list[str], documents: int) -> dict[str, int]:
    """Documents per subfolder: half (rounded up) in the first, the rest spread evenly
    over the others (folders left empty are not listed)."""
    counts = dict.fromkeys(subfolders, 0)
    counts[subfolders[0]] = documents - documents // 2
    others = subfolders[1:] or subfolders[:1]
    rest = documents // 2
    for i, folder in enumerate(others):
        counts[folder] += rest // len(others) + (1 if i < rest % len(others) else 0)
    return {folder: n for folder, n in counts.items() if n}


async def subtree_ops(s: Scenario) -> dict[str, float]:
    """Reply times of R's move, rename, trash and restore, and of L's first page after
    the restore, by subtree size; the ratios large over small."""
    small_n, large_n = s.config.subtree_sizes
    parent = await s.folder("subtree-parent")
    small = await build_subtree(s, f"subtree-{small_n}", small_n)
    large = await build_subtree(s, f"subtree-{large_n}", large_n)
    try:
        async with asyncio.timeout(s.config.phase_timeout):
            for n in range(s.config.subtree_samples):
                for tree in (small, large) if n % 2 == 0 else (large, small):
                    await _round(s, tree, n, parent)
    except TimeoutError:
        raise BenchError("subtree operations: timed out") from None
    return _subtree_figures(s, small, large)


async def _round(s: Scenario, tree: Subtree, n: int, parent: str) -> None:
    """One sample of every op on ``tree``: each timed from the call to the reply."""
    client, root = s.client, tree.root
    steps: tuple[tuple[str, Callable[[], Awaitable[object]]], ...] = (
        ("move", lambda: client.move_folder(root, OWNER, parent if n % 2 == 0 else None)),
        ("rename", lambda: client.rename_folder(root, OWNER, f"{root}-{n}")),
        ("trash", lambda: client.trash_folder(root, OWNER)),
        ("restore", lambda: client.restore_folder(root, OWNER)),
        ("list", lambda: s.list_first_page(tree.leaf, OWNER)),
    )
    for op, step in steps:
        began = time.perf_counter()
        await step()
        tree.latencies[op].append(time.perf_counter() - began)


def _subtree_figures(s: Scenario, small: Subtree, large: Subtree) -> dict[str, float]:
    reps = s.config.repetitions
    figures: dict[str, float] = {
        "subtree_small_docs": float(small.documents), "subtree_large_docs": float(large.documents),
    }
    for op in (*SUBTREE_OPS, "list"):
        for tree, size in ((small, "small"), (large, "large")):
            figures[f"subtree_{op}_{size}_p50_ms"] = run_of(tree.latencies[op]).p50_ms
        figures |= latency_ratio(f"subtree_{op}_ratio", large.latencies[op],
                                 small.latencies[op], 50, reps)
    worst = [max(figures[f"subtree_{op}_ratio{end}"] for op in SUBTREE_OPS)
             for end in ("_min", "", "_max")]
    figures |= spread("subtree_op_ratio", worst)  # the median of three is the middle one
    return figures
