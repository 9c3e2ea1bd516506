"""Acknowledger against the real RabbitMQ: fewer ack frames, and never one too many.

Each test fills a queue of its own (quorum, with the project's arguments), consumes it with
manual acks and a prefetch, settles the deliveries through ``Acknowledger``, then asks the
broker what it thinks: closing the connection gives back every delivery it still counts as
unacknowledged, and a fresh connection reads them (with the redelivered flag). The only
thing not real is a spy on the channel's ``basic_ack`` that records the frames (and, in
one test, delays one the way a full write buffer would).
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage
from aiormq.exceptions import ChannelInvalidStateError

from docbus.consumers.acks import Acknowledger
from docbus.consumers.topology import work_queue_arguments

pytestmark = pytest.mark.integration

N = 20
STEP = 5.0
"""Upper bound (seconds) on any single wait of these tests: a hang fails, it does not stall."""
SENTINEL = b"--sentinel--"


@dataclass
class FrameSpy:
    """Wraps ``basic_ack`` of one real (aiormq) channel: records (tag, multiple), then sends."""

    channel: Any
    frames: list[tuple[int, bool]] = field(default_factory=list)
    delay: dict[int, float] = field(default_factory=dict)
    """tag -> seconds this tag's frame waits before it reaches the connection."""

    def __post_init__(self) -> None:
        self._real = self.channel.basic_ack
        self.channel.basic_ack = self

    async def __call__(self, delivery_tag: int, multiple: bool = False, wait: bool = True) -> None:
        if pause := self.delay.get(delivery_tag):
            await asyncio.sleep(pause)
        self.frames.append((delivery_tag, multiple))
        await self._real(delivery_tag=delivery_tag, multiple=multiple, wait=wait)


@dataclass
class Consumer:
    """One connection consuming one queue with manual acks; deliveries in arrival order."""

    connection: AbstractConnection
    channel: AbstractChannel
    received: list[AbstractIncomingMessage] = field(default_factory=list)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        self.received.append(message)
        self._arrived.set()

    async def wait_for(self, count: int) -> list[AbstractIncomingMessage]:
        async with asyncio.timeout(STEP):
            while len(self.received) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return self.received[:count]

    def by_body(self) -> dict[int, AbstractIncomingMessage]:
        return {int(m.body): m for m in self.received}

    def spy(self) -> FrameSpy:
        return FrameSpy(self.received[0].channel)


@pytest.fixture
async def queue_name(rabbit_url: str) -> AsyncIterator[str]:
    """A fresh quorum work queue, deleted afterwards."""
    name = f"acks-{uuid.uuid4().hex[:10]}"
    connection = await aio_pika.connect(rabbit_url, timeout=STEP)
    async with connection:
        channel = await connection.channel()
        await channel.declare_queue(name, durable=True, arguments=work_queue_arguments(50))
        yield name
        channel = await connection.channel()  # the test may have broken the first one
        await channel.queue_delete(name)


async def publish(url: str, queue: str, bodies: Iterable[int | bytes]) -> None:
    connection = await aio_pika.connect(url, timeout=STEP)
    async with connection:
        channel = await connection.channel()  # publisher confirms: every publish is stored
        for body in bodies:
            raw = body if isinstance(body, bytes) else str(body).encode()
            await channel.default_exchange.publish(
                aio_pika.Message(raw, delivery_mode=aio_pika.DeliveryMode.PERSISTENT), queue
            )


@pytest.fixture
async def consume(rabbit_url: str, queue_name: str) -> AsyncIterator[
    Callable[[int], Awaitable[Consumer]]
]:
    opened: list[AbstractConnection] = []

    async def start(prefetch: int) -> Consumer:
        connection = await aio_pika.connect(rabbit_url, timeout=STEP)
        opened.append(connection)
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=prefetch)
        queue = await channel.declare_queue(queue_name, passive=True)
        consumer = Consumer(connection, channel)
        await queue.consume(consumer.on_message, no_ack=False)
        return consumer

    yield start
    for connection in opened:
        if not connection.is_closed:
            await connection.close()


async def leftovers(url: str, queue: str) -> list[tuple[int, bool]]:
    """What the broker still holds for ``queue``: (body, redelivered), in delivery order.

    Reads on a new connection up to a sentinel published after it started: everything the
    queue gave back before (returns are delivered ahead of new messages) arrives first.
    Nothing is acknowledged; the queue is deleted afterwards.
    """
    connection = await aio_pika.connect(url, timeout=STEP)
    async with connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=1000)
        declared = await channel.declare_queue(queue, passive=True)
        got: list[AbstractIncomingMessage] = []
        sentinel = asyncio.Event()

        async def on_message(message: AbstractIncomingMessage) -> None:
            if message.body == SENTINEL:
                sentinel.set()
            else:
                got.append(message)

        await declared.consume(on_message, no_ack=False)
        await publish(url, queue, [SENTINEL])
        async with asyncio.timeout(STEP):
            await sentinel.wait()
        await asyncio.sleep(0.1)  # anything after the sentinel would be a late surprise
        return [(int(m.body), bool(m.redelivered)) for m in got]


def tags(messages: Iterable[AbstractIncomingMessage]) -> list[int]:
    return [m.delivery_tag for m in messages if m.delivery_tag is not None]


async def settle_all(aws: Iterable[Awaitable[None]]) -> None:
    async with asyncio.timeout(STEP):
        await asyncio.gather(*aws)


# 1. Everything acknowledged: the queue ends empty, nothing came back, fewer frames.


@pytest.mark.parametrize("order", ["in_order", "shuffled"])
async def test_acks_finishing_together_share_one_frame_and_leave_nothing(
    rabbit_url: str, queue_name: str, consume: Callable[[int], Awaitable[Consumer]], order: str
) -> None:
    await publish(rabbit_url, queue_name, range(1, N + 1))
    consumer = await consume(N)
    messages = await consumer.wait_for(N)
    assert tags(messages) == list(range(1, N + 1))
    assert not any(m.redelivered for m in messages)
    spy = consumer.spy()
    if order == "shuffled":
        random.Random(7).shuffle(messages)

    acks = Acknowledger(hold=0.05)
    await settle_all(acks.ack(m) for m in messages)

    assert spy.frames == [(N, True)], "deliveries finishing together: one multiple ack"
    await asyncio.sleep(0.2)
    assert len(consumer.received) == N, "nothing was redelivered on the live channel"
    assert not consumer.channel.is_closed, "the broker accepted every frame"
    await consumer.connection.close()
    assert await leftovers(rabbit_url, queue_name) == []


async def test_acks_one_at_a_time_and_staggered_leave_nothing(
    rabbit_url: str, queue_name: str, consume: Callable[[int], Awaitable[Consumer]]
) -> None:
    """Sequential acks go one by one; staggered shuffled ones mix runs, holds and singles."""
    await publish(rabbit_url, queue_name, range(1, 2 * N + 1))
    consumer = await consume(2 * N)
    messages = await consumer.wait_for(2 * N)
    spy = consumer.spy()
    acks = Acknowledger(hold=0.005)

    for message in messages[:N]:  # in order, each awaited: nothing to coalesce
        async with asyncio.timeout(STEP):
            await acks.ack(message)
    assert spy.frames == [(tag, False) for tag in range(1, N + 1)]

    rest = messages[N:]
    random.Random(11).shuffle(rest)
    rng = random.Random(3)

    async def later(message: AbstractIncomingMessage) -> None:
        await asyncio.sleep(rng.uniform(0, 0.02))
        await acks.ack(message)

    await settle_all(later(m) for m in rest)
    covered = _covered(spy.frames)
    assert covered == list(range(1, 2 * N + 1)), "every tag acked exactly once"
    assert len(spy.frames) <= 2 * N
    await asyncio.sleep(0.2)
    assert not consumer.channel.is_closed
    assert len(consumer.received) == 2 * N
    await consumer.connection.close()
    assert await leftovers(rabbit_url, queue_name) == []


def _covered(frames: list[tuple[int, bool]], nacked: Iterable[int] = ()) -> list[int]:
    """The tags the frames acknowledge, as the broker counts them (in their order, no tag
    twice: an ack naming a tag no longer outstanding is a channel error)."""
    outstanding = set(range(1, max(tag for tag, _ in frames) + 1)) - set(nacked)
    covered: list[int] = []
    for tag, multiple in frames:
        hit = {t for t in outstanding if t <= tag} if multiple else {tag} & outstanding
        assert tag in hit, f"ack of tag {tag} (multiple={multiple}) names no outstanding tag"
        outstanding -= hit
        covered.extend(sorted(hit))
    return sorted(covered)


# 2. A delivery still in flight is never covered by a multiple ack.


@pytest.mark.parametrize("held", [1, N // 2, N])
async def test_multiple_ack_never_covers_a_delivery_in_flight(
    rabbit_url: str, queue_name: str, consume: Callable[[int], Awaitable[Consumer]], held: int
) -> None:
    await publish(rabbit_url, queue_name, range(1, N + 1))
    consumer = await consume(N)
    await consumer.wait_for(N)
    spy = consumer.spy()
    by_body = consumer.by_body()
    acks = Acknowledger(hold=0.02)

    await settle_all(acks.ack(m) for body, m in by_body.items() if body != held)

    for tag, multiple in spy.frames:
        assert not (multiple and tag >= held), f"ack {tag} multiple covers the held {held}"
    assert held not in _covered(spy.frames)
    below = [(held - 1, held > 2)] if held > 1 else []  # the run under the gap: one frame
    assert spy.frames == below + [(tag, False) for tag in range(held + 1, N + 1)]
    await asyncio.sleep(0.1)
    assert not consumer.channel.is_closed
    await consumer.connection.close()
    assert await leftovers(rabbit_url, queue_name) == [(held, True)]


# 3. A nack (requeue) among acks: that one comes back, the others do not.


@pytest.mark.parametrize("nacked", [1, N // 2, N])
async def test_nack_requeues_that_delivery_only(
    rabbit_url: str, queue_name: str, consume: Callable[[int], Awaitable[Consumer]], nacked: int
) -> None:
    await publish(rabbit_url, queue_name, range(1, N + 1))
    consumer = await consume(N + 1)
    await consumer.wait_for(N)
    spy = consumer.spy()
    by_body = consumer.by_body()
    acks = Acknowledger(hold=0.5)

    settling = [acks.ack(m) for body, m in by_body.items() if body != nacked]
    settling.insert(nacked - 1, acks.nack(by_body[nacked], requeue=True))
    started = time.monotonic()
    await settle_all(settling)
    assert time.monotonic() - started < 0.25, "the nack closed the gap: no hold needed"

    back = (await consumer.wait_for(N + 1))[N]  # the broker redelivers it on this channel
    assert (int(back.body), back.redelivered) == (nacked, True)
    assert (back.delivery_tag or 0) > N
    assert _covered(spy.frames, [nacked]) == [t for t in range(1, N + 1) if t != nacked]
    await asyncio.sleep(0.1)
    assert len(consumer.received) == N + 1, "only the nacked delivery came back"
    assert not consumer.channel.is_closed
    await consumer.connection.close()
    assert await leftovers(rabbit_url, queue_name) == [(nacked, True)]


# 4. Acks above a gap go out one by one after ``hold``, and reach the broker.


async def test_acks_above_a_gap_go_out_after_hold(
    rabbit_url: str, queue_name: str, consume: Callable[[int], Awaitable[Consumer]]
) -> None:
    hold = 0.05
    await publish(rabbit_url, queue_name, range(1, 2 * N))  # N in the prefetch, N - 1 wait
    consumer = await consume(N)
    first = await consumer.wait_for(N)
    await asyncio.sleep(0.1)
    assert len(consumer.received) == N, "the prefetch holds back the rest"
    spy = consumer.spy()
    acks = Acknowledger(hold=hold)

    started = time.monotonic()
    await settle_all(acks.ack(m) for m in first[1:])  # message 1 stays in flight
    waited = time.monotonic() - started
    assert hold * 0.8 <= waited < 1.0, waited
    assert spy.frames == [(tag, False) for tag in range(2, N + 1)]

    # The broker counted them: it frees their prefetch slots for the N - 1 waiting messages.
    more = (await consumer.wait_for(2 * N - 1))[N:]
    assert sorted(int(m.body) for m in more) == list(range(N + 1, 2 * N))
    assert not consumer.channel.is_closed
    await consumer.connection.close()
    back = await leftovers(rabbit_url, queue_name)
    assert sorted(back) == [(1, True)] + [(body, True) for body in range(N + 1, 2 * N)]


# 5. An ack on a closed channel fails; it does not hang.


async def test_ack_after_the_channel_closed_raises(
    rabbit_url: str, queue_name: str, consume: Callable[[int], Awaitable[Consumer]]
) -> None:
    await publish(rabbit_url, queue_name, [1, 2])
    consumer = await consume(2)
    _, two = await consumer.wait_for(2)
    acks = Acknowledger(hold=0.05)
    await consumer.channel.close()

    with pytest.raises(ChannelInvalidStateError):
        async with asyncio.timeout(STEP):
            await acks.ack(two)
    await consumer.connection.close()
    assert sorted(await leftovers(rabbit_url, queue_name)) == [(1, True), (2, True)]


@pytest.mark.parametrize("closing", ["channel", "connection"])
async def test_held_ack_fails_when_its_channel_closes(
    rabbit_url: str, queue_name: str, consume: Callable[[int], Awaitable[Consumer]], closing: str
) -> None:
    await publish(rabbit_url, queue_name, [1, 2])
    consumer = await consume(2)
    _, two = await consumer.wait_for(2)
    acks = Acknowledger(hold=0.2)
    waiting = asyncio.ensure_future(acks.ack(two))  # above the gap of delivery 1: held
    await asyncio.sleep(0.02)
    assert not waiting.done()
    await (consumer.channel if closing == "channel" else consumer.connection).close()

    with pytest.raises(ChannelInvalidStateError):  # not TimeoutError: it did not hang
        async with asyncio.timeout(STEP):
            await waiting
    await consumer.connection.close()
    assert sorted(await leftovers(rabbit_url, queue_name)) == [(1, True), (2, True)]


# 6. Frames reach the broker in the order they were decided.


async def test_a_slow_single_ack_is_not_overtaken_by_a_multiple_ack(
    rabbit_url: str, queue_name: str, consume: Callable[[int], Awaitable[Consumer]]
) -> None:
    """The single ack of 2 (after its hold) waits to be written, as it would behind a full
    write buffer; a multiple ack decided later must not reach the broker before it, or the
    broker acks 2 twice and closes the channel (PRECONDITION_FAILED, unknown delivery tag),
    giving back every delivery."""
    await publish(rabbit_url, queue_name, range(1, 6))
    consumer = await consume(5)
    await consumer.wait_for(5)
    by_body = consumer.by_body()
    spy = consumer.spy()
    spy.delay[2] = 0.3
    acks = Acknowledger(hold=0.02)

    held = asyncio.ensure_future(acks.ack(by_body[2]))  # above the gap of 1
    await asyncio.sleep(0.1)  # overdue: 2 goes out on its own (slowly)
    await settle_all([acks.ack(by_body[1])])
    await settle_all([acks.ack(by_body[4]), acks.ack(by_body[3]), acks.ack(by_body[5])])
    await settle_all([held])

    await asyncio.sleep(0.1)
    assert not consumer.channel.is_closed, f"the broker refused the frames {spy.frames}"
    assert _covered(spy.frames) == [1, 2, 3, 4, 5]
    await consumer.connection.close()
    assert await leftovers(rabbit_url, queue_name) == []
