"""Fault scenarios on a three-node RabbitMQ cluster (tests/cluster/cluster.py).

Every scenario runs on a ``ClusterStage``: the stage of the other scenarios (a fresh
database, Valkey of its own, real worker subprocesses) whose broker is the cluster, in
its default vhost, wiped for each scenario. The workers and the suite's own client get
every node (``DOCBUS_RABBIT_URL`` as a comma-separated list) and fail over by themselves.
Only the cluster's own nodes are killed: the machine's RabbitMQ on 5672 is never touched.

Besides the checker's figures (lost, duplicate effects, missing audit, dead letters),
each scenario records the longest gap in commits while work was offered (at most
``MAX_GAP`` seconds), the suite's own publisher gap beside it (tests/faults/gaps.py) and,
in its notes, the plain gap between commits, where each gap lay relative to the first
fault, how the queue leaders were spread at the start and after the faults, and what
``/readyz`` said around the failover.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, replace
from typing import Any

from docbus.devtools.embedded_valkey import free_port
from tests.cluster.cluster import Cluster, Node
from tests.faults.checker import Result
from tests.faults.infra import Stage, WorkerProc
from tests.faults.load import Size
from tests.faults.scenarios import Config, Run, run_scenario

MAX_GAP = 10.0
VHOST = "/"


@dataclass(frozen=True)
class ClusterConfig:
    down_s: float  # how long a killed node stays down
    rate: float  # commands per second (the load lasts uploads / rate seconds)
    size: Size


CLUSTER_SIZES = {
    "ci": ClusterConfig(down_s=6.0, rate=40.0, size=Size(300, 40)),
    "default": ClusterConfig(down_s=20.0, rate=100.0, size=Size(3000, 400)),
    "full": ClusterConfig(down_s=60.0, rate=150.0, size=Size(12000, 1000)),
}


class ClusterStage(Stage):
    """A stage whose broker is the cluster (every node's URL, the default vhost)."""

    cluster: Cluster
    restores_shared = False  # only the cluster's own nodes are faulted

    @property
    def rabbit_url(self) -> str:
        return ",".join(f"{url}%2F" for url in self.cluster.urls)

    async def open(self) -> None:
        self.shared_vhost = VHOST
        await super().open()

    async def queue_table(self) -> dict[str, tuple[int, int]]:
        out = await asyncio.to_thread(
            self.cluster.run, self.cluster.live(), "rabbitmqctl", "list_queues", "-p", VHOST,
            "name", "messages", "consumers", "--no-table-headers",
        )
        table: dict[str, tuple[int, int]] = {}
        for line in (out or "").splitlines():
            parts = line.split("\t")
            if len(parts) == 3 and parts[1].isdigit():
                table[parts[0]] = (int(parts[1]), int(parts[2]))
        return table


def node_of(worker: WorkerProc, connection: str = "docbus-consume") -> str | None:
    """The ``host:port`` the worker's named connection was connected to last (its log)."""
    node = None
    for line in worker.logs().splitlines():
        if '"broker_connected"' in line:
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if entry.get("connection") == connection:
                    node = entry.get("node")
    return node


def by_port(cluster: Cluster, address: str | None) -> Node:
    port = int((address or ":0").rsplit(":", 1)[1])
    return next(n for n in cluster.nodes if n.port == port)


def spread(cluster: Cluster) -> str:
    """How many of docbus's queue leaders each node holds, e.g. ``c1=4 c2=4 c3=3``."""
    try:
        leaders = cluster.leaders(VHOST)
    except Exception as error:
        return f"unknown ({error!r})"[:120]
    counts = collections.Counter(
        leader.split("@")[0].removeprefix("docbus-")
        for queue, leader in leaders.items() if queue.startswith("docbus.")
    )
    return " ".join(f"{node}={counts[node]}" for node in sorted(counts))


class ReadyWatch:
    """Polls a worker's /readyz every 0.1 s and keeps the transitions."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/readyz"
        self.changes: list[tuple[float, bool]] = []
        self.started = time.monotonic()

    async def run(self) -> None:
        while True:
            ready = await asyncio.to_thread(self._ready)
            if not self.changes or self.changes[-1][1] != ready:
                self.changes.append((round(time.monotonic() - self.started, 1), ready))
            await asyncio.sleep(0.1)

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.url, timeout=1) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def summary(self) -> str:
        return "readyz " + " -> ".join(
            f"{'ready' if ready else 'NOT ready'}@{at}s" for at, ready in self.changes
        )


class ClusterRun(Run):
    """A Run on the cluster stage."""

    def __init__(self, name: str, cfg: Config, cluster: Cluster, ccfg: ClusterConfig) -> None:
        super().__init__(name, cfg, ccfg.size)
        stage = ClusterStage(self.name, self.stage.log_dir, shared_vhost=VHOST)
        stage.cluster = cluster
        self.stage = stage
        self.cluster = cluster
        self.ccfg = ccfg
        self.cfg = _with_rate(cfg, ccfg.rate)
        self.result.max_commit_gap_s = MAX_GAP
        self.fault_at: float | None = None  # wall-clock time of the first fault

    async def start(self, workers: int = 1, *, watch: bool = False) -> list[WorkerProc]:
        env = {"DOCBUS_RABBIT_RECONNECT_INTERVAL": "1"}
        port = free_port() if watch else 0
        if watch:
            env["DOCBUS_HTTP_PORT"] = str(port)
            env["DOCBUS_HTTP_HOST"] = "127.0.0.1"
        procs = await self.open(workers, **env)
        self.result.notes.append(f"leaders at start: {spread(self.cluster)}")
        if watch:
            self.watch = ReadyWatch(port)
            self.spawn(self.watch.run())
        await self.setup()
        return procs

    async def end(self, since: float) -> Result:
        await self.drain(since)
        self.result.notes.append(f"leaders after: {spread(self.cluster)}")
        if getattr(self, "watch", None) is not None:
            self.result.notes.append(self.watch.summary())
        result = await self.finish()
        await self.measure_gaps(self.fault_at)
        t0 = self.fault_at or 0.0
        self.result.notes.append("suite publisher connected to " + ", ".join(
            f"{node} at t{at - t0:+.1f}" for at, node in self.amqp.stats.connected
        ))
        result.failures.clear()
        result.judge()
        return result


def _with_rate(cfg: Config, rate: float) -> Config:
    return replace(cfg, rate=rate, time_limit=max(cfg.time_limit, 240))


async def _mid_load(run: ClusterRun) -> asyncio.Task[float]:
    """Start the load; return once a third of it has been sent."""
    load = run.spawn(run.send_load())
    await asyncio.sleep(run.load_seconds / 3)
    return load


async def _outage(run: ClusterRun, node: Node) -> None:
    """kill -9 ``node``, keep it down, start it again."""
    await asyncio.to_thread(run.cluster.kill9, node)
    run.fault_at = run.fault_at or time.time()
    run.result.faults += 1
    run.result.notes.append(f"killed {node.name}")
    await asyncio.sleep(run.ccfg.down_s)
    await asyncio.to_thread(run.cluster.restart, node)


async def kill_worker_node(run: ClusterRun) -> None:
    """kill -9 of the node the worker consumes from, during the load."""
    (worker,) = await run.start(watch=True)
    load = await _mid_load(run)
    await _outage(run, by_port(run.cluster, node_of(worker)))
    run.result.notes.append(f"worker consumes from {node_of(worker)} after the failover")
    await load
    await run.end(time.monotonic())


async def kill_other_node(run: ClusterRun) -> None:
    """kill -9 of a member none of the worker's connections uses (if there is one)."""
    (worker,) = await run.start()
    used = {node_of(worker, name) for name in ("docbus-consume", "docbus-publish",
                                               "docbus-audit")}
    others = [n for n in run.cluster.nodes if f"127.0.0.1:{n.port}" not in used]
    consume = by_port(run.cluster, node_of(worker))
    victim = others[0] if others else next(n for n in run.cluster.nodes if n != consume)
    load = await _mid_load(run)
    await _outage(run, victim)
    await load
    await run.end(time.monotonic())


ROLLING_S = 45.0  # what three clean restarts take here: the load is spread over them


async def rolling_restart(run: ClusterRun) -> None:
    """Every node stopped cleanly and started again, one after the other, during load."""
    await run.start()
    run.cfg = replace(run.cfg, rate=max(5.0, len(run.plan.load) / ROLLING_S))
    load = run.spawn(run.send_load())
    for node in run.cluster.nodes:
        run.fault_at = run.fault_at or time.time()
        await asyncio.to_thread(run.cluster.stop_node, node)
        run.result.faults += 1
        await asyncio.sleep(2)
        await asyncio.to_thread(run.cluster.restart, node)
    await load
    await run.end(time.monotonic())


async def two_workers(run: ClusterRun) -> None:
    """Two workers consuming from different nodes; the first one's node dies, and so does
    the suite's own publishing connection (pinned to that node: the hardest case, every
    time, rather than one run in three), so that the suite's publisher must fail over
    as well: its gap is reported beside the commit gap."""
    first, second = await run.start(workers=2)
    for _ in range(6):  # each connection starts at a random node: retry until they differ
        if node_of(first) != node_of(second):
            break
        second.kill()
        await second.start()
    run.result.notes.append(f"workers consume from {node_of(first)} and {node_of(second)}")
    victim = by_port(run.cluster, node_of(first))
    await run.amqp.pin(f"{victim.url}%2F")
    load = await _mid_load(run)
    await _outage(run, victim)
    await load
    await run.end(time.monotonic())


BODIES: dict[str, Callable[[ClusterRun], Awaitable[None]]] = {
    "cluster_kill_worker_node": kill_worker_node,
    "cluster_kill_other_node": kill_other_node,
    "cluster_rolling_restart": rolling_restart,
    "cluster_two_workers": two_workers,
}


def cluster_scenarios(
    cfg: Config, cluster: Cluster, size: str = "ci"
) -> dict[str, Callable[[], Coroutine[Any, Any, Result]]]:
    """Every cluster scenario by name (``size``: ci, default or full)."""
    ccfg = CLUSTER_SIZES[size]

    def bind(name: str) -> Callable[[], Coroutine[Any, Any, Result]]:
        async def scenario() -> Result:
            run = ClusterRun(name, cfg, cluster, ccfg)
            return await run_scenario(name, run.cfg, lambda _: BODIES[name](run), run=run)

        return scenario

    return {name: bind(name) for name in BODIES}
