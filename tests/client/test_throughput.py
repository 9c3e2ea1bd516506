"""Throughput sanity: prints req/s sequentially, with 64 requests in flight, and
FastStream's ``broker.request`` (one lock around each call) under the same conditions.

Nothing here asserts on timing (that would flake on a loaded machine); the tests check
that every reply is right and print the rates (run with ``-s`` to see them). The
responder runs in the same process and event loop, so it takes about half the CPU.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest

from docbus_client import DocbusClient
from tests.client.conftest import AMQP_URL
from tests.client.responder import Responder

pytestmark = pytest.mark.integration

IN_FLIGHT = 64
Call = Callable[[int], Awaitable[int]]


async def lane(call: Call, numbers: range) -> list[int]:
    return [await call(n) for n in numbers]


async def rate(call: Call, total: int, lanes: int) -> float:
    """Requests per second with ``lanes`` callers, each waiting for its reply."""
    started = time.perf_counter()
    results = await asyncio.gather(*(lane(call, range(i, total, lanes)) for i in range(lanes)))
    elapsed = time.perf_counter() - started
    assert sorted(n for numbers in results for n in numbers) == list(range(total))
    return total / elapsed


def via_client(docbus: DocbusClient) -> Call:
    async def call(n: int) -> int:
        reply = await docbus.request("echo.bench", {"n": n})
        return int(reply.unwrap()["echo"]["n"])

    return call


async def test_throughput_sequential_and_64_in_flight(
    docbus: DocbusClient, responder: Responder
) -> None:
    call = via_client(docbus)
    await rate(call, 200, IN_FLIGHT)  # warm-up
    sequential = await rate(call, 500, 1)
    concurrent = await rate(call, 5000, IN_FLIGHT)
    print(
        f"\ndocbus client: {sequential:,.0f} req/s sequential, "
        f"{concurrent:,.0f} req/s with {IN_FLIGHT} in flight"
    )
    assert docbus.in_flight == 0
    assert docbus.dropped_replies == 0


async def test_throughput_compared_with_faststream_request(
    docbus: DocbusClient, responder: Responder, commands_exchange: str
) -> None:
    rabbit = pytest.importorskip("faststream.rabbit")
    broker = rabbit.RabbitBroker(AMQP_URL, logger=None)
    await broker.start()
    exchange = rabbit.RabbitExchange(
        commands_exchange, type=rabbit.ExchangeType.TOPIC, declare=False
    )

    async def faststream_call(n: int) -> int:
        message = await broker.request({"n": n}, exchange=exchange, routing_key="echo.fs")
        return int((await message.decode())["data"]["echo"]["n"])

    ours, theirs = [], []
    try:
        for _ in range(2):  # interleaved, best of two: the machine's load changes
            ours.append(await rate(via_client(docbus), 2000, IN_FLIGHT))
            theirs.append(await rate(faststream_call, 1000, IN_FLIGHT))
    finally:
        await broker.stop()
    print(
        f"\n{IN_FLIGHT} in flight: docbus client {max(ours):,.0f} req/s, "
        f"FastStream broker.request {max(theirs):,.0f} req/s "
        f"(x{max(ours) / max(theirs):.1f})"
    )
