"""Readiness rules and the HTTP routes of consumers/health.py (a real socket, port 0)."""

from __future__ import annotations

import asyncio

import orjson

from docbus.consumers import metrics
from docbus.consumers.health import HealthServer, Probe, Readiness


def probe(name: str, up: bool, *, required: bool = True, hang: bool = False) -> Probe:
    async def check() -> bool:
        if hang:
            await asyncio.sleep(60)
        if up is None:
            raise RuntimeError("boom")
        return up

    return Probe(name, check, required)


async def test_every_required_check_up_is_ready() -> None:
    status, body = await Readiness([probe("a", True), probe("b", True)]).report()
    assert (status, body["status"]) == (200, "ready")


async def test_an_optional_check_down_is_degraded_but_ready() -> None:
    status, body = await Readiness([probe("a", True), probe("v", False, required=False)]).report()
    assert (status, body["status"]) == (200, "degraded")
    assert body["checks"] == {"a": "up", "v": "down"}


async def test_a_required_check_down_or_raising_is_not_ready() -> None:
    async def boom() -> bool:
        raise ConnectionError

    for failing in (probe("a", False), Probe("a", boom)):
        status, body = await Readiness([failing, probe("b", True)]).report()
        assert (status, body["status"]) == (503, "not_ready")


async def get(port: int, line: str) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(line.encode() + b"\r\nHost: x\r\n\r\n")
    raw = await reader.read()
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


async def test_routes_answer_only_their_own_paths() -> None:
    server = HealthServer(Readiness([probe("a", False)]), "127.0.0.1", 0)
    await server.start()
    try:
        assert await get(server.port, "GET /healthz HTTP/1.1") == (200, b'{"status":"alive"}')
        status, body = await get(server.port, "GET /readyz HTTP/1.1")
        assert status == 503 and orjson.loads(body)["status"] == "not_ready"
        status, body = await get(server.port, "GET /metrics HTTP/1.1")
        assert status == 200 and b"docbus_build_info{" in body
        assert f'version="{metrics.BUILD_VERSION}"'.encode() in body
        assert (await get(server.port, "GET / HTTP/1.1"))[0] == 404
        assert (await get(server.port, "POST /healthz HTTP/1.1"))[0] == 405
    finally:
        await server.close()
