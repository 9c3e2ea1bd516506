"""The coalescing AMQP transport and the lock-free publish, against the real RabbitMQ.

What matters: every frame arrives, in the order it was written, confirms still come back,
a close does not lose what was buffered, and a turn of many publishes costs few writes.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import aio_pika
import pytest
import uvloop

from docbus.adapters.amqp import Properties, publish
from docbus.adapters.amqp_transport import CoalescingRobustConnection, deepen_write_queues

pytestmark = pytest.mark.integration

STEP = 10.0


def _coalescing(connection: Any) -> Any:
    """The write side of the connection's transport (it counts the writes it made)."""
    assert isinstance(connection, CoalescingRobustConnection)
    assert connection.transport_factory.current is not None
    return connection.transport_factory.current


async def _drain(queue: aio_pika.abc.AbstractQueue, count: int) -> list[bytes]:
    bodies: list[bytes] = []
    async with asyncio.timeout(STEP), queue.iterator() as messages:
        async for message in messages:
            await message.ack()
            bodies.append(message.body)
            if len(bodies) == count:
                break
    return bodies


async def _publish_burst(rabbit_url: str, count: int = 300) -> int:
    """``count`` confirmed publishes at once; checks they all arrive in order and returns
    the writes the transport made for them."""
    deepen_write_queues()  # as the worker does: a burst of publishes fits in one turn
    name = f"test.coalescing.{uuid.uuid4().hex[:8]}"
    connection = await aio_pika.connect_robust(
        rabbit_url, connection_class=CoalescingRobustConnection
    )
    async with connection:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        queue = await channel.declare_queue(name, durable=True)
        try:
            coalescing = _coalescing(connection)
            before = coalescing.calls
            bodies = [f"{n:04d}".encode() for n in range(count)]
            async with asyncio.timeout(STEP):
                await asyncio.gather(
                    *(publish(channel, b, Properties(), name, mandatory=True) for b in bodies)
                )
            writes: int = coalescing.calls - before
            assert await _drain(queue, len(bodies)) == bodies  # all of them, in order
            return writes
        finally:
            await queue.delete(if_unused=False, if_empty=False)


async def test_many_confirmed_publishes_arrive_in_order_with_few_writes(rabbit_url: str) -> None:
    writes = await _publish_burst(rabbit_url)
    assert 0 < writes < 300 // 4, writes


def test_on_uvloop_too_a_burst_costs_few_writes(rabbit_url: str) -> None:
    """uvloop's transports are C objects: the buffer sits in front of the StreamWriter."""

    async def burst() -> tuple[int, str]:
        return await _publish_burst(rabbit_url), type(asyncio.get_running_loop()).__module__

    writes, loop = uvloop.run(burst())
    assert loop.startswith("uvloop")
    assert 0 < writes < 300 // 4, writes


async def test_an_unroutable_mandatory_publish_still_raises(rabbit_url: str) -> None:
    connection = await aio_pika.connect_robust(
        rabbit_url, connection_class=CoalescingRobustConnection
    )
    async with connection:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        with pytest.raises(aio_pika.exceptions.PublishError):
            async with asyncio.timeout(STEP):
                await publish(channel, b"x", Properties(), f"nowhere.{uuid.uuid4().hex}")


async def test_a_close_sends_what_was_buffered_first(rabbit_url: str) -> None:
    name = f"test.coalescing.{uuid.uuid4().hex[:8]}"
    admin = await aio_pika.connect(rabbit_url)
    async with admin:
        queue = await (await admin.channel()).declare_queue(name, durable=True)
        try:
            connection = await aio_pika.connect_robust(
                rabbit_url, connection_class=CoalescingRobustConnection
            )
            channel = await connection.channel(publisher_confirms=False)
            for n in range(50):  # unconfirmed: handed over, then the connection closes at once
                await publish(channel, str(n).encode(), Properties(), name, mandatory=False)
            await connection.close()
            assert await _drain(queue, 50) == [str(n).encode() for n in range(50)]
        finally:
            await queue.delete(if_unused=False, if_empty=False)
