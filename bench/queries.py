"""docbus's queries against the raw RPC reference: folder.list, document.get, folder size.

Every docbus series is paired with the raw aio-pika client calling the raw responder
(``bench.paired``): sequential series call by call, 64-in-flight series in repetitions.
A "miss" is always a read whose cache key nobody looked up before (fresh org admins, or
document-reader pairs never read), see docs/performance.md.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Sequence

from bench.docbus_bench import ORG, OWNER, Scenario, run_of
from bench.paired import latency_ratio
from bench.seed import seed_folder
from bench.stats import BenchError, Run

SIZE_NAMES = ("small", "medium", "large")


def latency(name: str, ours: Run, raw: Run, repetitions: int) -> dict[str, float]:
    """p50 / p99 of a paired sequential series and of its raw reference, and their ratios
    (``<name>_p50_ratio``, ``<name>_p99_ratio``, each a spread over ``repetitions`` chunks)."""
    return {
        f"{name}_p50_ms": ours.p50_ms, f"{name}_p99_ms": ours.p99_ms,
        f"{name}_raw_p50_ms": raw.p50_ms, f"{name}_raw_p99_ms": raw.p99_ms,
        **latency_ratio(f"{name}_p50_ratio", ours.latencies, raw.latencies, 50, repetitions),
        **latency_ratio(f"{name}_p99_ratio", ours.latencies, raw.latencies, 99, repetitions),
    }


async def listing(s: Scenario) -> dict[str, float]:
    """folder.list on the uploads folder: hits (one reader, again and again), misses
    (a reader never seen before, each time), sequentially and at 64 in flight."""
    folder, c = "f-uploads", s.config
    page = await s.list_first_page(folder, OWNER)  # fills the cache for the hits
    if page == 0:
        raise BenchError("the uploads folder lists empty")

    async def hit(_: object) -> None:
        await s.list_first_page(folder, OWNER)

    async def miss(reader: str) -> None:
        await s.list_first_page(folder, reader)

    hit_seq = await s.paired_seq(hit, range(c.query_sequential), "list hit sequential")
    miss_seq = await s.paired_seq(
        miss, s.take_admins(c.query_sequential), "list miss sequential"
    )
    misses = [s.take_admins(c.query_miss_concurrent) for _ in range(c.repetitions)]
    return {
        **latency("list_hit", *hit_seq, c.repetitions),
        **latency("list_miss", *miss_seq, c.repetitions),
        **await s.paired_rates("list_hit", "list_64_ratio", hit,
                               lambda _: range(c.query_concurrent), "list hit 64 in flight"),
        **await s.paired_rates("list_miss", "list_miss_64_ratio", miss,
                               lambda rep: misses[rep], "list miss 64 in flight"),
        "list_page_documents": float(page),
    }


def _fresh_pairs(s: Scenario, docs: Sequence[str], count: int) -> list[tuple[str, str]]:
    """``count`` (document, reader) pairs never read before: the owner, then fresh admins."""
    rounds = math.ceil(count / len(docs))
    readers = [OWNER, *s.take_admins(rounds - 1)]
    return [(docs[n % len(docs)], readers[n // len(docs)]) for n in range(count)]


async def gets(s: Scenario) -> dict[str, float]:
    """document.get: hits (one document, one reader) and misses (pairs never read before)."""
    c = s.config
    docs = [f"a-{n}" for n in range(1, c.uploads * c.repetitions)]
    await s.get("a-0", OWNER)

    async def hit(_: object) -> None:
        await s.get("a-0", OWNER)

    async def miss(pair: tuple[str, str]) -> None:
        await s.get(*pair)

    seq_n, par_n = c.query_sequential, c.query_miss_concurrent
    pairs = _fresh_pairs(s, docs, seq_n + par_n * c.repetitions)
    hit_seq = await s.paired_seq(hit, range(seq_n), "get hit sequential")
    miss_seq = await s.paired_seq(miss, pairs[:seq_n], "get miss sequential")
    return {
        **latency("get_hit", *hit_seq, c.repetitions),
        **latency("get_miss", *miss_seq, c.repetitions),
        **await s.paired_rates("get_hit", "get_64_ratio", hit,
                               lambda _: range(c.query_concurrent), "get hit 64 in flight"),
        **await s.paired_rates(
            "get_miss", "get_miss_64_ratio", miss,
            lambda rep: pairs[seq_n + rep * par_n: seq_n + (rep + 1) * par_n],
            "get miss 64 in flight",
        ),
    }


async def folder_size(s: Scenario) -> dict[str, float]:
    """First-page latency (cache miss) in folders of increasing size, seeded in PostgreSQL.

    Two readers: fresh org admins (every read a new cache key; the admin query has no
    share check) and the owner, a plain member who holds an owner share on every
    document, with the folder's cache invalidated before each read by uploading a new
    version of one of its documents (the read alone is timed). The sizes are read in
    rounds (small, medium, large, then the other way round), so that the largest and the
    smallest folder see the same stretch of the run; their ratios are paired by chunks.
    """
    folders: dict[str, str] = {}
    for name, size in zip(SIZE_NAMES, s.config.folder_sizes, strict=True):
        folders[name] = await s.folder(f"size-{size}")
        await seed_folder(s.stack.pg_url, folders[name], size, f"s{size}-", org_id=ORG,
                          owner_id=OWNER)
    admin, raw = await _admin_rounds(s, folders)
    member = await _member_rounds(s, folders)
    return _size_figures(s, admin, raw, member)


def _size_figures(
    s: Scenario, admin: dict[str, Run], raw: dict[str, Run], member: dict[str, Run]
) -> dict[str, float]:
    figures: dict[str, float] = {}
    for name, size in zip(SIZE_NAMES, s.config.folder_sizes, strict=True):
        figures |= {
            f"size_{name}_docs": float(size), f"size_{name}_p50_ms": admin[name].p50_ms,
            f"size_{name}_p99_ms": admin[name].p99_ms, f"size_{name}_raw_p50_ms": raw[name].p50_ms,
            f"size_{name}_member_p50_ms": member[name].p50_ms,
            f"size_{name}_member_p99_ms": member[name].p99_ms,
        }
    reps = s.config.repetitions
    for ratio_name, runs in (("size_latency_ratio", admin), ("size_raw_drift_ratio", raw),
                             ("size_member_latency_ratio", member)):
        figures |= latency_ratio(
            ratio_name, runs["large"].latencies, runs["small"].latencies, 50, reps
        )
    return figures


def _round_order(n: int) -> Sequence[str]:
    return SIZE_NAMES if n % 2 == 0 else SIZE_NAMES[::-1]


async def _admin_rounds(
    s: Scenario, folders: dict[str, str]
) -> tuple[dict[str, Run], dict[str, Run]]:
    """Per size, first pages each read by an admin who never read anything, each right
    next to one raw call: (docbus runs, raw runs) by size name."""
    ours: dict[str, list[float]] = {name: [] for name in SIZE_NAMES}
    raws: dict[str, list[float]] = {name: [] for name in SIZE_NAMES}
    readers = iter(s.take_admins(s.config.size_samples * len(SIZE_NAMES)))

    async def read(name: str) -> None:
        await s.list_first_page(folders[name], next(readers))

    try:
        async with asyncio.timeout(s.config.phase_timeout):
            for n in range(s.config.size_samples):
                for name in _round_order(n):
                    mine, raw = await s.pair(read, name, raw_first=n % 2 == 0)
                    ours[name].append(mine)
                    raws[name].append(raw)
    except TimeoutError:
        raise BenchError("admin misses by folder size: timed out") from None
    return ({k: run_of(v) for k, v in ours.items()}, {k: run_of(v) for k, v in raws.items()})


async def _member_rounds(s: Scenario, folders: dict[str, str]) -> dict[str, Run]:
    """Per size, the owner's first page, each time right after an upload invalidated it."""
    latencies: dict[str, list[float]] = {name: [] for name in SIZE_NAMES}
    sizes = dict(zip(SIZE_NAMES, s.config.folder_sizes, strict=True))
    try:
        async with asyncio.timeout(s.config.phase_timeout):
            for n in range(s.config.size_samples):
                for name in _round_order(n):
                    # the upload's reply comes after the invalidation
                    await s.upload(folders[name], f"s{sizes[name]}-1-1")
                    began = time.perf_counter()
                    await s.list_first_page(folders[name], OWNER)
                    latencies[name].append(time.perf_counter() - began)
    except TimeoutError:
        raise BenchError("member misses by folder size: timed out") from None
    return {k: run_of(v) for k, v in latencies.items()}
