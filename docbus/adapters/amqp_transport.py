"""An AMQP transport that writes all the frames of one event-loop turn in one system call.

aiormq hands every frame group (a publish, an ack) to the socket on its own: one
``send()`` each. On a busy worker, dozens of replies, events and acks are written in the
same turn of the loop, and each ``send()`` on loopback also runs the receiver's side of
TCP and may wake the broker (a few per upload: RabbitMQ reads, and is scheduled, as
often as we write). This transport sends them
in one call, in order: aiormq's writer task takes every frame queued since it last ran
in one go, and the buffer goes out when the writer's queue is empty. (Should the writer
stop half-way, what it buffered goes out a turn of the loop later, or before the close.)

So no frame is sent later than before, nothing is reordered (one buffer per
connection), and flow control is unchanged (a full socket buffer still pauses aiormq's
writer through ``drain()``).

The buffer sits in front of the connection's ``StreamWriter`` (a Python object on every
loop), not of its transport: on uvloop (the worker's default loop) transports are C
objects that cannot be wrapped, so until session 4 the worker on uvloop made a
``send()`` per frame group (2.2 per upload, strace; 0.3 with this, docs/performance.md).

aiormq takes it as ``transport_factory`` (its extension point for transports);
aio-pika's ``connect_robust`` takes ``connection_class=CoalescingRobustConnection``, which
hands it over (aio-pika keeps only its own URL parameters from keyword arguments).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiormq.connection
from aio_pika import RobustConnection
from aiormq.connection import TCPTransportFactory
from yarl import URL


class _Coalescing:
    """Stands in for a ``StreamWriter``'s ``write`` (and guards ``close``/``write_eof``)."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._transport = writer.transport
        self._write = writer.write
        self._close = writer.close
        self._write_eof = writer.write_eof
        self._chunks: list[bytes] = []
        self._loop = asyncio.get_running_loop()
        self.more_queued: Callable[[], bool] = lambda: True
        """Whether aiormq's writer has more frames to write right after this one (its
        write queue, once the connection is up); until then, every write waits a turn."""
        self.calls = 0
        """System-level writes made (for the tests)."""

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._chunks.append(bytes(data))
        if not self.more_queued():  # the last frame aiormq's writer holds: send them all
            self.flush()
        elif len(self._chunks) == 1:
            self._loop.call_soon(self.flush)  # at the latest a turn later

    def flush(self) -> None:
        if not self._chunks:
            return
        data = b"".join(self._chunks) if len(self._chunks) > 1 else self._chunks[0]
        self._chunks = []
        if not self._transport.is_closing():
            self.calls += 1
            self._write(data)

    def close(self) -> None:
        self.flush()
        self._close()

    def write_eof(self) -> None:
        self.flush()
        self._write_eof()


class CoalescingTransportFactory(TCPTransportFactory):
    """Plain TCP (as aiormq's default) whose writes are gathered per turn of the loop."""

    current: _Coalescing | None = None
    """The write side of the latest connection made (a reconnect makes a new one)."""

    async def create(
        self, url: URL, **kwargs: Any
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await super().create(url, **kwargs)
        coalescing = _Coalescing(writer)
        # Instance attributes shadow StreamWriter's methods: aiormq's calls land here.
        writer.write = coalescing.write  # type: ignore[method-assign]
        writer.close = coalescing.close  # type: ignore[method-assign]
        writer.write_eof = coalescing.write_eof  # type: ignore[method-assign]
        self.current = coalescing
        return reader, writer


class CoalescingRobustConnection(RobustConnection):
    """aio-pika's robust connection over the coalescing transport (reconnects too)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.transport_factory = CoalescingTransportFactory()
        self.kwargs["transport_factory"] = self.transport_factory

    async def _on_connected(self) -> None:
        """Let the transport see aiormq's write queue: its writer takes every frame queued
        in one go, so the frames go out together as soon as the queue is empty."""
        coalescing, underlay = self.transport_factory.current, self.transport
        if coalescing is not None and underlay is not None:
            queue = underlay.connection.write_queue
            coalescing.more_queued = lambda: not queue.empty()
        await super()._on_connected()


WRITE_QUEUE_FRAMES = 4096


def deepen_write_queues(frames: int = WRITE_QUEUE_FRAMES) -> None:
    """Give every aiormq connection made from now on a write queue of ``frames`` frames.

    aiormq's default holds 10: a publish that finds it full waits there while holding
    its channel's lock, so when a group of replies is published at once every publish of
    the channel waits for the one before it, a turn of the loop each. The bytes held are
    bounded anyway (by prefetch, and by the relay's batch), and a full socket buffer still
    pauses the writer. Process-wide (a class attribute of aiormq): call it at start-up.
    """
    aiormq.connection.Connection.FRAME_BUFFER_SIZE = frames
