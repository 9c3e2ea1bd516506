"""Publishing on a channel without queueing behind the channel's other publishes.

aio-pika's ``Exchange.publish`` (aiormq 7.2) holds the channel's lock until the
connection's writer task has written the frames to the socket. Every publish on a
channel then waits its turn: a few turns of the event loop each. On a loaded worker
(a turn of a few milliseconds) one channel carried at most a few hundred publishes per
second, and replies waited 40-120 ms in that line (measured, docs/performance.md).

``publish`` hands the frames to the writer and releases the lock at once; it still
awaits the broker's confirm on a confirm channel (and raises as aio-pika does for a
nack, or for a return on a channel opened with ``on_return_raises``). Frames of one
connection are written in the order they were handed over, so nothing is reordered.
"""

from __future__ import annotations

from typing import Any

from aio_pika.abc import AbstractChannel
from pamqp.commands import Basic

Properties = Basic.Properties
"""AMQP properties, built directly: an ``aio_pika.Message`` costs about ten times as much
to make (its attribute checks), for the same properties on the wire."""


async def publish(
    channel: AbstractChannel,
    body: bytes,
    properties: Basic.Properties,
    routing_key: str,
    *,
    exchange: str = "",
    mandatory: bool = True,
    timeout: float | None = None,
) -> Any:
    """Publish ``body``; on a confirm channel, return once the broker confirmed it."""
    underlay = await channel.get_underlay_channel()
    return await underlay.basic_publish(  # type: ignore[call-arg]  # the ABC lacks ``wait``
        body,
        exchange=exchange,
        routing_key=routing_key,
        properties=properties,
        mandatory=mandatory,
        timeout=timeout,
        wait=False,
    )
