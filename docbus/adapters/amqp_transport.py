"""An AMQP transport that writes all the frames of one event-loop turn in one system call.

aiormq hands every frame group (a publish, an ack) to the socket on its own: one
``send()`` each. On a busy worker, dozens of replies, events and acks are written in the
same turn of the loop, and on this machine a ``send()`` on loopback costs tens of
microseconds (the whole TCP path of the receiver runs in it): the worker spent about a
seventh of its time in them (py-spy, docs/performance.md). This transport gathers what
one turn writes and sends it at the start of the next turn, in order, in one call.

The cost is at most one turn of the loop of latency for a frame; nothing is reordered
(one buffer per connection, flushed before the transport closes or sends EOF), and flow
control is unchanged once the bytes reach the transport (a full socket buffer still
pauses aiormq's writer through ``drain()``).

On uvloop (the worker's default loop) the transports are C objects that cannot be
wrapped: the factory then leaves them as they are (measured, the worker on uvloop still
spends less CPU per command than on asyncio with this transport).

aiormq takes it as ``transport_factory`` (its extension point for transports);
aio-pika's ``connect_robust`` takes ``connection_class=CoalescingRobustConnection``, which
hands it over (aio-pika keeps only its own URL parameters from keyword arguments).
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiormq.connection
from aio_pika import RobustConnection
from aiormq.connection import TCPTransportFactory
from yarl import URL


class _Coalescing:
    """Stands in for ``transport.write`` (and guards ``close``/``write_eof``)."""

    def __init__(self, transport: asyncio.WriteTransport) -> None:
        self._transport = transport
        self._write = transport.write
        self._close = transport.close
        self._write_eof = transport.write_eof
        self._chunks: list[bytes] = []
        self._loop = asyncio.get_running_loop()
        self.calls = 0
        """System-level writes made (for the tests)."""

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._chunks:
            self._loop.call_soon(self.flush)
        self._chunks.append(bytes(data))

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
    """The write side of the latest transport made (a reconnect makes a new one)."""

    async def create(
        self, url: URL, **kwargs: Any
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await super().create(url, **kwargs)
        transport: Any = writer.transport
        coalescing = _Coalescing(transport)
        try:
            # Instance attributes shadow the transport's methods (asyncio's selector
            # transports are plain Python objects): StreamWriter's calls land here.
            transport.write = coalescing.write
            transport.close = coalescing.close
            transport.write_eof = coalescing.write_eof
        except AttributeError:  # a transport written in C (uvloop): left as it is
            return reader, writer
        self.current = coalescing
        return reader, writer


class CoalescingRobustConnection(RobustConnection):
    """aio-pika's robust connection over the coalescing transport (reconnects too)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.transport_factory = CoalescingTransportFactory()
        self.kwargs["transport_factory"] = self.transport_factory


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
