"""End-to-end: a real worker process, real PostgreSQL, Valkey and RabbitMQ, and a plain
aio-pika client that knows nothing but the contract."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aio_pika
import orjson
import pytest
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue

from tests.fixtures.postgres import migrated_scratch_database
from tests.fixtures.rabbit import own_vhost

ROOT = Path(__file__).resolve().parents[2]


class WorkerProcess:
    """``docbus worker`` as a subprocess; its JSON log goes to a file for post-mortems."""

    def __init__(self, env: dict[str, str], log_path: Path, *args: str) -> None:
        self.env = env
        self.log_path = log_path
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "docbus.ops.cli", "worker", *self.args],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=log,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited: {self.log_path.read_text()[-3000:]}")
            if b"worker_started" in self.log_path.read_bytes():
                return
            time.sleep(0.1)
        raise TimeoutError(f"worker did not start: {self.log_path.read_text()[-3000:]}")

    def stop(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        self.proc.terminate()
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def start_worker(module: str, env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """``python -m module`` (a worker entry point), once it logged ``worker_started``."""
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", module, *(["worker"] if module == "docbus.ops.cli" else [])],
            cwd=ROOT, env=env, stdout=log, stderr=log,
        )
    deadline = time.monotonic() + 60
    while b"worker_started" not in log_path.read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"worker did not start: {log_path.read_text()[-3000:]}")
        time.sleep(0.1)
    return proc


@pytest.fixture
async def own_pg_url() -> AsyncIterator[str]:
    """A database for one test's workers alone."""
    async for url in migrated_scratch_database("docbus_own"):
        yield url


@pytest.fixture
def own_rabbit_url() -> Iterator[str]:
    """A vhost for one test's workers alone."""
    with own_vhost("docbus-own") as url:
        yield url


def worker_env(pg_url: str, valkey_url: str, rabbit_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCBUS_")}
    env.update(
        DOCBUS_DATABASE_URL=pg_url,
        DOCBUS_VALKEY_URL=valkey_url,
        DOCBUS_RABBIT_URL=rabbit_url,
        DOCBUS_LOG_FORMAT="json",
        DOCBUS_RETRY_BUDGET="3",
        DOCBUS_SHUTDOWN_DEADLINE="10",
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


def access_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """DOCBUS_E2E_ACCESS_DECIDER=cerbos runs the session's worker with Cerbos deciding
    access (a Cerbos server of the session's own); default: the built-in decider."""
    if os.environ.get("DOCBUS_E2E_ACCESS_DECIDER", "builtin") != "cerbos":
        return {}
    server = request.getfixturevalue("cerbos_server")
    return {"DOCBUS_ACCESS_DECIDER": "cerbos", "DOCBUS_CERBOS_ADDRESS": server.address}


@pytest.fixture(scope="session")
def worker(
    worker_pg_url: str, valkey_url: str, rabbit_url: str, tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[WorkerProcess]:
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    env = worker_env(worker_pg_url, valkey_url, rabbit_url, **access_env(request))
    process = WorkerProcess(env, log_path)
    process.start()
    yield process
    process.stop()


@dataclass
class Client:
    """The independent client: plain aio-pika and the contract, nothing of docbus."""

    channel: AbstractChannel
    replies: AbstractQueue
    pending: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)

    async def request(
        self, routing_key: str, body: Any, *, timeout: float = 10.0, **props: Any
    ) -> dict[str, Any]:
        correlation_id = uuid.uuid4().hex
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[correlation_id] = future
        await self.send(
            routing_key,
            body,
            reply_to="amq.rabbitmq.reply-to",
            correlation_id=correlation_id,
            **props,
        )
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self.pending.pop(correlation_id, None)

    async def send(self, routing_key: str, body: Any, **props: Any) -> None:
        raw = body if isinstance(body, bytes) else orjson.dumps(body)
        props.setdefault("content_type", "application/json")
        props.setdefault("message_id", uuid.uuid4().hex)
        exchange = await self.channel.get_exchange("docbus.commands", ensure=False)
        await exchange.publish(aio_pika.Message(raw, **props), routing_key, mandatory=True)

    async def on_reply(self, message: AbstractIncomingMessage) -> None:
        future = self.pending.get(message.correlation_id or "")
        if future is not None and not future.done():
            future.set_result(orjson.loads(message.body))


@pytest.fixture
async def client(worker: WorkerProcess, rabbit_url: str) -> AsyncIterator[Client]:
    connection = await aio_pika.connect(rabbit_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        replies = await channel.get_queue("amq.rabbitmq.reply-to", ensure=False)
        client = Client(channel, replies)
        await replies.consume(client.on_reply, no_ack=True)  # type: ignore[arg-type]
        yield client


@dataclass
class EventTap:
    """An exclusive queue bound to doc.events: what an audit or analytics consumer sees.

    Only this test's events are kept (their bodies name its ``uid``): one worker serves
    the whole session, and an earlier test's grant may expire, and be published by the
    sweeper, in the middle of this one."""

    queue: AbstractQueue
    mine: bytes
    seen: list[tuple[str, dict[str, Any], AbstractIncomingMessage]] = field(default_factory=list)

    async def collect(self, count: int, timeout: float = 10.0) -> list[tuple[str, dict[str, Any]]]:
        deadline = time.monotonic() + timeout
        while len(self.seen) < count and time.monotonic() < deadline:
            message = await self.queue.get(no_ack=True, fail=False)
            if message is None:
                await asyncio.sleep(0.05)
                continue
            self.keep(message)
        return [(k, b) for k, b, _ in self.seen]

    def keep(self, message: AbstractIncomingMessage) -> None:
        if self.mine in message.body:
            self.seen.append((message.routing_key or "", orjson.loads(message.body), message))

    async def quiet(self, seconds: float = 1.0) -> list[tuple[str, dict[str, Any]]]:
        """Everything that arrives within ``seconds`` (to prove that nothing else does)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            message = await self.queue.get(no_ack=True, fail=False)
            if message is None:
                await asyncio.sleep(0.05)
            else:
                self.keep(message)
        return [(k, b) for k, b, _ in self.seen]


@pytest.fixture
async def events(worker: WorkerProcess, rabbit_url: str, uid: str) -> AsyncIterator[EventTap]:
    connection = await aio_pika.connect(rabbit_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind("doc.events", routing_key="#")
        yield EventTap(queue, uid.encode())


@pytest.fixture
def uid() -> str:
    """A fresh prefix for every identifier a test creates."""
    return uuid.uuid4().hex[:8]
