"""docbus itself, through the docbus client: commands, queries, size, memory, two workers.

``Scenario`` holds what every measurement shares: the client, the event tap on
``doc.events``, the org and its users, and a pool of org admins seeded in PostgreSQL.
Each admin reads at most once per measurement series, so a "miss" read always has a
cache key nobody looked up before (the cache key is the folder or document, the reader,
the page size and the cursor); see docs/performance.md.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from bench.config import BenchConfig
from bench.events import EventTap
from bench.infra import Stack, cpu_seconds
from bench.raw import RPC_KEY, RawRpcClient
from bench.rpc import REQUEST
from bench.seed import count_documents, seed_admins, seed_folder
from bench.stats import BenchError, Run, concurrent, sequential
from bench.throughput import events_throughput, raw_pipeline
from client import DocbusClient

ORG, OWNER, VIEWER = "bench-org", "u-owner", "u-viewer"
SHA = "ab" * 32
Call = Callable[[Any], Awaitable[object]]
RAW_REQUEST = orjson.dumps(REQUEST)


@dataclass
class Scenario:
    """The client, the tap and the org every docbus measurement works in."""

    stack: Stack
    config: BenchConfig
    client: DocbusClient
    tap: EventTap
    raw: RawRpcClient
    """The raw aio-pika client of the raw responder: the references measured alongside."""
    raw_pipeline_pid: int
    admins: list[str] = field(default_factory=list)
    _next_admin: int = 0

    # set-up

    async def prepare(self) -> None:
        """Members through commands, the admin readers straight into PostgreSQL."""
        await self.client.set_membership(ORG, OWNER, "member")
        await self.client.set_membership(ORG, VIEWER, "member")
        self.admins = await seed_admins(
            self.stack.pg_url, ORG, "reader-", self.config.admin_readers
        )

    def take_admins(self, count: int) -> list[str]:
        """Admins that have not read anything yet."""
        if self._next_admin + count > len(self.admins):
            raise BenchError("ran out of fresh readers; raise BenchConfig.admin_readers")
        taken = self.admins[self._next_admin: self._next_admin + count]
        self._next_admin += count
        return taken

    async def folder(self, name: str) -> str:
        folder_id = f"f-{name}"
        await self.client.create_folder(folder_id, ORG, name, OWNER)
        return folder_id

    # commands

    async def upload(self, folder_id: str, doc_id: str) -> None:
        await self.client.upload_document(
            doc_id, ORG, folder_id, OWNER, f"{doc_id}.pdf", "application/pdf",
            f"s3://bench/{doc_id}", ("bench",), 4096, SHA,
        )

    async def upload_rate(self, folder_id: str, prefix: str, count: int, what: str) -> float:
        """Uploads/s of ``count`` new documents: every reply and every event arrived."""
        docs = [f"{prefix}{n}" for n in range(count)]

        async def call(doc_id: str) -> None:
            await self.upload(folder_id, doc_id)

        return await events_throughput(
            self.tap, docs, call, key=lambda d: f"{d}@1", lanes=self.config.bulk_in_flight,
            timeout=self.config.phase_timeout, what=what,
        )

    async def share_rate(self, docs: Sequence[str]) -> float:
        async def call(doc_id: str) -> None:
            await self.client.share_document(doc_id, OWNER, VIEWER, "viewer")

        return await events_throughput(
            self.tap, docs, call, key=lambda d: f"{d}>{VIEWER}",
            lanes=self.config.bulk_in_flight, timeout=self.config.phase_timeout, what="shares",
        )

    # queries

    async def list_first_page(self, folder_id: str, reader: str) -> int:
        """One folder.list; the reply's size in bytes is not visible, its length is."""
        data = (await self.client.request(
            "folder.list", {"folder_id": folder_id, "user_id": reader, "limit": 50}
        )).unwrap()
        return len(data["documents"])

    async def get(self, doc_id: str, reader: str) -> None:
        body = {"doc_id": doc_id, "user_id": reader}
        (await self.client.request("document.get", body)).unwrap()

    async def seq(self, call: Call, items: Sequence[Any], what: str) -> Run:
        """One call at a time (the latency figures)."""
        return await sequential(call, items, self.config.phase_timeout, what)

    async def par(self, call: Call, items: Sequence[Any], what: str) -> Run:
        """``in_flight`` calls at a time (the req/s figures)."""
        return await concurrent(call, items, self.config.in_flight, self.config.phase_timeout, what)

    async def raw_call(self, _: object = None) -> None:
        """One request-reply of the raw aio-pika client with the raw responder."""
        await self.raw.call(RPC_KEY, RAW_REQUEST)

    async def paired_seq(self, call: Call, items: Sequence[Any], what: str) -> tuple[Run, Run]:
        """One at a time, each docbus call right after one raw call: (docbus, raw).

        Interleaved, both series see the same background load, whatever else the machine
        is doing, so their ratio holds even when the absolute numbers drift.
        """
        ours: list[float] = []
        theirs: list[float] = []
        try:
            async with asyncio.timeout(self.config.phase_timeout):
                for item in items:
                    began = time.perf_counter()
                    await self.raw_call()
                    middle = time.perf_counter()
                    await call(item)
                    theirs.append(middle - began)
                    ours.append(time.perf_counter() - middle)
        except TimeoutError:
            raise BenchError(f"{what}: timed out after {len(ours)} pairs") from None
        return _run(ours), _run(theirs)

    async def paired_par(self, call: Call, items: Sequence[Any], what: str) -> tuple[Run, Run]:
        """At ``in_flight``: raw, docbus, raw again right after each other: (docbus, raw).

        The raw rate is over both raw runs (half the count each), bracketing docbus's.
        """
        half = max(1, len(items) // 2)
        before = await self.par(self.raw_call, range(half), f"raw before {what}")
        ours = await self.par(call, items, what)
        after = await self.par(self.raw_call, range(half), f"raw after {what}")
        raw = Run(2 * half, before.elapsed + after.elapsed, before.latencies + after.latencies)
        return ours, raw


async def warmup(s: Scenario) -> dict[str, float]:
    """A few of every kind of message, then the worker's RSS: the baseline for memory."""
    folder = await s.folder("warmup")
    await s.upload_rate(folder, "w-", s.config.warmup, "warm-up uploads")
    for n in range(min(20, s.config.warmup)):
        await s.list_first_page(folder, OWNER)
        await s.get(f"w-{n}", OWNER)
    await asyncio.sleep(1.0)  # let the relay and the audit consumer settle
    return {"rss_warm_mib": s.stack.workers[0].rss_mib()}


def _run(latencies: list[float]) -> Run:
    return Run(len(latencies), sum(latencies), tuple(latencies))


def _series(name: str, ours: Run, raw: Run, *, rate: bool) -> dict[str, float]:
    """The figures of one paired series: docbus's and the raw reference's."""
    if rate:
        return {f"{name}_64_per_s": ours.rate, f"{name}_raw_64_per_s": raw.rate}
    return {
        f"{name}_p50_ms": ours.p50_ms, f"{name}_p99_ms": ours.p99_ms,
        f"{name}_raw_p50_ms": raw.p50_ms, f"{name}_raw_p99_ms": raw.p99_ms,
    }


async def commands(s: Scenario) -> dict[str, float]:
    """Upload throughput then share throughput (events included), with worker CPU per
    command; the raw consume-publish-ack loop is measured again right before and after."""
    url = s.stack.amqp_url
    raw_before = (await raw_pipeline(url, s.config, s.raw_pipeline_pid))["raw_pipeline_per_s"]
    pid = s.stack.workers[0].pid
    folder = await s.folder("uploads")
    cpu = cpu_seconds(pid)
    upload = await s.upload_rate(folder, "a-", s.config.uploads, "uploads")
    upload_cpu = (cpu_seconds(pid) - cpu) / s.config.uploads * 1000
    docs = [f"a-{n}" for n in range(min(s.config.shares, s.config.uploads))]
    cpu = cpu_seconds(pid)
    share = await s.share_rate(docs)
    share_cpu = (cpu_seconds(pid) - cpu) / len(docs) * 1000
    raw_after = (await raw_pipeline(url, s.config, s.raw_pipeline_pid))["raw_pipeline_per_s"]
    return {
        "raw_pipeline_paired_per_s": 2 / (1 / raw_before + 1 / raw_after),
        "upload_per_s": upload, "share_per_s": share,
        "upload_worker_cpu_ms": upload_cpu, "share_worker_cpu_ms": share_cpu,
    }


async def listing(s: Scenario) -> dict[str, float]:
    """folder.list on the uploads folder: hits (one reader, again and again), misses
    (a reader never seen before, each time), sequentially and at 64 in flight."""
    folder, c = "f-uploads", s.config
    page = await s.list_first_page(folder, OWNER)  # fills the cache for the hits
    if page == 0:
        raise BenchError("the uploads folder lists empty")

    async def hit(_: int) -> None:
        await s.list_first_page(folder, OWNER)

    async def miss(reader: str) -> None:
        await s.list_first_page(folder, reader)

    hit_seq = await s.paired_seq(hit, range(c.query_sequential), "list hit sequential")
    hit_par = await s.paired_par(hit, range(c.query_concurrent), "list hit 64 in flight")
    miss_seq = await s.paired_seq(
        miss, s.take_admins(c.query_sequential), "list miss sequential"
    )
    miss_par = await s.paired_par(
        miss, s.take_admins(c.query_miss_concurrent), "list miss 64 in flight"
    )
    return {
        **_series("list_hit", *hit_seq, rate=False), **_series("list_hit", *hit_par, rate=True),
        **_series("list_miss", *miss_seq, rate=False),
        **_series("list_miss", *miss_par, rate=True), "list_page_documents": float(page),
    }


def _fresh_pairs(s: Scenario, docs: Sequence[str], count: int) -> list[tuple[str, str]]:
    """``count`` (document, reader) pairs never read before: the owner, then fresh admins."""
    rounds = math.ceil(count / len(docs))
    readers = [OWNER, *s.take_admins(rounds - 1)]
    return [(docs[n % len(docs)], readers[n // len(docs)]) for n in range(count)]


async def gets(s: Scenario) -> dict[str, float]:
    """document.get: hits (one document, one reader) and misses (pairs never read before)."""
    c = s.config
    docs = [f"a-{n}" for n in range(1, c.uploads)]
    await s.get("a-0", OWNER)

    async def hit(_: int) -> None:
        await s.get("a-0", OWNER)

    async def miss(pair: tuple[str, str]) -> None:
        await s.get(*pair)

    pairs = _fresh_pairs(s, docs, c.query_sequential + c.query_miss_concurrent)
    hit_seq = await s.paired_seq(hit, range(c.query_sequential), "get hit sequential")
    hit_par = await s.paired_par(hit, range(c.query_concurrent), "get hit 64 in flight")
    miss_seq = await s.paired_seq(miss, pairs[: c.query_sequential], "get miss sequential")
    miss_par = await s.paired_par(miss, pairs[c.query_sequential:], "get miss 64 in flight")
    return {
        **_series("get_hit", *hit_seq, rate=False), **_series("get_hit", *hit_par, rate=True),
        **_series("get_miss", *miss_seq, rate=False), **_series("get_miss", *miss_par, rate=True),
    }


SIZE_NAMES = ("small", "medium", "large")


async def folder_size(s: Scenario) -> dict[str, float]:
    """First-page latency (cache miss) in folders of increasing size, seeded in PostgreSQL.

    Two readers: fresh org admins (every read a new cache key; the admin query has no
    share check) and the owner, a plain member who holds an owner share on every
    document, with the folder's cache invalidated before each read by uploading a new
    version of one of its documents (the read alone is timed).
    """
    figures: dict[str, float] = {}
    for name, size in zip(SIZE_NAMES, s.config.folder_sizes, strict=True):
        folder = await s.folder(f"size-{size}")
        await seed_folder(s.stack.pg_url, folder, size, f"s{size}-", org_id=ORG, owner_id=OWNER)
        admin, raw = await _admin_misses(s, folder)
        member = await _member_misses(s, folder, f"s{size}-1-1")
        figures |= {
            f"size_{name}_docs": float(size), f"size_{name}_p50_ms": admin.p50_ms,
            f"size_{name}_p99_ms": admin.p99_ms, f"size_{name}_raw_p50_ms": raw.p50_ms,
            f"size_{name}_member_p50_ms": member.p50_ms,
            f"size_{name}_member_p99_ms": member.p99_ms,
        }
    return figures


async def _admin_misses(s: Scenario, folder: str) -> tuple[Run, Run]:
    """The first page, each time for an admin who never read anything (paired with raw)."""

    async def read(reader: str) -> None:
        await s.list_first_page(folder, reader)

    return await s.paired_seq(read, s.take_admins(s.config.size_samples), f"{folder} misses")


async def _member_misses(s: Scenario, folder: str, churn_doc: str) -> Run:
    """The owner's first page, each time right after an upload invalidated the folder."""
    latencies: list[float] = []
    try:
        async with asyncio.timeout(s.config.phase_timeout):
            for _ in range(s.config.size_samples):
                await s.upload(folder, churn_doc)  # its reply comes after the invalidation
                began = time.perf_counter()
                await s.list_first_page(folder, OWNER)
                latencies.append(time.perf_counter() - began)
    except TimeoutError:
        raise BenchError(f"member misses in {folder}: timed out") from None
    return _run(latencies)


async def stored(s: Scenario) -> dict[str, float]:
    """Upload throughput once the store holds ``stored_documents`` documents."""
    have = await count_documents(s.stack.pg_url)
    missing = s.config.stored_documents - have
    if missing > 0:
        bulk = await s.folder("bulk")
        await seed_folder(s.stack.pg_url, bulk, missing, "bulk-", org_id=ORG, owner_id=OWNER)
    folder = await s.folder("stored-uploads")
    rate = await s.upload_rate(folder, "st-", s.config.stored_uploads, "uploads, store full")
    raw = await raw_pipeline(s.stack.amqp_url, s.config, s.raw_pipeline_pid)
    return {
        "stored_documents": float(await count_documents(s.stack.pg_url)),
        "upload_stored_per_s": rate, "raw_pipeline_stored_per_s": raw["raw_pipeline_per_s"],
    }


async def memory(s: Scenario) -> dict[str, float]:
    """The worker's RSS after K/2 and after K more commands (half uploads, half queries)."""
    folder = await s.folder("memory")
    half = s.config.memory_commands // 2
    worker = s.stack.workers[0]
    rss_before = worker.rss_mib()
    first = await _memory_half(s, folder, range(0, half))
    rss_half = worker.rss_mib()
    second = await _memory_half(s, folder, range(half, 2 * half))
    rss_end = worker.rss_mib()
    return {
        "rss_before_memory_mib": rss_before, "rss_half_mib": rss_half, "rss_mib": rss_end,
        "rss_growth_pct": (rss_end - rss_half) / rss_half * 100,
        "memory_commands": float(2 * half),
        "memory_mix_per_s": 2 * half / (first.elapsed + second.elapsed),
    }


async def _memory_half(s: Scenario, folder: str, numbers: range) -> Run:
    """Commands ``numbers`` of the mix: upload, list, get, upload; waits for the events."""
    uploads = [f"m-{n}" for n in numbers if n % 4 in (0, 3)]
    s.tap.expect([f"{d}@1" for d in uploads])

    async def call(n: int) -> None:
        kind = n % 4
        if kind in (0, 3):
            await s.upload(folder, f"m-{n}")
        elif kind == 1:
            await s.list_first_page(folder, OWNER)
        else:
            await s.get(f"a-{(n // 4) % s.config.uploads}", OWNER)

    run = await concurrent(call, numbers, s.config.in_flight, s.config.phase_timeout, "memory")
    await s.tap.wait(s.config.phase_timeout, "memory events")
    return run


async def two_workers(s: Scenario) -> dict[str, float]:
    """Upload throughput with one worker, with a second worker process started, then with
    one again: the one-worker rate is over both of its runs (half the count each)."""
    n = s.config.two_worker_uploads
    half = max(1, n // 2)
    before = await s.upload_rate(await s.folder("one-worker-a"), "w1a-", half, "1 worker")
    second = await asyncio.to_thread(s.stack.start_worker)
    try:
        two = await s.upload_rate(await s.folder("two-workers"), "w2-", n, "uploads, 2 workers")
    finally:
        await asyncio.to_thread(second.stop)
    after = await s.upload_rate(await s.folder("one-worker-b"), "w1b-", half, "1 worker")
    return {"upload_1worker_per_s": 2 / (1 / before + 1 / after), "upload_2workers_per_s": two}
