"""Request-reply against the raw responder: the raw client, FastStream, the docbus client.

All three talk to the same ``bench.raw.rpc`` responder process, so the differences are
the clients' own: the raw aio-pika client (futures by correlation_id), FastStream's
``broker.request`` (which holds a lock around each request: one in flight at a time,
whatever the caller does) and the project's ``DocbusClient``.
"""

from __future__ import annotations

from typing import Any

import orjson
from faststream.rabbit import RabbitBroker

from bench.config import BenchConfig
from bench.raw import COMMANDS, RPC_KEY, RawRpcClient
from bench.stats import BenchError, Run, concurrent, sequential
from client import DocbusClient

REQUEST = {"folder_id": "bench-folder", "user_id": "bench-user", "limit": 50}


def _body(n: int) -> bytes:
    return orjson.dumps({**REQUEST, "n": n})


def _check(reply: bytes, n: int) -> None:
    if orjson.loads(reply)["data"]["n"] != n:
        raise BenchError("the responder answered another request")


async def raw_rpc(url: str, config: BenchConfig) -> dict[str, float]:
    """Sequential p50/p99 and req/s at ``in_flight`` with the raw aio-pika client."""
    client = RawRpcClient()
    await client.open(url)
    try:
        async def call(n: int) -> None:
            _check(await client.call(RPC_KEY, _body(n)), n)

        t = config.phase_timeout
        await concurrent(call, range(config.warmup), config.in_flight, t, "raw rpc warm-up")
        seq = await sequential(call, range(config.rpc_sequential), t, "raw rpc sequential")
        par = await concurrent(
            call, range(config.rpc_concurrent), config.in_flight, t, "raw rpc 64 in flight"
        )
    finally:
        await client.close()
    return {
        "raw_rpc_seq_p50_ms": seq.p50_ms, "raw_rpc_seq_p99_ms": seq.p99_ms,
        "raw_rpc_seq_per_s": seq.rate, "raw_rpc_64_per_s": par.rate,
    }


async def clients_rpc(url: str, config: BenchConfig) -> dict[str, float]:
    """FastStream's ``broker.request`` and the docbus client, both at ``in_flight``.

    FastStream runs half its requests before the docbus client and half after, so
    that their ratio does not depend on when the machine was busier.
    """
    broker = RabbitBroker(url, logger=None)
    await broker.connect()
    try:
        async def request(n: int) -> None:
            reply = await broker.request(
                _body(n), exchange=COMMANDS, routing_key=RPC_KEY, timeout=10.0,
                content_type="application/json",
            )
            _check(reply.body, n)

        t, lanes, half = config.phase_timeout, config.in_flight, config.faststream_requests // 2
        await concurrent(request, range(lanes), lanes, t, "faststream warm-up")
        before = await concurrent(request, range(half), lanes, t, "faststream 64 in flight")
        figures = await client_rpc(url, config)
        after = await concurrent(request, range(half), lanes, t, "faststream 64 in flight")
    finally:
        await broker.stop()
    return figures | {"faststream_64_per_s": 2 * half / (before.elapsed + after.elapsed)}


async def client_rpc(url: str, config: BenchConfig) -> dict[str, float]:
    """The docbus client against the raw responder: sequential and at ``in_flight``."""
    async with DocbusClient(url, exchange=COMMANDS, connection_name="bench-client") as client:
        async def call(n: int) -> None:
            data: dict[str, Any] = (await client.request(RPC_KEY, {**REQUEST, "n": n})).unwrap()
            if data["n"] != n:
                raise BenchError("the responder answered another request")

        t = config.phase_timeout
        await concurrent(call, range(config.warmup), config.in_flight, t, "client warm-up")
        seq: Run = await sequential(call, range(config.rpc_sequential), t, "client sequential")
        par = await concurrent(
            call, range(config.rpc_concurrent), config.in_flight, t, "client 64 in flight"
        )
    return {
        "client_rpc_seq_p50_ms": seq.p50_ms, "client_rpc_seq_p99_ms": seq.p99_ms,
        "client_rpc_64_per_s": par.rate,
    }
