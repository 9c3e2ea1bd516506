"""Listening to ``doc.events``: an exclusive, auto-delete queue per subscription."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import orjson
from aio_pika import ExchangeType
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

from docbus_client.errors import DocbusProtocolError

Event = dict[str, Any]
"""An event body as decoded JSON, plus the message's ``routing_key``."""


class EventStream:
    """Async iterator over the events of one subscription, in arrival order."""

    def __init__(self, queue_name: str) -> None:
        self.queue_name = queue_name
        self._arrived: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Event:
        return await self.receive()

    async def receive(self, timeout: float | None = None) -> Event:
        """The next event; raises TimeoutError if none arrives within ``timeout``."""
        async with asyncio.timeout(timeout):
            routing_key, body = await self._arrived.get()
        return _decode(routing_key, body)

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        """Consumer callback: queue the event for the iterating task."""
        self._arrived.put_nowait((message.routing_key or "", message.body))


def _decode(routing_key: str, body: bytes) -> Event:
    try:
        event = orjson.loads(body)
    except orjson.JSONDecodeError:
        event = None
    if not isinstance(event, dict):
        raise DocbusProtocolError("bad_event", f"{routing_key!r} event is not a JSON object")
    event["routing_key"] = routing_key
    return event


@asynccontextmanager
async def subscribe(
    connection: AbstractRobustConnection,
    exchange: str,
    binding_keys: Sequence[str],
    queue: str | None,
) -> AsyncIterator[EventStream]:
    """Bind a fresh exclusive auto-delete queue to the topic exchange ``exchange`` and
    stream its events; the channel (and so the queue) goes away on exit."""
    channel = await connection.channel(publisher_confirms=False)
    try:
        events = await channel.declare_exchange(exchange, ExchangeType.TOPIC, durable=True)
        declared = await channel.declare_queue(queue, exclusive=True, auto_delete=True)
        for binding_key in binding_keys:
            await declared.bind(events, binding_key)
        stream = EventStream(declared.name)
        await declared.consume(stream.on_message, no_ack=True)
        yield stream
    finally:
        await channel.close()
