"""Servers and workers for the fault suite.

Every scenario runs on a stage of its own: a fresh PostgreSQL database
(``docbus_faults_<hex>``, migrated with the real Alembic migration), a fresh RabbitMQ vhost
and its own ``valkey-server`` on a free port. Workers are real subprocesses
(``python -m tests.faults.worker``: the production worker with the suite's crash
points, tests/faults/crash.py) with the environment of the e2e tier. ``Stage.close``
kills what is left, and drops the database and the vhost, whatever happened.

The faults that touch shared servers (a RabbitMQ or PostgreSQL restart) always restore
them in a ``finally``: ``ensure_services`` starts whatever is found stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import aio_pika
import asyncpg
from sqlalchemy.engine import make_url

from docbus.adapters.amqp_failover import connect_first
from docbus.adapters.postgres.migrate import drop_database, ensure_database, upgrade_async
from docbus.consumers.topology import (
    AUDIT_QUEUE_NAME,
    COMMANDS,
    DEAD,
    DEAD_QUEUE_NAME,
    EVENTS,
    ROUTES,
    declare_topology,
)
from docbus.devtools.embedded_valkey import EmbeddedValkey, answers_ping, free_port, start_valkey
from tests.e2e.conftest import worker_env

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN_URL = os.environ.get(
    "DOCBUS_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
RABBIT_BASE = os.environ.get("DOCBUS_FAULTS_RABBIT_BASE", "amqp://guest:guest@127.0.0.1:5672/")
DELIVERY_LIMIT = 20

# What the suite gives every worker on top of the e2e environment. A retry budget that
# outlasts a PostgreSQL restart (a few seconds), so that a restart is waited out rather
# than answered with `unavailable`; a short shutdown deadline keeps SIGTERM scenarios quick.
WORKER_DEFAULTS = {
    "DOCBUS_RETRY_BUDGET": "20",
    "DOCBUS_SHUTDOWN_DEADLINE": "15",
    "DOCBUS_RABBIT_HEARTBEAT": "5",
    "DOCBUS_DATABASE_POOL_MAX": "8",
    "PYTHONUNBUFFERED": "1",
}


# RabbitMQ ------------------------------------------------------------------------------


def rabbitmqctl(*args: str, timeout: float = 60.0, check: bool = True) -> str:
    done = subprocess.run(
        ["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=timeout,
        check=False,
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {done.stderr.strip()[-500:]}")
    return done.stdout


async def actl(*args: str, timeout: float = 60.0, check: bool = True) -> str:
    return await asyncio.to_thread(rabbitmqctl, *args, timeout=timeout, check=check)


async def queue_table(vhost: str) -> dict[str, tuple[int, int]]:
    """{queue: (messages (ready + unacknowledged), consumers)} of a vhost."""
    out = await actl("list_queues", "-p", vhost, "name", "messages", "consumers", timeout=30)
    table: dict[str, tuple[int, int]] = {}
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[1].isdigit():
            table[parts[0]] = (int(parts[1]), int(parts[2]))
    return table


RABBIT_STATE = (
    "case rabbit:is_running() of false -> stopped; true ->"
    " case whereis(rabbit_fifo_dlx_sup) of undefined -> degraded; _ -> running end end."
)


def rabbit_state() -> str:
    """running, stopped, or degraded: the app runs but its supervisor of quorum queues'
    at-least-once dead-lettering is gone. (RabbitMQ 3.10: quorum queues deleted while
    their dead-letter workers start, e.g. a vhost deleted right after start_app, can
    exhaust that supervisor's restarts; no such queue can be declared until the app is
    restarted.)"""
    done = subprocess.run(
        ["rabbitmqctl", "-q", "eval", RABBIT_STATE], capture_output=True, text=True,
        timeout=30, check=False,
    )
    if done.returncode != 0:
        return "stopped"
    return done.stdout.strip() or "stopped"


async def wait_rabbit(timeout: float = 60.0) -> None:
    """Until a plain AMQP connection opens again."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            connection = await aio_pika.connect(RABBIT_BASE, timeout=3)
            await connection.close()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.3)


# PostgreSQL ----------------------------------------------------------------------------


def pg_cluster() -> tuple[str, str]:
    versions = sorted(os.listdir("/etc/postgresql"))
    return versions[-1], "main"


def pg_ctl(action: str) -> None:
    version, cluster = pg_cluster()
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, cluster, action],
        capture_output=True, timeout=120, check=True,
    )


def pg_running() -> bool:
    version, cluster = pg_cluster()
    done = subprocess.run(
        ["pg_lsclusters", "-h"], capture_output=True, text=True, timeout=30, check=False
    )
    for line in done.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[0] == version and parts[1] == cluster:
            return parts[3] == "online"
    return False


def pg_stopped() -> bool:
    """True if this machine has a local cluster and it is not running."""
    return Path("/etc/postgresql").is_dir() and not pg_running()


def plain_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def wait_postgres(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn = await asyncpg.connect(plain_dsn(url), timeout=3)
            await conn.close()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.3)


async def terminate_backends(url: str) -> int:
    """pg_terminate_backend on every other session of the database; how many."""
    name = make_url(url).database
    conn = await asyncpg.connect(plain_dsn(PG_ADMIN_URL), timeout=10)
    try:
        rows = await conn.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
        return sum(1 for r in rows if r[0])
    finally:
        await conn.close()


async def ensure_services() -> list[str]:
    """Start whatever shared server a fault left stopped; what had to be restored."""
    restored = []
    state = await asyncio.to_thread(rabbit_state) if shutil.which("rabbitmqctl") else ""
    if state == "degraded":
        await actl("stop_app", timeout=120, check=False)
    if state in ("degraded", "stopped"):
        await actl("start_app", timeout=120, check=False)
        await wait_rabbit()
        restored.append(f"rabbitmq ({state})")
    if await asyncio.to_thread(pg_stopped):
        await asyncio.to_thread(pg_ctl, "start")
        restored.append("postgresql")
    return restored


# Workers -------------------------------------------------------------------------------


class WorkerProc:
    """One worker (and its restarts): ``python -m tests.faults.worker`` as a subprocess.

    Each incarnation logs (JSON lines) to a file of its own, so that ``count`` can sum an
    event over every life of the worker, including the ones killed with SIGKILL.
    """

    def __init__(self, name: str, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.env = env
        self.log_dir = log_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self.incarnation = -1
        self.exit_codes: list[int] = []  # one per incarnation that ended
        self._reaped = -1

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}.{self.incarnation}.log"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    async def start(self, timeout: float = 60.0, **extra_env: str) -> None:
        assert not self.alive, "already running"
        self.incarnation += 1
        env = {**self.env, **extra_env}
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(  # noqa: ASYNC220 - spawning does not block
                [sys.executable, "-m", "tests.faults.worker"],
                cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._reap() is not None:
                raise RuntimeError(f"{self.name} exited at start: {self.tail()}")
            if b"worker_started" in self.log_path.read_bytes():
                return
            await asyncio.sleep(0.05)
        raise TimeoutError(f"{self.name} did not start: {self.tail()}")

    def kill(self) -> None:
        """kill -9: no cleanup, no acknowledgement."""
        if self.alive:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self._reap()

    async def terminate(self, timeout: float = 40.0) -> int:
        """SIGTERM and wait (SIGKILL past the timeout); the exit code."""
        assert self.proc is not None
        if self.alive:
            self.proc.send_signal(signal.SIGTERM)
        code = await self.wait_exit(timeout)
        if code is None:
            self.kill()
            return -9
        return code

    async def wait_exit(self, timeout: float) -> int | None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while (code := self._reap()) is None:
            if time.monotonic() > deadline:
                return None
            await asyncio.sleep(0.05)
        return code

    def _reap(self) -> int | None:
        """The exit code if this incarnation ended (recorded once)."""
        if self.proc is None:
            return None
        code = self.proc.poll()
        if code is not None and self._reaped != self.incarnation:
            self._reaped = self.incarnation
            self.exit_codes.append(code)
        return code

    def logs(self) -> str:
        return "".join(
            p.read_text(errors="replace")
            for p in sorted(self.log_dir.glob(f"{self.name}.*.log"))
        )

    def count(self, event: str) -> int:
        return len(re.findall(rf'"event": ?"{re.escape(event)}"', self.logs()))

    def tail(self, chars: int = 3000) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-chars:]
        return ""


# The stage -----------------------------------------------------------------------------


async def create_vhost(prefix: str = "docbus-faults") -> str:
    vhost = f"{prefix}-{secrets.token_hex(5)}"
    await actl("add_vhost", vhost)
    try:
        await actl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    except BaseException:
        await actl("delete_vhost", vhost, check=False)
        raise
    return vhost


async def delete_vhost(vhost: str) -> None:
    await actl("delete_vhost", vhost, timeout=120)


# Everything a scenario may leave in a vhost it shares with the scenarios before it.
SUITE_QUEUES = ("faults.replies", "faults.tap")


async def fresh_topology(url: str) -> None:
    """Delete every queue and exchange of the contract (and the suite's), then declare
    the contract's again: a vhost as good as new, without rabbitmqctl's second per call."""
    connection = await connect_first(url, timeout=10)
    async with connection:
        channel = await connection.channel()
        for queue in (*(r.queue for r in ROUTES), AUDIT_QUEUE_NAME, DEAD_QUEUE_NAME,
                      *SUITE_QUEUES):
            await channel.queue_delete(queue)
        for exchange in (COMMANDS.name, EVENTS.name, DEAD.name):
            await channel.exchange_delete(exchange)
        await declare_topology(connection, DELIVERY_LIMIT)


@dataclass
class Stage:
    """A fresh database, (fresh or wiped) vhost and Valkey for one scenario, and its workers.

    With ``shared_vhost`` the scenario runs in a vhost the suite created once (and deletes
    at its end), wiped clean first; otherwise it creates and deletes a vhost of its own.
    """

    name: str
    log_dir: Path
    shared_vhost: str | None = None
    pg_url: str = ""
    vhost: str = ""
    valkey: EmbeddedValkey | None = None
    valkey_port: int = 0
    workers: list[WorkerProc] = field(default_factory=list)
    # Whether ``close`` restores the shared servers (a stage whose faults never touch them,
    # the cluster's, leaves them alone: it must not even restart a degraded shared node).
    restores_shared: ClassVar[bool] = True
    _db_created: bool = False
    _vhost_created: bool = False

    @property
    def rabbit_url(self) -> str:
        return f"{RABBIT_BASE}{self.vhost}"

    @property
    def valkey_url(self) -> str:
        return f"redis://127.0.0.1:{self.valkey_port}/0"

    async def open(self) -> None:
        token = secrets.token_hex(5)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.pg_url = (
            make_url(PG_ADMIN_URL)
            .set(drivername="postgresql", database=f"docbus_faults_{token}")
            .render_as_string(hide_password=False)
        )
        await ensure_database(self.pg_url)
        self._db_created = True
        await upgrade_async(self.pg_url)
        if self.shared_vhost:
            self.vhost = self.shared_vhost
        else:
            self.vhost = await create_vhost()
            self._vhost_created = True
        await fresh_topology(self.rabbit_url)
        self.valkey_port = free_port()
        self.start_valkey()

    def start_valkey(self) -> None:
        self.valkey = start_valkey("127.0.0.1", self.valkey_port)

    def stop_valkey(self) -> None:
        if self.valkey is not None:
            self.valkey.stop()
            self.valkey = None

    def valkey_answers(self) -> bool:
        return answers_ping("127.0.0.1", self.valkey_port)

    def worker(self, name: str | None = None, **extra_env: str) -> WorkerProc:
        env = worker_env(
            self.pg_url, self.valkey_url, self.rabbit_url, **{**WORKER_DEFAULTS, **extra_env}
        )
        proc = WorkerProc(name or f"w{len(self.workers) + 1}", env, self.log_dir)
        self.workers.append(proc)
        return proc

    def count(self, event: str) -> int:
        return sum(w.count(event) for w in self.workers)

    async def queue_table(self) -> dict[str, tuple[int, int]]:
        """{queue: (messages, consumers)} of the stage's vhost (on its broker)."""
        return await queue_table(self.vhost)

    async def close(self) -> list[str]:
        """Kill workers, restore servers, drop the database, delete the vhost: what failed."""
        problems: list[str] = []
        for w in self.workers:
            w.kill()
        if self.valkey is not None:
            self.valkey.resume()
        self.stop_valkey()
        if self.restores_shared:
            with contextlib.suppress(Exception):
                restored = await ensure_services()
                problems += [f"restored {s}" for s in restored]
        if self._db_created:
            try:
                await wait_postgres(PG_ADMIN_URL, 60)
                await drop_database(self.pg_url)
            except Exception as error:
                problems.append(f"drop database: {error!r}")
        if self._vhost_created:
            try:
                await delete_vhost(self.vhost)
            except Exception as error:
                problems.append(f"delete vhost: {error!r}")
        return problems
