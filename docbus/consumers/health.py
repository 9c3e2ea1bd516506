"""Health, readiness and metrics over HTTP: ``/healthz``, ``/readyz``, ``/metrics``.

- ``/healthz``: the process is alive and its event loop answers (200, always, while it can).
- ``/readyz``: 200 when every required check passes ("ready", or "degraded" when only an
  optional one fails, e.g. Valkey: the worker then serves from PostgreSQL), 503 otherwise
  ("not_ready"). The body is JSON: the status and each check's outcome.
- ``/metrics``: the Prometheus exposition; every other path is 404.

Checks are probes the composition root hands over; each has a time limit, and a probe that
raises or times out fails. Readiness never relies on the broker's consumer count (during
a node loss a surviving node keeps reporting a dead consumer for a minute): the worker's
own view of its connections and consumers is what counts.

A small asyncio server (no framework): three GET routes and nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

PROBE_TIMEOUT = 2.0


@dataclass(frozen=True, slots=True)
class Probe:
    """One readiness check: ``check`` answers True (up) or raises / answers False (down)."""

    name: str
    check: Callable[[], Awaitable[bool]]
    required: bool = True


async def _outcome(probe: Probe) -> bool:
    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            return bool(await probe.check())
    except Exception:
        return False


class Readiness:
    def __init__(self, probes: Sequence[Probe]) -> None:
        self._probes = list(probes)

    async def report(self) -> tuple[int, dict[str, object]]:
        """(HTTP status, body): every probe at once, each within its time limit."""
        results = await asyncio.gather(*(_outcome(p) for p in self._probes))
        pairs = list(zip(self._probes, results, strict=True))
        checks = {p.name: "up" if ok else "down" for p, ok in pairs}
        required_down = any(not ok and p.required for p, ok in pairs)
        if required_down:
            return 503, {"status": "not_ready", "checks": checks}
        status = "ready" if all(results) else "degraded"
        return 200, {"status": status, "checks": checks}


class HealthServer:
    """Serves the three routes on ``host:port`` until closed."""

    def __init__(self, readiness: Readiness, host: str, port: int) -> None:
        self._readiness = readiness
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        """The bound port (useful when asked for port 0: any free one)."""
        assert self._server is not None, "start() first"
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self._host, self._port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(5):
                request = await reader.readline()
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass  # headers: nothing here needs them
                status, content_type, body = await self._route(request)
            writer.write(_response(status, content_type, body))
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _route(self, request_line: bytes) -> tuple[int, str, bytes]:
        parts = request_line.decode("latin-1").split()
        if len(parts) < 2 or parts[0] not in ("GET", "HEAD"):
            return 405, "text/plain", b"method not allowed\n"
        path = parts[1].split("?", 1)[0]
        if path == "/healthz":
            return 200, "application/json", b'{"status":"alive"}'
        if path == "/readyz":
            status, body = await self._readiness.report()
            return status, "application/json", orjson.dumps(body)
        if path == "/metrics":
            return 200, CONTENT_TYPE_LATEST, generate_latest(REGISTRY)
        return 404, "text/plain", b"not found\n"


REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


def _response(status: int, content_type: str, body: bytes) -> bytes:
    head = (
        f"HTTP/1.1 {status} {REASONS[status]}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body
