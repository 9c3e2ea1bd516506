"""docbus itself, through the docbus client: the scenario, commands, store, memory, workers.

(The queries are in ``bench.queries``.) ``Scenario`` holds what every measurement shares:
the client, the event tap on ``doc.events``, the org and its users, and a pool of org
admins seeded in PostgreSQL. Each admin reads at most once per measurement series, so a
"miss" read always has a cache key nobody looked up before (the cache key is the folder
or document, the reader, the page size and the cursor); see docs/performance.md. Its
``pair``, ``paired_seq`` and ``paired_rates`` put docbus's samples beside the raw
references (``bench.paired``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from bench.config import BenchConfig
from bench.events import EventTap
from bench.infra import Stack, WorkerProcess, cpu_seconds
from bench.paired import medians, ratio, repeat
from bench.raw import RPC_KEY, RawRpcClient
from bench.rpc import REQUEST
from bench.seed import count_documents, seed_admins, seed_folder
from bench.stats import BenchError, Run, concurrent, sequential
from bench.throughput import RawPipeline, events_throughput
from docbus_client import DocbusClient

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
    pipeline: RawPipeline
    """The bench's side of the raw consume-publish-ack loop, opened once for the run."""
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

    async def upload_rate(
        self, folder_id: str, prefix: str, count: int, what: str, start: int = 0
    ) -> float:
        """Uploads/s of ``count`` new documents ``<prefix><start>``...: every reply and
        every event arrived."""
        docs = [f"{prefix}{n}" for n in range(start, start + count)]

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

    async def pair(self, call: Call, item: Any, raw_first: bool) -> tuple[float, float]:
        """One docbus call and one raw call right after each other: (docbus s, raw s)."""
        first, second = (self.raw_call, call) if raw_first else (call, self.raw_call)
        began = time.perf_counter()
        await first(item)
        middle = time.perf_counter()
        await second(item)
        end = time.perf_counter()
        a, b = middle - began, end - middle
        return (b, a) if raw_first else (a, b)

    async def paired_seq(self, call: Call, items: Sequence[Any], what: str) -> tuple[Run, Run]:
        """One at a time, each docbus call right next to one raw call: (docbus, raw).

        Interleaved, both series see the same background load, whatever else the machine
        is doing, so their ratio holds even when the absolute numbers drift. Which of the
        two goes first alternates from pair to pair.
        """
        ours: list[float] = []
        theirs: list[float] = []
        try:
            async with asyncio.timeout(self.config.phase_timeout):
                for n, item in enumerate(items):
                    mine, raw = await self.pair(call, item, raw_first=n % 2 == 0)
                    ours.append(mine)
                    theirs.append(raw)
        except TimeoutError:
            raise BenchError(f"{what}: timed out after {len(ours)} pairs") from None
        return run_of(ours), run_of(theirs)

    async def paired_rates(
        self, name: str, ratio_name: str, call: Call, items: Callable[[int], Sequence[Any]],
        what: str,
    ) -> dict[str, float]:
        """req/s at ``in_flight``, docbus (``call`` over ``items(rep)``) and the raw client
        over as many requests, in paired repetitions: ``<name>_64_per_s`` and
        ``<name>_raw_64_per_s`` (medians) and the spread of ``ratio_name``."""

        async def ours(rep: int) -> dict[str, float]:
            return {f"{name}_64_per_s": (await self.par(call, items(rep), what)).rate}

        async def raw(rep: int) -> dict[str, float]:
            count = len(items(rep))
            run = await self.par(self.raw_call, range(count), f"raw beside {what}")
            return {f"{name}_raw_64_per_s": run.rate}

        samples = await repeat(self.config.repetitions, [raw, ours])
        return medians(samples) | ratio(
            ratio_name, samples, f"{name}_64_per_s", f"{name}_raw_64_per_s"
        )


async def warmup(s: Scenario) -> dict[str, float]:
    """A few of every kind of message, then the worker's RSS: the baseline for memory."""
    folder = await s.folder("warmup")
    await s.upload_rate(folder, "w-", s.config.warmup, "warm-up uploads")
    for n in range(min(20, s.config.warmup)):
        await s.list_first_page(folder, OWNER)
        await s.get(f"w-{n}", OWNER)
    await asyncio.sleep(1.0)  # let the relay and the audit consumer settle
    return {"rss_warm_mib": s.stack.workers[0].rss_mib()}


def run_of(latencies: list[float]) -> Run:
    return Run(len(latencies), sum(latencies), tuple(latencies))


async def commands(s: Scenario) -> dict[str, float]:
    """Upload then share throughput (events included), with worker CPU per command, and
    the raw consume-publish-ack loop, in paired repetitions (new documents each time)."""
    c, pid = s.config, s.stack.workers[0].pid
    folder = await s.folder("uploads")

    async def raw(_: int) -> dict[str, float]:
        figures = await s.pipeline.measure(c)
        return {"raw_pipeline_paired_per_s": figures["raw_pipeline_per_s"],
                "raw_pipeline_paired_cpu_ms": figures["raw_pipeline_cpu_ms"]}

    async def ours(rep: int) -> dict[str, float]:
        cpu = cpu_seconds(pid)
        upload = await s.upload_rate(folder, "a-", c.uploads, "uploads", start=rep * c.uploads)
        upload_cpu = (cpu_seconds(pid) - cpu) / c.uploads * 1000
        docs = [f"a-{rep * c.uploads + n}" for n in range(min(c.shares, c.uploads))]
        cpu = cpu_seconds(pid)
        share = await s.share_rate(docs)
        share_cpu = (cpu_seconds(pid) - cpu) / len(docs) * 1000
        return {"upload_per_s": upload, "share_per_s": share,
                "upload_worker_cpu_ms": upload_cpu, "share_worker_cpu_ms": share_cpu}

    samples = await repeat(c.throughput_repetitions, [raw, ours])
    return (
        medians(samples)
        | ratio("upload_ratio", samples, "upload_per_s", "raw_pipeline_paired_per_s")
        | ratio("share_ratio", samples, "share_per_s", "raw_pipeline_paired_per_s")
        | ratio("upload_cpu_ratio", samples, "upload_worker_cpu_ms", "raw_pipeline_paired_cpu_ms")
    )


async def stored(s: Scenario) -> dict[str, float]:
    """Upload throughput once the store holds ``stored_documents`` documents, and the raw
    loop, in paired repetitions."""
    c = s.config
    have = await count_documents(s.stack.pg_url)
    missing = c.stored_documents - have
    if missing > 0:
        bulk = await s.folder("bulk")
        await seed_folder(s.stack.pg_url, bulk, missing, "bulk-", org_id=ORG, owner_id=OWNER)
    folder = await s.folder("stored-uploads")

    async def ours(rep: int) -> dict[str, float]:
        rate = await s.upload_rate(
            folder, "st-", c.stored_uploads, "uploads, store full", start=rep * c.stored_uploads
        )
        return {"upload_stored_per_s": rate}

    async def raw(_: int) -> dict[str, float]:
        figures = await s.pipeline.measure(c)
        return {"raw_pipeline_stored_per_s": figures["raw_pipeline_per_s"]}

    samples = await repeat(c.repetitions, [ours, raw])
    return (
        {"stored_documents": float(await count_documents(s.stack.pg_url))}
        | medians(samples)
        | ratio("upload_stored_vs_raw_ratio", samples, "upload_stored_per_s",
                "raw_pipeline_stored_per_s")
    )


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
    """Upload throughput with one worker and with a second worker process, in paired
    repetitions (1 2, 2 1, 1 2: the second worker starts twice and stops twice)."""
    n = s.config.two_worker_uploads
    second: list[WorkerProcess] = []

    async def one(rep: int) -> dict[str, float]:
        while second:
            await asyncio.to_thread(second.pop().stop)
        folder = await s.folder(f"one-worker-{rep}")
        return {"upload_1worker_per_s": await s.upload_rate(folder, f"w1{rep}-", n, "1 worker")}

    async def two(rep: int) -> dict[str, float]:
        if not second:
            second.append(await asyncio.to_thread(s.stack.start_worker))
        folder = await s.folder(f"two-workers-{rep}")
        return {"upload_2workers_per_s": await s.upload_rate(folder, f"w2{rep}-", n, "2 workers")}

    try:
        samples = await repeat(s.config.repetitions, [one, two])
    finally:
        for worker in second:
            await asyncio.to_thread(worker.stop)
    return medians(samples) | ratio(
        "upload_2workers_ratio", samples, "upload_2workers_per_s", "upload_1worker_per_s"
    )
