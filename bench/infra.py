"""The servers and processes of one run: a vhost, a database, Valkey and workers.

Everything is created fresh on loopback and removed by ``Stack.close()``: the database
``docbus_bench_<hex>`` is dropped, the vhost deleted, Valkey and every process stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil  # type: ignore[import-untyped]

from bench import loops
from bench.stats import BenchError
from docbus.adapters.postgres.migrate import drop_database, ensure_database, upgrade_async
from docbus.devtools.embedded_valkey import EmbeddedValkey, free_port, start_valkey

ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024
# Other servers of the same installations on loopback (e.g. when a fault suite keeps
# restarting the shared ones): PostgreSQL's port, RabbitMQ's AMQP port and the node
# name rabbitmqctl manages.
PG_PORT = int(os.environ.get("DOCBUS_BENCH_PG_PORT", "5432"))
PG_SERVER = f"postgresql://postgres@127.0.0.1:{PG_PORT}"
AMQP_PORT = int(os.environ.get("DOCBUS_BENCH_RABBIT_PORT", "5672"))
AMQP_SERVER = f"amqp://guest:guest@127.0.0.1:{AMQP_PORT}"
RABBIT_NODE = os.environ.get("DOCBUS_BENCH_RABBIT_NODE", "")


def rabbitmqctl(*args: str) -> None:
    """Run ``rabbitmqctl -q``; BenchError with its output if it fails."""
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        raise BenchError("rabbitmqctl not found: it creates and deletes the run's vhost")
    node = ["-n", RABBIT_NODE] if RABBIT_NODE else []
    done = subprocess.run(  # noqa: S603 - our own fixed arguments
        [ctl, *node, "-q", *args], capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:
        raise BenchError(f"rabbitmqctl {' '.join(args)}: {done.stderr.strip()}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process used so far."""
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


class WorkerProcess:
    """``docbus worker`` as a subprocess (as the e2e suite runs it); JSON log to a file."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 60.0) -> None:
        """Start it and wait for its ``worker_started`` log line."""
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "docbus.ops.cli", "worker"],
                cwd=ROOT, env=self.env, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"worker exited: {self._tail()}")
            if b"worker_started" in self.log_path.read_bytes():
                return
            time.sleep(0.05)
        raise BenchError(f"worker did not start in {timeout}s: {self._tail()}")

    def rss_mib(self) -> float:
        """Resident set size of the worker process, MiB."""
        return float(psutil.Process(self.pid).memory_info().rss) / MIB

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (graceful shutdown), SIGKILL if it takes longer than ``timeout``."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def _tail(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-3000:]
        return "(no log)"


@dataclass
class Stack:
    """The run's vhost, database, Valkey and workers; ``close()`` removes them all.

    Every worker runs on ``event_loop`` (``uvloop`` or ``asyncio``, see ``bench.loops``):
    it is set in the worker's environment, and checked once the worker started.
    """

    event_loop: str
    vhost: str = field(default_factory=lambda: f"docbus-bench-{secrets.token_hex(5)}")
    database: str = field(default_factory=lambda: f"docbus_bench_{secrets.token_hex(6)}")
    log_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="docbus-bench-")))
    valkey: EmbeddedValkey | None = None
    workers: list[WorkerProcess] = field(default_factory=list)
    _vhost_created: bool = False
    _database_created: bool = False

    @property
    def amqp_url(self) -> str:
        return f"{AMQP_SERVER}/{self.vhost}"

    @property
    def pg_url(self) -> str:
        return f"{PG_SERVER}/{self.database}"

    @property
    def valkey_url(self) -> str:
        assert self.valkey is not None
        return self.valkey.url

    async def open(self) -> None:
        """Create the vhost and the migrated database, start Valkey."""
        rabbitmqctl("add_vhost", self.vhost)
        self._vhost_created = True
        rabbitmqctl("set_permissions", "-p", self.vhost, "guest", ".*", ".*", ".*")
        await ensure_database(self.pg_url)
        self._database_created = True
        await upgrade_async(self.pg_url)
        self.valkey = start_valkey("127.0.0.1", free_port())

    def worker_env(self) -> dict[str, str]:
        """The environment of a worker of this run (every DOCBUS_ variable set here)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCBUS_")}
        env.update(
            DOCBUS_DATABASE_URL=self.pg_url, DOCBUS_VALKEY_URL=self.valkey_url,
            DOCBUS_RABBIT_URL=self.amqp_url, DOCBUS_LOG_FORMAT="json", PYTHONPATH=str(ROOT),
            DOCBUS_EVENT_LOOP=self.event_loop,
        )
        return env

    def start_worker(self, **env: str) -> WorkerProcess:
        """A worker of this run, with these variables besides (e.g. DOCBUS_TRACING)."""
        worker = WorkerProcess(
            self.worker_env() | env, self.log_dir / f"worker-{len(self.workers)}.log"
        )
        self.workers.append(worker)
        worker.start()
        loops.check(f"worker {len(self.workers)}", loops.mapped_in(worker.pid), self.event_loop)
        return worker

    async def close(self, keep_logs: bool = False) -> list[str]:
        """Stop every worker and Valkey, drop the database, delete the vhost.

        Each step runs whatever happened to the others, and the server-side ones are
        retried for a while (another suite may be restarting a server right then).
        Returns what could not be removed, for the caller to report.
        """
        for worker in self.workers:
            worker.stop()
        if self.valkey is not None:
            self.valkey.stop()
        left: list[str] = []
        if self._database_created and not await _retry(lambda: drop_database(self.pg_url)):
            left.append(f"database {self.database}")
        if self._vhost_created and not await _retry(
            lambda: asyncio.to_thread(rabbitmqctl, "delete_vhost", self.vhost)
        ):
            left.append(f"vhost {self.vhost}")
        if not keep_logs:
            shutil.rmtree(self.log_dir, ignore_errors=True)
        return left


async def _retry(step: Callable[[], Awaitable[object]], seconds: float = 90.0) -> bool:
    """Run ``step`` until it succeeds or ``seconds`` passed; True if it succeeded."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            await step()
        except Exception:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(2.0)
        else:
            return True
