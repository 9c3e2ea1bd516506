"""Sharing at scale (contract v2, issue 11, item 4), through the client's typed methods.

Two chains of the same shape: a top folder T with ``share_depth`` levels of folders below
it, the deepest (L) holding the smallest or the largest of ``share_sizes`` documents,
seeded straight into PostgreSQL (INSERT ... SELECT generate_series, ``bench.seed``). A
member, the contractor, holds nothing but a viewer share on each T: ``share_depth``
levels above L.

- ``share_inherited_list_ratio``: the contractor's first page of L (a cache miss: an
  upload of a new version into L invalidates it just before, and only the read is
  timed), largest over smallest chain;
- ``folder_share_ratio`` and ``folder_unshare_ratio``: ``folder.share`` (to another
  member) and ``folder.unshare`` on T, timed from the call to the reply, largest over
  smallest subtree; ``folder_share_op_ratio`` is the worse of the two;
- ``explain_p50_ratio`` and ``with_me_p50_ratio``: ``access.explain`` (the contractor on a
  document of the large L, asking about themself) and ``shared.with_me`` (the contractor)
  p50, each call right next to a raw RPC call (``Scenario.paired_seq``), over the raw
  p50.

The chains are visited in rounds, small then large then the other way round, so that both
see the same stretch of the run; the large-over-small ratios are paired by chunks of rounds
(``bench.paired``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bench.docbus_bench import ORG, OWNER, VIEWER, Scenario, run_of
from bench.paired import latency_ratio, spread
from bench.queries import latency
from bench.seed import seed_folder
from bench.stats import BenchError

CONTRACTOR = "u-contractor"
TIMED = ("list", "share", "unshare")


@dataclass
class Chain:
    """T, then ``depth`` folders down to L, which holds ``documents`` documents."""

    top: str
    leaf: str
    documents: int
    first_doc: str
    latencies: dict[str, list[float]] = field(
        default_factory=lambda: {op: [] for op in TIMED}
    )


async def build_chain(s: Scenario, size: int) -> Chain:
    """The folders through commands, the documents into PostgreSQL, then T shared with
    the contractor (viewer): their only grant on anything below."""
    top = await s.folder(f"share-{size}")
    parent = top
    for level in range(1, s.config.share_depth + 1):
        child = f"{top}-l{level}"
        await s.client.create_folder(child, ORG, child, OWNER, parent)
        parent = child
    prefix = f"sh{size}-"
    await seed_folder(s.stack.pg_url, parent, size, prefix, org_id=ORG, owner_id=OWNER)
    await s.client.share_folder(top, OWNER, CONTRACTOR, "viewer")
    return Chain(top, parent, size, f"{prefix}1-1")


async def sharing(s: Scenario) -> dict[str, float]:
    """The three sharing measurements (see the module's docstring)."""
    await s.client.set_membership(ORG, CONTRACTOR, "member")
    small_n, large_n = s.config.share_sizes
    small, large = await build_chain(s, small_n), await build_chain(s, large_n)
    if await s.list_first_page(large.leaf, CONTRACTOR) != min(50, large_n):
        raise BenchError("the contractor does not see the shared subtree")
    try:
        async with asyncio.timeout(s.config.phase_timeout):
            for n in range(s.config.share_samples):
                for chain in (small, large) if n % 2 == 0 else (large, small):
                    await _round(s, chain)
    except TimeoutError:
        raise BenchError("sharing at scale: timed out") from None
    return _chain_figures(s, small, large) | await _queries(s, large)


async def _round(s: Scenario, chain: Chain) -> None:
    """The contractor's first page right after an invalidation, then T shared with the
    viewer member and unshared again."""
    await s.upload(chain.leaf, chain.first_doc)  # its reply comes after the invalidation
    steps: tuple[tuple[str, Callable[[], Awaitable[object]]], ...] = (
        ("list", lambda: s.list_first_page(chain.leaf, CONTRACTOR)),
        ("share", lambda: s.client.share_folder(chain.top, OWNER, VIEWER, "viewer")),
        ("unshare", lambda: s.client.unshare_folder(chain.top, OWNER, VIEWER)),
    )
    for op, step in steps:
        began = time.perf_counter()
        await step()
        chain.latencies[op].append(time.perf_counter() - began)


def _chain_figures(s: Scenario, small: Chain, large: Chain) -> dict[str, float]:
    reps = s.config.repetitions
    figures: dict[str, float] = {
        "share_small_docs": float(small.documents), "share_large_docs": float(large.documents),
        "share_depth": float(s.config.share_depth),
    }
    names = {"list": "share_inherited_list", "share": "folder_share",
             "unshare": "folder_unshare"}
    for op, name in names.items():
        for chain, size in ((small, "small"), (large, "large")):
            figures[f"{name}_{size}_p50_ms"] = run_of(chain.latencies[op]).p50_ms
        figures |= latency_ratio(f"{name}_ratio", large.latencies[op],
                                 small.latencies[op], 50, reps)
    worst = [max(figures[f"folder_share_ratio{end}"], figures[f"folder_unshare_ratio{end}"])
             for end in ("_min", "", "_max")]
    return figures | spread("folder_share_op_ratio", worst)


async def _queries(s: Scenario, chain: Chain) -> dict[str, float]:
    """access.explain and shared.with_me, each call beside a raw RPC call."""
    c = s.config

    async def explain(_: object) -> None:
        await s.client.explain_access(chain.first_doc, CONTRACTOR)

    async def with_me(_: object) -> None:
        await s.client.shared_with_me(ORG, CONTRACTOR)

    explained = await s.paired_seq(explain, range(c.share_queries), "access.explain")
    listed = await s.paired_seq(with_me, range(c.share_queries), "shared.with_me")
    return (latency("explain", *explained, c.repetitions)
            | latency("with_me", *listed, c.repetitions))
