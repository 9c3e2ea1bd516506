"""Baselines with aio-pika alone, each in a process of its own (as the worker is).

``python -m bench.raw pipeline URL``: the shape of the worker's command loop with no
application in it: consume ``bench.raw.work`` (a quorum queue declared like docbus's
work queues, prefetch 64, manual ack); for each message publish a persistent event to
``bench.raw.events`` (mandatory, awaiting the publisher confirm), then ack.

``python -m bench.raw responder URL``: the AMQP work the worker does for a query:
consume ``bench.raw.rpc`` (quorum, prefetch 64, manual ack), publish the reply to
``reply_to`` through the default exchange with the request's correlation_id (confirmed,
``mandatory=False``, as docbus's Responder does), then ack. The reply echoes the body in
the docbus envelope.

Both run on the event loop named by their last argument (the run's loop, see
``bench.loops``), print ``ready <loop>`` once consuming (the loop they actually run on),
and stop on SIGTERM. ``RawRpcClient`` is the raw
client side of request-reply: one direct reply-to consumer, futures by correlation_id.
"""

from __future__ import annotations

import asyncio
import itertools
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import aio_pika
import orjson
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractIncomingMessage

from bench import loops
from bench.stats import BenchError
from docbus.consumers.topology import work_queue_arguments

COMMANDS = "bench.raw.commands"
EVENTS = "bench.raw.events"
WORK_QUEUE, WORK_KEY = "bench.raw.work", "raw.pipeline"
RPC_QUEUE, RPC_KEY = "bench.raw.rpc", "raw.rpc"
EVENT_KEY = "raw.event"
DIRECT_REPLY_TO = "amq.rabbitmq.reply-to"
ROOT = Path(__file__).resolve().parents[1]


async def declare_raw_topology(url: str, delivery_limit: int = 20) -> None:
    """The baselines' exchanges and quorum queues (the same arguments as docbus's)."""
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        commands = await channel.declare_exchange(COMMANDS, "topic", durable=True)
        await channel.declare_exchange(EVENTS, "topic", durable=True)
        for name, key in ((WORK_QUEUE, WORK_KEY), (RPC_QUEUE, RPC_KEY)):
            queue = await channel.declare_queue(
                name, durable=True, arguments=work_queue_arguments(delivery_limit)
            )
            await queue.bind(commands, key)


# the processes


OnMessage = Callable[[AbstractIncomingMessage], Awaitable[None]]
HandlerOf = Callable[[AbstractChannel], Awaitable[OnMessage]]


async def _serve(url: str, queue_name: str, prefetch: int, handler_of: HandlerOf) -> None:
    """Consume ``queue_name`` on one connection, publish on another, until SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    consume = await aio_pika.connect(url, client_properties={"connection_name": "raw-consume"})
    publish = await aio_pika.connect(url, client_properties={"connection_name": "raw-publish"})
    async with consume, publish:
        channel = await consume.channel()
        await channel.set_qos(prefetch_count=prefetch)
        out = await publish.channel(publisher_confirms=True)
        queue = await channel.get_queue(queue_name, ensure=False)
        await queue.consume(await handler_of(out))
        print(f"ready {loops.running()}", flush=True)
        await stop.wait()


async def _pipeline_handler(out: AbstractChannel) -> OnMessage:
    events: AbstractExchange = await out.get_exchange(EVENTS, ensure=False)

    async def on_message(message: AbstractIncomingMessage) -> None:
        command = orjson.loads(message.body)
        event_id = str(uuid.uuid4())
        body = orjson.dumps({"event_id": event_id, "type": "RawEvent", "id": command["id"]})
        event = aio_pika.Message(
            body, content_type="application/json", message_id=event_id,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        await events.publish(event, EVENT_KEY, mandatory=True)
        await message.ack()

    return on_message


async def _responder_handler(out: AbstractChannel) -> OnMessage:
    async def on_message(message: AbstractIncomingMessage) -> None:
        if message.reply_to:
            reply = orjson.dumps({"ok": True, "data": orjson.loads(message.body)})
            await out.default_exchange.publish(
                aio_pika.Message(
                    reply, content_type="application/json",
                    correlation_id=message.correlation_id, message_id=message.message_id,
                ),
                message.reply_to, mandatory=False,
            )
        await message.ack()

    return on_message


def main(argv: list[str]) -> None:
    """``pipeline|responder URL PREFETCH LOOP`` (LOOP: ``uvloop`` or ``asyncio``)."""
    kind, url, prefetch, loop = argv[0], argv[1], int(argv[2]), argv[3]
    if kind == "pipeline":
        loops.run(_serve(url, WORK_QUEUE, prefetch, _pipeline_handler), loop)
    elif kind == "responder":
        loops.run(_serve(url, RPC_QUEUE, prefetch, _responder_handler), loop)
    else:
        raise SystemExit(f"unknown baseline {kind!r}")


class RawProcess:
    """One baseline process on ``loop``, started and waited for until it prints ``ready``.

    Its ``ready`` line names the loop it runs on: another loop than ``loop`` is an error.
    """

    def __init__(self, kind: str, url: str, prefetch: int, loop: str) -> None:
        self.kind, self.loop = kind, loop
        self.argv = [sys.executable, "-m", "bench.raw", kind, url, str(prefetch), loop]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> None:
        self.proc = subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
            self.argv, cwd=ROOT, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        line = self.proc.stdout.readline()  # blocks until ready or exit
        word, _, loop = line.decode(errors="replace").strip().partition(" ")
        if word != "ready" or time.monotonic() > deadline:
            self.stop()
            raise BenchError(f"{self.kind} baseline did not start ({line!r})")
        try:
            loops.check(f"the raw {self.kind}", loop, self.loop)
        except BenchError:
            self.stop()
            raise

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# the raw client


class RawRpcClient:
    """Request-reply with aio-pika alone: confirmed publishes, one direct reply-to consumer."""

    def __init__(self) -> None:
        self._connection: aio_pika.abc.AbstractConnection | None = None
        self._exchange: AbstractExchange | None = None
        self._pending: dict[str, asyncio.Future[bytes]] = {}
        self._ids = itertools.count(1)

    async def open(self, url: str, exchange: str = COMMANDS) -> None:
        self._connection = await aio_pika.connect(url)
        channel = await self._connection.channel(publisher_confirms=True)
        self._exchange = await channel.get_exchange(exchange, ensure=False)
        replies = await channel.get_queue(DIRECT_REPLY_TO, ensure=False)
        await replies.consume(self._on_reply, no_ack=True)

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()

    async def call(self, routing_key: str, body: bytes) -> bytes:
        """Publish (persistent, mandatory, confirmed) and wait for the matching reply."""
        assert self._exchange is not None
        correlation_id = format(next(self._ids), "x")
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._pending[correlation_id] = future
        try:
            await self._exchange.publish(
                aio_pika.Message(
                    body, content_type="application/json", correlation_id=correlation_id,
                    reply_to=DIRECT_REPLY_TO, message_id=str(uuid.uuid4()),
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key, mandatory=True,
            )
            return await future
        finally:
            self._pending.pop(correlation_id, None)

    async def _on_reply(self, message: AbstractIncomingMessage) -> None:
        future = self._pending.get(message.correlation_id or "")
        if future is not None and not future.done():
            future.set_result(message.body)


if __name__ == "__main__":
    main(sys.argv[1:])
