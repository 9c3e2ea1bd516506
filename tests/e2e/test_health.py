"""/healthz, /readyz and /metrics of a real worker, with each dependency taken away in turn
(through a TCP forwarder that the test cuts: the servers themselves stay up for the rest
of the suite)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import orjson
import pytest

from docbus.devtools.embedded_valkey import free_port, start_valkey
from tests.e2e.conftest import WorkerProcess, worker_env
from tests.fixtures.tcp_proxy import TcpProxy

pytestmark = pytest.mark.e2e


async def get(port: int, path: str) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    raw = await reader.read()
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


async def ready_status(port: int) -> tuple[int, dict[str, object]]:
    status, body = await get(port, "/readyz")
    return status, orjson.loads(body)


async def until(port: int, want: str, timeout: float = 30.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    body: dict[str, object] = {}
    while time.monotonic() < deadline:
        _, body = await ready_status(port)
        if body["status"] == want:
            return body
        await asyncio.sleep(0.25)
    raise AssertionError(f"/readyz never said {want}: {body}")


async def listening(port: int, timeout: float = 10.0) -> None:
    """The HTTP server starts with the worker's services, a moment after its start line."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            await get(port, "/healthz")
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def until_check(port: int, name: str, want: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    body: dict[str, object] = {}
    while time.monotonic() < deadline:
        _, body = await ready_status(port)
        if body["checks"].get(name) == want:  # type: ignore[attr-defined]
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"/readyz never said {name} {want}: {body}")


def through(url: str, proxy: TcpProxy) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    user = f"{netloc[0]}@" if len(netloc) == 2 else ""
    return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{proxy.port}"))


@pytest.fixture
async def proxies(rabbit_url: str) -> AsyncIterator[dict[str, TcpProxy]]:
    made = {"postgresql": TcpProxy("127.0.0.1", 5432), "rabbitmq": TcpProxy("127.0.0.1", 5672)}
    for proxy in made.values():
        await proxy.start()
    yield made
    for proxy in made.values():
        await proxy.close()


async def test_readiness_follows_each_dependency_down_and_back(
    worker_pg_url: str, rabbit_url: str, proxies: dict[str, TcpProxy], tmp_path: Path
) -> None:
    valkey = start_valkey("127.0.0.1", free_port())
    port = free_port()
    env = worker_env(
        through(worker_pg_url, proxies["postgresql"]), valkey.url,
        through(rabbit_url, proxies["rabbitmq"]),
        DOCBUS_HTTP_PORT=str(port), DOCBUS_HTTP_HOST="127.0.0.1", DOCBUS_RABBIT_HEARTBEAT="2",
    )
    worker = WorkerProcess(env, tmp_path / "worker.log")
    await asyncio.to_thread(worker.start)
    try:
        await listening(port)
        assert (await get(port, "/healthz"))[0] == 200
        assert (await until(port, "ready"))["checks"] == {
            "postgresql": "up", "rabbitmq": "up", "consumers": "up", "outbox": "up", "valkey": "up",
        }
        status, metrics = await get(port, "/metrics")
        assert status == 200 and b"docbus_build_info{" in metrics
        assert b"docbus_connection_up" in metrics
        assert (await get(port, "/elsewhere"))[0] == 404

        valkey.stop()
        assert (await until(port, "degraded"))["checks"]["valkey"] == "down"  # type: ignore[index]
        assert (await ready_status(port))[0] == 200
        valkey = start_valkey("127.0.0.1", int(urlsplit(valkey.url).port or 0))
        await until(port, "ready")

        for name in ("postgresql", "rabbitmq"):
            await proxies[name].cut()
            await until(port, "not_ready")
            assert (await ready_status(port))[0] == 503
            # Several checks notice the loss, each in its own time (the consumers' view of
            # a broker loss may come first): the one named after the server follows.
            await until_check(port, name, "down")
            assert (await get(port, "/healthz"))[0] == 200, "alive while not ready"
            await proxies[name].restore()
            await until(port, "ready", timeout=45)
    finally:
        await asyncio.to_thread(worker.stop)
        valkey.stop()
