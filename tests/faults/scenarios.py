"""The scenarios: each sets up a fresh stage, drives load, injects its faults, waits for the
backlog to drain and hands everything to the checker.

A scenario never leaves a server stopped: every fault is undone in a ``finally``, and
``Stage.close`` kills the workers, starts any server found stopped, drops the database and
deletes the vhost. Each runs under a hard time limit (``Config.time_limit``).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import signal
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import orjson
from valkey.asyncio import Valkey

from docbus.adapters.amqp_failover import connect_first
from docbus.consumers.topology import DEAD_QUEUE_NAME
from tests.faults.checker import WORK_QUEUES, Result, check
from tests.faults.crash import POINTS
from tests.faults.gaps import CommitGaps, Gap, commit_gaps, publisher_gap
from tests.faults.infra import (
    Stage,
    WorkerProc,
    actl,
    pg_ctl,
    plain_dsn,
    queue_table,
    terminate_backends,
    wait_postgres,
    wait_rabbit,
)
from tests.faults.life import SETUP_KINDS
from tests.faults.load import TAP_QUEUE, Amqp, Command, Plan, Size, drain_queue, send_all
from tests.faults.share_load import SETUP_KIND as SHARE_SETUP
from tests.faults.share_load import UNSWEPT_SQL, ShareMix, default_count

T = TypeVar("T")


@dataclass(frozen=True)
class Config:
    size: Size  # load of every scenario
    kills: int  # kill -9 in the kill scenario
    rate: float  # commands published per second
    time_limit: float  # hard limit per scenario, seconds
    drain_timeout: float  # how long the backlog may take to drain after the last fault
    log_root: Path
    seed: int = 1
    kill_size: Size | None = None  # the kill scenario's own load (the 10,000/2,000)
    readers: int = 4  # concurrent upload-then-read clients in the Valkey scenario
    vhost: str | None = None  # a vhost the suite made for all scenarios (wiped for each)


SIZES: dict[str, dict[str, Any]] = {
    "ci": {"size": Size(200, 40), "kills": 2, "rate": 80.0, "time_limit": 120,
           "drain_timeout": 60},
    "default": {"size": Size(2000, 400), "kills": 5, "rate": 250.0, "time_limit": 300,
                "drain_timeout": 120},
    "full": {"size": Size(2000, 400), "kills": 20, "rate": 250.0, "time_limit": 1200,
             "drain_timeout": 300, "kill_size": Size(10000, 2000)},
}


def config(size: str, log_root: Path, seed: int = 1, vhost: str | None = None) -> Config:
    return Config(log_root=log_root, seed=seed, vhost=vhost, **SIZES[size])


@dataclass
class Run:
    """One scenario's stage, plan, client and result."""

    name: str
    cfg: Config
    size: Size
    readers: int = 0
    stage: Stage = field(init=False)
    plan: Plan = field(init=False)
    amqp: Amqp = field(init=False)
    result: Result = field(init=False)
    extra: list[Command] = field(default_factory=list)  # commands sent beyond the plan
    queues: dict[str, tuple[int, int]] = field(default_factory=dict)  # at the end of drain
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    load_started: float | None = None  # wall-clock time (time.time()) the load began

    def __post_init__(self) -> None:
        run_id = f"{self.name.replace('_', '')[:10]}{secrets.token_hex(3)}"
        self.stage = Stage(
            self.name, self.cfg.log_root / f"{self.name}-{run_id}", shared_vhost=self.cfg.vhost
        )
        self.plan = Plan(run_id, self.size, seed=self.cfg.seed, reader_folders=self.readers)
        self.shares = ShareMix(self.plan, default_count(self.size.shares))
        self.result = Result(self.name)

    @property
    def commands(self) -> list[Command]:
        return self.plan.commands + self.extra

    def spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """A task of the scenario's: cancelled when the scenario ends, however it ends."""
        task = asyncio.create_task(coro)
        self.tasks.append(task)
        return task

    async def open(self, workers: int = 1, **env: str) -> list[WorkerProc]:
        await self.stage.open()
        procs = [self.stage.worker(**env) for _ in range(workers)]
        await asyncio.gather(*(p.start() for p in procs))
        self.amqp = Amqp(self.stage.rabbit_url)
        await self.amqp.open()
        return procs

    async def setup(self) -> None:
        """Members, folders, documents, then the trashes that lifecycle restores and
        purges need, the folder shares that the load's unshares take away, and last the
        folder shares that expire a few seconds into the load (the expiry sweeper works
        under the faults): each answered, batch after batch."""
        for kind in (*SETUP_KINDS, SHARE_SETUP):
            await self._answered([c for c in self.plan.setup if c.kind == kind])
        ahead = max(3.0, min(self.load_seconds / 2, 30.0))
        await self._answered(self.shares.expiring(datetime.now(UTC) + timedelta(seconds=ahead)))

    async def _answered(self, batch: list[Command]) -> None:
        replies = await asyncio.gather(*(self.amqp.request(c) for c in batch))
        bad = [r for r in replies if not r.get("ok")]
        if bad:
            raise RuntimeError(f"setup failed: {bad[:3]}")

    async def send_load(self, commands: list[Command] | None = None) -> float:
        deadline = self.started + self.cfg.time_limit
        if self.load_started is None:
            self.load_started = time.time()
        return await send_all(
            self.amqp, self.plan.load if commands is None else commands, rate=self.cfg.rate,
            deadline=deadline,
        )

    @property
    def load_seconds(self) -> float:
        return len(self.plan.load) / self.cfg.rate

    async def counts(self) -> tuple[int, int, int]:
        conn = await asyncpg.connect(plain_dsn(self.stage.pg_url), timeout=5)
        try:
            row = await conn.fetchrow(
                "SELECT (SELECT count(*) FROM inbox), (SELECT count(*) FROM outbox),"
                " (SELECT count(*) FROM audit_log)"
            )
            assert row is not None
            return int(row[0]), int(row[1]), int(row[2])
        finally:
            await conn.close()

    async def unswept(self) -> int:
        """Expired folder shares not removed yet (the sweeper's work left to do)."""
        conn = await asyncpg.connect(plain_dsn(self.stage.pg_url), timeout=5)
        try:
            return int(await conn.fetchval(UNSWEPT_SQL))
        finally:
            await conn.close()

    async def gaps(self) -> tuple[CommitGaps, Gap | None]:
        """The load's commit gaps (tests/faults/gaps.py) and the suite's publisher gap."""
        load = [c.message_id for c in self.plan.load + self.extra]
        conn = await asyncpg.connect(plain_dsn(self.stage.pg_url), timeout=5)
        try:
            rows = await conn.fetch(
                "SELECT message_id, extract(epoch FROM created_at)::float8 AS at FROM inbox"
                " WHERE message_id = ANY($1)", load,
            )
        finally:
            await conn.close()
        commits = {row["message_id"]: row["at"] for row in rows}
        confirmed_at = self.amqp.stats.confirmed_at
        offered = {mid: confirmed_at[mid] for mid in load if mid in confirmed_at}
        with contextlib.suppress(OSError):  # the raw history, to look at a gap closely
            (self.stage.log_dir / "timeline.json").write_bytes(orjson.dumps({
                "load_started": self.load_started, "commits": commits, "confirms": offered,
                "publisher_connected": self.amqp.stats.connected,
                "publish_failures": self.amqp.stats.failures,
            }))
        started = self.load_started if self.load_started is not None else min(
            offered.values(), default=0.0
        )
        return commit_gaps(commits, offered), publisher_gap(offered.values(), started)

    async def measure_gaps(self, origin: float | None = None) -> None:
        """Fill the result's gaps; note where each lay (relative to ``origin``, e.g. the
        fault's wall-clock time, or the load's start)."""
        commits, publisher = await self.gaps()
        r = self.result
        r.commit_gap_s = None if commits.offered is None else round(commits.offered.seconds, 2)
        r.raw_commit_gap_s = None if commits.raw is None else round(commits.raw.seconds, 2)
        r.publisher_gap_s = None if publisher is None else round(publisher.seconds, 2)
        t0 = origin if origin is not None else (self.load_started or 0.0)
        what = "fault" if origin is not None else "load start"
        for name, gap in (("commit gap (offered)", commits.offered),
                          ("commit gap (raw)", commits.raw), ("publisher gap", publisher)):
            if gap is not None:
                r.notes.append(f"{name} {gap.around(t0)} (t: {what})")

    async def dead_count(self) -> int:
        connection = await connect_first(self.stage.rabbit_url, timeout=5)
        async with connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(DEAD_QUEUE_NAME, passive=True)
            return int(queue.declaration_result.message_count or 0)

    async def drain(self, since: float) -> None:
        """Wait until every confirmed command is decided (or dead), the outbox is empty and
        every work queue is empty (ready + unacknowledged); record the time to recover."""
        expected = len({c.message_id for c in self.commands} & self.amqp.stats.confirmed)
        deadline = time.monotonic() + self.cfg.drain_timeout
        last: tuple[int, ...] = ()
        still_since = time.monotonic()
        while time.monotonic() < deadline:
            try:
                inbox, outbox, audit = await self.counts()
                dead = await self.dead_count()
            except Exception:
                await asyncio.sleep(0.5)
                continue
            now = (inbox, outbox, audit, dead)
            if now != last:
                last, still_since = now, time.monotonic()
            settled = inbox + dead >= expected or time.monotonic() - still_since > 5
            if settled and outbox == 0 and await self.unswept() == 0:
                table = self.queues = await self.stage.queue_table()
                if all(table.get(q, (0, 0))[0] == 0 for q in WORK_QUEUES):
                    _, outbox, _ = await self.counts()
                    if outbox == 0:
                        self.result.recover_s = round(time.monotonic() - since, 2)
                        return
            await asyncio.sleep(0.5)
        self.result.drained = False
        await self._post_mortem()

    async def _post_mortem(self) -> None:
        """What a backlog that did not drain looks like to the broker."""
        with contextlib.suppress(Exception):
            out = await actl("list_queues", "-p", self.stage.vhost, "name", "messages_ready",
                             "messages_unacknowledged", "consumers", timeout=30)
            stuck = [line for line in out.splitlines() if "\t0\t0\t" not in line]
            self.result.notes.append("queues (ready, unacked, consumers): " + "; ".join(stuck))
        with contextlib.suppress(Exception):
            out = await actl("list_channels", "vhost", "name", "consumer_count",
                             "messages_unacknowledged", "prefetch_count", timeout=30)
            mine = [line for line in out.splitlines() if line.startswith(self.stage.vhost)]
            self.result.notes.append("channels: " + "; ".join(mine[:12]))

    async def finish(self, *, no_redelivery: bool = False,
                     allowed_dead: tuple[str, ...] = ()) -> Result:
        queues = self.queues if self.result.drained else await self.stage.queue_table()
        tap = await drain_queue(self.stage.rabbit_url, TAP_QUEUE, quiet=0.5)
        dead = await drain_queue(self.stage.rabbit_url, DEAD_QUEUE_NAME, quiet=0.5)
        r = self.result
        r.redeliveries = self.stage.count("message_redelivered")
        r.inbox_duplicates = self.stage.count("duplicate_message_id")
        r.publish_retries = self.amqp.stats.retries
        await check(
            r, self.stage.pg_url, self.commands, self.amqp.stats.confirmed,
            dict(self.amqp.replies), tap, dead, queues,
        )
        r.judge(no_redelivery=no_redelivery, allowed_dead=allowed_dead)
        r.duration_s = round(time.monotonic() - self.started, 1)
        return r

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.amqp.close()
        problems = await self.stage.close()
        self.result.notes += problems


async def run_scenario(
    name: str, cfg: Config, body: Callable[[Run], Awaitable[None]], *,
    size: Size | None = None, readers: int = 0, control: bool = False, run: Run | None = None,
) -> Result:
    """Run one scenario (on ``run`` if given) under its time limit; always clean up."""
    run = run or Run(name, cfg, size or cfg.size, readers=readers)
    run.result.control = control
    try:
        async with asyncio.timeout(cfg.time_limit):
            await body(run)
    except TimeoutError:
        run.result.failures.append(f"hard time limit of {cfg.time_limit}s reached")
    except Exception as error:
        run.result.failures.append(f"scenario error: {error!r}"[:500])
    finally:
        await run.close()
    run.result.duration_s = round(time.monotonic() - run.started, 1)
    return run.result


# 1. kill -9 at random moments ---------------------------------------------------------


async def kill9(run: Run) -> None:
    (worker,) = await run.open()
    await run.setup()
    rng = random.Random(run.cfg.seed)
    times = await _kills_during_load(run, worker, rng)
    await run.finish()
    run.result.notes.append(f"kills at {[round(t, 1) for t in times]} s")


async def _kills_during_load(run: Run, worker: WorkerProc, rng: random.Random) -> list[float]:
    """The load, with ``cfg.kills`` kill -9s of ``worker`` at random times (each followed
    by a restart), then the drain; returns the kill times (s after the load's start)."""
    load = run.spawn(run.send_load())
    span = max(run.load_seconds, run.cfg.kills * 6.0)  # a restart takes ~2-3 s
    times = sorted(rng.uniform(0.3, span) for _ in range(run.cfg.kills))
    t0 = time.monotonic()
    for at in times:
        await asyncio.sleep(max(0.0, t0 + at - time.monotonic()))
        worker.kill()
        run.result.faults += 1
        await worker.start()
    fault_end = time.monotonic()
    await load
    await run.drain(fault_end)
    return times


# 2. a crash at each fixed point ------------------------------------------------------------

CRASH_NTH = {"after_receive": 40, "after_commit": 40, "after_claim": 3, "after_confirm": 3}


def crash_at(point: str) -> Callable[[Run], Awaitable[None]]:
    async def scenario(run: Run) -> None:
        (worker,) = await run.open()
        await run.setup()
        worker.kill()  # the crashing incarnation starts after the setup
        await worker.start(DOCBUS_CRASH_AT=f"{point}:{CRASH_NTH[point]}")
        load = run.spawn(run.send_load())
        code = await worker.wait_exit(run.load_seconds + 30)
        if code is None:
            run.result.failures.append(f"the worker never crashed at {point}")
            worker.kill()
        elif code != 137:
            run.result.failures.append(f"the worker exited {code}, not 137")
        run.result.faults += 1
        await worker.start()  # without the switch
        fault_end = time.monotonic()
        await load
        await run.drain(fault_end)
        await run.finish()

    return scenario


# 3. RabbitMQ restarted during load ---------------------------------------------------------


async def wait_consumers(run: Run, workers: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        table = await queue_table(run.stage.vhost)
        missing = [q for q in WORK_QUEUES if table.get(q, (0, 0))[1] < workers]
        if not missing:
            return True
        await asyncio.sleep(1.0)
    run.result.notes.append(f"queues without their consumers: {missing}")
    return False


async def rabbit_restart(run: Run) -> None:
    """Two restarts, the second while the worker may still be reconnecting from the first."""
    await run.open()
    await run.setup()
    load = run.spawn(run.send_load())
    await asyncio.sleep(run.load_seconds / 4)
    for pause in (2.0, 1.0):
        try:
            await actl("stop_app", timeout=120)
            run.result.faults += 1
            await asyncio.sleep(2)
        finally:
            await actl("start_app", timeout=120)
        await asyncio.sleep(pause)
    fault_end = time.monotonic()
    await wait_rabbit()
    run.result.consumers_ok = await wait_consumers(run, 1, 60)
    await load
    await run.drain(fault_end)
    await run.finish()
    if not run.result.consumers_ok:  # the backlog cannot drain without consumers
        run.result.notes.append("see the worker log for the consumer that did not come back")


# 4. PostgreSQL restarted, then its backends terminated ------------------------------------


async def postgres_restart(run: Run) -> None:
    await run.open()
    await run.setup()
    load = run.spawn(run.send_load())
    await asyncio.sleep(run.load_seconds / 5)
    try:
        await asyncio.to_thread(pg_ctl, "restart")
        run.result.faults += 1
    finally:
        await wait_postgres(run.stage.pg_url)
    await asyncio.sleep(run.load_seconds / 5)
    for _ in range(2):
        run.result.notes.append(f"terminated {await terminate_backends(run.stage.pg_url)} backends")
        run.result.faults += 1
        await asyncio.sleep(run.load_seconds / 5)
    fault_end = time.monotonic()
    await load
    await run.drain(fault_end)
    await run.finish()


# 5. Valkey stopped, hung, restarted, with readers checking their own writes --------------


@dataclass
class Reader:
    """Uploads into a folder of its own, then lists, gets and searches (its folder, the
    document's name): the write must be visible to each."""

    run: Run
    user: str
    folder: str
    reads: int = 0
    stale: int = 0
    unanswered: int = 0
    n: int = 0

    async def loop(self, stop: asyncio.Event) -> None:
        last_doc: str | None = None
        while not stop.is_set():
            self.n += 1
            new = last_doc is None or self.n % 3 != 0
            doc = f"{self.folder}-d{self.n}" if new else last_doc
            assert doc is not None
            cmd = self.run.plan.upload(doc, self.user, self.folder)
            self.run.extra.append(cmd)
            try:
                reply = await self.run.amqp.request(cmd, timeout=10, attempts=4)
            except TimeoutError:
                self.unanswered += 1
                continue
            if not reply.get("ok"):
                continue  # the checker counts it as rejected
            last_doc = doc
            version = reply["data"]["version"]
            await self._check(doc, version)

    async def _check(self, doc: str, version: int) -> None:
        plan = self.run.plan
        listing = Command(plan.message_id("q"), "folder.list",
                          {"folder_id": self.folder, "user_id": self.user, "limit": 5},
                          "query", "")
        get = Command(plan.message_id("q"), "document.get",
                      {"doc_id": doc, "user_id": self.user}, "query", "")
        search = Command(plan.message_id("q"), "document.search",
                         {"org_id": plan.org, "user_id": self.user, "folder_id": self.folder,
                          "text": f"{doc}.pdf", "limit": 5}, "query", "")
        try:
            listed = await self.run.amqp.request(listing, timeout=10, attempts=3)
            got = await self.run.amqp.request(get, timeout=10, attempts=3)
            found = await self.run.amqp.request(search, timeout=10, attempts=3)
        except TimeoutError:
            self.unanswered += 1
            return
        self.reads += 3
        hits = [(d["doc_id"], d["version"]) for d in found.get("data", {}).get("documents", [])]
        if not hits or hits[0] != (doc, version):
            self.stale += 1
            self.run.result.notes.append(f"stale search after {doc} v{version}: {hits[:2]}")
        docs = [(d["doc_id"], d["version"]) for d in listed.get("data", {}).get("documents", [])]
        if not docs or docs[0] != (doc, version):
            self.stale += 1
            self.run.result.notes.append(f"stale listing after {doc} v{version}: {docs[:2]}")
        data = got.get("data") or {}
        if data.get("version") != version or len(data.get("versions", [])) != version:
            self.stale += 1
            self.run.result.notes.append(f"stale get after {doc} v{version}: {data.get('version')}")


async def valkey_faults(run: Run) -> None:
    await run.open()
    await run.setup()
    stage = run.stage
    readers = [
        Reader(run, run.plan.users[1 + i % 7], folder)
        for i, folder in enumerate(run.plan.reader_folders)
    ]
    stop = asyncio.Event()
    reading = [run.spawn(r.loop(stop)) for r in readers]
    load = run.spawn(run.send_load())
    try:
        await asyncio.sleep(1.0)
        stage.stop_valkey()  # stopped
        run.result.faults += 1
        await asyncio.sleep(3.0)
        stage.start_valkey()
        await asyncio.sleep(2.0)
        assert stage.valkey is not None
        stage.valkey.send_signal(signal.SIGSTOP)  # hung: connections accepted, no answer
        run.result.faults += 1
        await asyncio.sleep(4.0)
        stage.valkey.send_signal(signal.SIGCONT)
        await asyncio.sleep(2.0)
        stage.stop_valkey()  # restarted: empty, a new run_id
        stage.start_valkey()
        run.result.faults += 1
    finally:
        if stage.valkey is not None:
            stage.valkey.send_signal(signal.SIGCONT)
        else:
            stage.start_valkey()
    fault_end = time.monotonic()
    await asyncio.sleep(2.0)  # read a little after the last fault too
    stop.set()
    await asyncio.gather(*reading)
    await load
    r = run.result
    r.reads = sum(x.reads for x in readers)
    r.stale_reads = sum(x.stale for x in readers)
    if unanswered := sum(x.unanswered for x in readers):
        r.notes.append(f"{unanswered} reader request(s) unanswered in time")
    await run.drain(fault_end)
    await run.finish()


# 6. three workers, one stopped gracefully; then the last two, then a fresh one ----------


async def graceful(run: Run) -> None:
    """SIGTERM must cause no redelivery (nothing left unacknowledged) and must drain the
    outbox: checked with a backlog in the queues, first for one worker of three, then for
    the last two at once (nobody else can relay their events), then a fresh worker drains."""
    workers = await run.open(workers=3)
    await run.setup()
    deadline = run.started + run.cfg.time_limit
    burst = run.cfg.rate * 10  # a backlog, so that every worker has a full prefetch in flight
    half = len(run.plan.load) // 2
    await send_all(run.amqp, run.plan.load[:half], rate=burst, deadline=deadline)
    await asyncio.sleep(0.3)
    await _stop_gracefully(run, [workers[1]])
    await send_all(run.amqp, run.plan.load[half:], rate=burst, deadline=deadline)
    await asyncio.sleep(0.3)
    await _stop_gracefully(run, [workers[0], workers[2]])
    inbox, outbox, _ = await run.counts()
    if outbox:
        run.result.failures.append(f"{outbox} event(s) left in the outbox by a graceful stop")
    run.result.notes.append(
        f"{inbox} commands decided before the last workers stopped; outbox then: {outbox}"
    )
    fresh = run.stage.worker("w4")
    await fresh.start()
    fault_end = time.monotonic()
    await run.drain(fault_end)
    await run.finish(no_redelivery=True)
    if run.result.redeliveries:
        run.result.notes.append(
            f"{run.result.redeliveries} redelivered flag(s), none redone: messages RabbitMQ"
            " requeued at basic.cancel while they were on their way to the stopping worker"
        )


async def _stop_gracefully(run: Run, procs: list[WorkerProc]) -> None:
    codes = await asyncio.gather(*(p.terminate(timeout=60) for p in procs))
    run.result.faults += len(procs)
    for proc, code in zip(procs, codes, strict=True):
        logs = proc.logs()
        if code != 0:
            run.result.failures.append(f"SIGTERMed {proc.name} exited {code}")
        if "shutdown_deadline_passed" in logs or "worker_stopped" not in logs:
            run.result.failures.append(f"{proc.name}: graceful shutdown missed its deadline")


# 7. the same message_id twice, concurrently, to two workers -------------------------------


async def twice(run: Run) -> None:
    await run.open(workers=2)
    await run.setup()
    sem = asyncio.Semaphore(100)

    async def pair(cmd: Command) -> None:
        async with sem:
            await asyncio.gather(
                run.amqp.publish(cmd, correlation_id=f"{cmd.message_id}#1"),
                run.amqp.publish(cmd, correlation_id=f"{cmd.message_id}#2"),
            )

    t0 = time.monotonic()
    await asyncio.gather(*(pair(c) for c in run.plan.load))
    await run.drain(t0)
    # Every copy must have been answered, and the checker compares the two replies.
    await asyncio.sleep(0.5)
    missing = [
        c.message_id for c in run.plan.load
        if not (run.amqp.replies.get(f"{c.message_id}#1")
                and run.amqp.replies.get(f"{c.message_id}#2"))
    ]
    if missing:
        run.result.failures.append(f"{len(missing)} copies got no reply, e.g. {missing[:3]}")
    run.result.faults = len(run.plan.load)
    await run.finish()


# 7. kill -9 of the relay publishing to RabbitMQ and Valkey Streams -------------------------

STREAMS_ENV = {
    "DOCBUS_EVENT_TRANSPORTS": "rabbitmq,valkey-streams",
    "DOCBUS_AUDIT_SOURCE": "valkey-streams",
    # a killed worker's pending entries are reclaimed by its next incarnation soon
    "DOCBUS_STREAMS_RECLAIM_IDLE_MS": "2000",
}
STREAM_KEY = "docbus:events"  # DOCBUS_STREAMS_STREAM's default


async def kill9_streams(run: Run) -> None:
    """kill -9 at random moments of the worker whose relay publishes every event to both
    transports, its audit reading the stream. Besides the checker's rules (every committed
    effect's event on the tap and in the audit log, once): every event is on the stream
    exactly once, and the stream holds no event the audit log lacks. Only this scenario's
    worker and Valkey are touched; the shared servers are not."""
    (worker,) = await run.open(**STREAMS_ENV)
    await run.setup()
    rng = random.Random(run.cfg.seed + 7)
    times = await _kills_during_load(run, worker, rng)
    await _stream_audited(run)
    await run.finish()
    await _check_stream(run)
    run.result.notes.append(f"kills at {[round(t, 1) for t in times]} s")


async def crash_after_stream_confirm(run: Run) -> None:
    """The relay dies after the stream confirmed a batch, before marking its rows: the
    batch is published again to the stream after the restart, and must not be doubled
    there (its de-dup key). RabbitMQ got the batch at the same time, unmarked too: it sees
    it twice (allowed, consumers de-duplicate by event_id; the tap counts it)."""
    (worker,) = await run.open(**STREAMS_ENV)
    await run.setup()
    worker.kill()
    await worker.start(DOCBUS_CRASH_AT="after_stream_confirm:3")
    load = run.spawn(run.send_load())
    code = await worker.wait_exit(run.load_seconds + 30)
    if code is None:
        run.result.failures.append("the worker never crashed after the stream's confirm")
        worker.kill()
    run.result.faults += 1
    await worker.start()
    fault_end = time.monotonic()
    await load
    await run.drain(fault_end)
    await _stream_audited(run)
    await run.finish()
    await _check_stream(run)


async def _stream_events(run: Run) -> tuple[list[str], int]:
    """Every event id on the stream, in order, and the audit group's pending count."""
    client = Valkey.from_url(run.stage.valkey_url)
    try:
        entries = await client.xrange(STREAM_KEY)
        pending = await client.xpending(STREAM_KEY, "docbus.audit")
        return [f[b"event_id"].decode() for _, f in entries], int(pending["pending"])
    finally:
        await client.aclose()


async def _audit_ids(run: Run) -> set[str]:
    conn = await asyncpg.connect(plain_dsn(run.stage.pg_url), timeout=5)
    try:
        return {r[0] for r in await conn.fetch("SELECT event_id FROM audit_log")}
    finally:
        await conn.close()


async def _stream_audited(run: Run) -> None:
    """Until the audit read the whole stream (nothing pending, every event logged)."""
    deadline = time.monotonic() + run.cfg.drain_timeout
    while time.monotonic() < deadline:
        events, pending = await _stream_events(run)
        if not pending and set(events) <= await _audit_ids(run):
            return
        await asyncio.sleep(0.5)
    run.result.failures.append("the audit never caught up with the stream")


async def _check_stream(run: Run) -> None:
    events, pending = await _stream_events(run)
    doubled = len(events) - len(set(events))
    if doubled:
        run.result.failures.append(f"{doubled} event(s) twice on the stream")
    if extra := await _audit_ids(run) - set(events):
        run.result.failures.append(f"{len(extra)} audited event(s) not on the stream")
    if pending:
        run.result.failures.append(f"{pending} stream entries never acknowledged")
    run.result.notes.append(f"stream: {len(events)} entries, {doubled} doubled")


# control: a relay that deletes outbox rows before publishing, with a crash in between -----


async def control_naive_relay(run: Run) -> None:
    (worker,) = await run.open(DOCBUS_FAULTS_NAIVE_RELAY="1")
    await run.setup()
    worker.kill()
    await worker.start(DOCBUS_CRASH_AT="after_claim:3")
    load = run.spawn(run.send_load())
    code = await worker.wait_exit(run.load_seconds + 30)
    if code is None:
        worker.kill()
    run.result.faults += 1
    await worker.start()
    fault_end = time.monotonic()
    await load
    await run.drain(fault_end)
    await run.finish()


def scenarios(cfg: Config) -> dict[str, Callable[[], Awaitable[Result]]]:
    """Every scenario by name, in the order the suite runs them."""
    table: dict[str, Callable[[], Awaitable[Result]]] = {
        "kill9": lambda: run_scenario("kill9", cfg, kill9, size=cfg.kill_size),
    }
    for point in POINTS:
        table[f"crash_{point}"] = _bind(f"crash_{point}", cfg, crash_at(point))
    table["rabbit_restart"] = _bind("rabbit_restart", cfg, rabbit_restart)
    table["postgres_restart"] = _bind("postgres_restart", cfg, postgres_restart)
    # Lighter bulk load: the readers' requests queue behind it, and they are the point.
    light = Size(max(40, cfg.size.uploads // 4), cfg.size.shares // 4)
    table["valkey"] = lambda: run_scenario(
        "valkey", cfg, valkey_faults, size=light, readers=cfg.readers
    )
    table["graceful"] = _bind("graceful", cfg, graceful)
    table["twice"] = lambda: run_scenario(
        "twice", cfg, twice, size=Size(max(20, cfg.size.uploads // 3), cfg.size.shares // 3)
    )
    table["kill9_streams"] = _bind("kill9_streams", cfg, kill9_streams)
    table["crash_stream_confirm"] = _bind(
        "crash_stream_confirm", cfg, crash_after_stream_confirm
    )
    table["control"] = lambda: run_scenario(
        "control", cfg, control_naive_relay, control=True
    )
    return table


def _bind(name: str, cfg: Config, body: Callable[[Run], Awaitable[None]]) -> Any:
    return lambda: run_scenario(name, cfg, body)
