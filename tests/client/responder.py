"""A stand-in for the docbus worker, written with plain aio-pika.

It consumes one queue bound to a test's own commands exchange and answers on
``reply_to`` through the default exchange (mandatory=False), as the contract says.
Directives in a request body steer it, so each test states its scenario in its data:

- ``_delay``: seconds to wait before replying (replies then arrive out of order)
- ``_dup``: how many extra copies of the reply to send (the client must drop them)
- ``_error``: an error object: reply ``{"ok": false, "error": ...}``
- ``_silent``: never reply
- ``_silent_first``: no reply to the first delivery of a message_id, a reply to the next
- ``_raw``: reply with this text as the body, as is

Without directives it echoes: ``{"ok": true, "data": {"echo": body, ...}}``.
``answer(routing_key, fn)`` replaces the echo for one routing key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aio_pika
import orjson
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage

Answer = Callable[[dict[str, Any]], dict[str, Any]]


class Responder:
    """Answers every command published to ``exchange`` with a matching binding."""

    def __init__(self, channel: AbstractChannel) -> None:
        self._channel = channel
        self._answers: dict[str, Answer] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.received: list[AbstractIncomingMessage] = []
        self.replies_sent = 0

    @classmethod
    async def start(
        cls, connection: AbstractConnection, exchange: str, binding_key: str = "#"
    ) -> Responder:
        channel = await connection.channel(publisher_confirms=False)
        responder = cls(channel)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, binding_key)
        await queue.consume(responder._on_command, no_ack=True)
        return responder

    def answer(self, routing_key: str, fn: Answer) -> None:
        self._answers[routing_key] = fn

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._channel.close()

    async def _on_command(self, message: AbstractIncomingMessage) -> None:
        first = all(m.message_id != message.message_id for m in self.received)
        self.received.append(message)
        body = orjson.loads(message.body)
        if message.reply_to is None or body.get("_silent"):
            return
        if body.get("_silent_first") and first:
            return
        delay = body.get("_delay", 0)
        if delay:
            task = asyncio.create_task(self._reply_later(delay, message, body))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            await self._reply(message, body)

    async def _reply_later(
        self, delay: float, message: AbstractIncomingMessage, body: dict[str, Any]
    ) -> None:
        await asyncio.sleep(delay)
        await self._reply(message, body)

    async def _reply(self, message: AbstractIncomingMessage, body: dict[str, Any]) -> None:
        payload = self._payload(message, body)
        for _ in range(1 + body.get("_dup", 0)):
            reply = aio_pika.Message(
                payload, correlation_id=message.correlation_id, content_type="application/json"
            )
            assert message.reply_to is not None
            await self._channel.default_exchange.publish(
                reply, routing_key=message.reply_to, mandatory=False
            )
            self.replies_sent += 1

    def _payload(self, message: AbstractIncomingMessage, body: dict[str, Any]) -> bytes:
        if "_raw" in body:
            return str(body["_raw"]).encode()
        if "_error" in body:
            return orjson.dumps({"ok": False, "error": body["_error"]})
        answer = self._answers.get(message.routing_key or "")
        if answer is not None:
            return orjson.dumps(answer(body))
        echo = {"echo": body, "message_id": message.message_id, "routing_key": message.routing_key}
        return orjson.dumps({"ok": True, "data": echo})
