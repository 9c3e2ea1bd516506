"""Request-reply against the raw responder: the raw client, FastStream, the docbus client.

All three talk to the same ``bench.raw.rpc`` responder process, so the differences are
the clients' own: the raw aio-pika client (futures by correlation_id), FastStream's
``broker.request`` (which holds a lock around each request: one in flight at a time,
whatever the caller does) and the project's ``DocbusClient``. All three run in the bench
process, on the run's event loop (``bench.loops``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import orjson
from faststream.rabbit import RabbitBroker

from bench.config import BenchConfig
from bench.paired import Side, medians, ratio, repeat
from bench.raw import COMMANDS, RPC_KEY, RawRpcClient
from bench.stats import BenchError, concurrent, sequential
from docbus_client import DocbusClient

REQUEST = {"folder_id": "bench-folder", "user_id": "bench-user", "limit": 50}
Call = Callable[[int], Awaitable[None]]


def _body(n: int) -> bytes:
    return orjson.dumps({**REQUEST, "n": n})


def _check(reply: bytes, n: int) -> None:
    if orjson.loads(reply)["data"]["n"] != n:
        raise BenchError("the responder answered another request")


async def request_reply(url: str, config: BenchConfig) -> dict[str, float]:
    """Sequential latency of the raw and the docbus client, then req/s at ``in_flight`` of
    the raw client, FastStream and the docbus client in paired repetitions (one run of
    each per repetition, the order reversed every other time)."""
    async with AsyncExitStack() as stack:
        raw = RawRpcClient()
        await raw.open(url)
        stack.push_async_callback(raw.close)
        broker = RabbitBroker(url, logger=None)
        await broker.connect()
        stack.push_async_callback(broker.stop)
        client = await stack.enter_async_context(
            DocbusClient(url, exchange=COMMANDS, connection_name="bench-client")
        )
        return await _measure(_calls(raw, broker, client), config)


def _calls(raw: RawRpcClient, broker: RabbitBroker, client: DocbusClient) -> dict[str, Call]:
    """One checked request-reply of each client, by the prefix of its figures."""

    async def raw_call(n: int) -> None:
        _check(await raw.call(RPC_KEY, _body(n)), n)

    async def faststream(n: int) -> None:
        reply = await broker.request(
            _body(n), exchange=COMMANDS, routing_key=RPC_KEY, timeout=10.0,
            content_type="application/json",
        )
        _check(reply.body, n)

    async def docbus(n: int) -> None:
        data: dict[str, Any] = (await client.request(RPC_KEY, {**REQUEST, "n": n})).unwrap()
        if data["n"] != n:
            raise BenchError("the responder answered another request")

    return {"raw_rpc": raw_call, "faststream": faststream, "client_rpc": docbus}


async def _measure(calls: dict[str, Call], c: BenchConfig) -> dict[str, float]:
    """Warm-ups, the two sequential series, then the three clients in repetitions."""
    t, lanes = c.phase_timeout, c.in_flight
    for name, call in calls.items():
        await concurrent(call, range(c.warmup), lanes, t, f"{name} warm-up")
    figures: dict[str, float] = {}
    for name in ("raw_rpc", "client_rpc"):
        seq = await sequential(calls[name], range(c.rpc_sequential), t, f"{name} sequential")
        figures |= {f"{name}_seq_p50_ms": seq.p50_ms, f"{name}_seq_p99_ms": seq.p99_ms,
                    f"{name}_seq_per_s": seq.rate}
    counts = {"raw_rpc": c.rpc_concurrent, "faststream": c.faststream_requests,
              "client_rpc": c.rpc_concurrent}

    def side(name: str) -> Side:
        async def run(_: int) -> dict[str, float]:
            done = await concurrent(calls[name], range(counts[name]), lanes, t, f"{name} 64")
            return {f"{name}_64_per_s": done.rate}

        return run

    samples = await repeat(c.repetitions, [side(name) for name in counts])
    return (
        figures | medians(samples)
        | ratio("client_vs_faststream_ratio", samples, "client_rpc_64_per_s",
                "faststream_64_per_s")
        | ratio("client_vs_raw_64_ratio", samples, "client_rpc_64_per_s", "raw_rpc_64_per_s")
    )
