"""DocbusClient: one robust connection, one confirmed publishing channel, one reply consumer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from functools import partial
from types import TracebackType
from typing import Any, Self, TypeVar, cast

import aio_pika
import orjson
from aio_pika.abc import AbstractRobustConnection

from docbus_client.channel import CommandChannel
from docbus_client.errors import (
    DocbusConnectionError,
    DocbusConnectionLost,
    DocbusTimeout,
    Unavailable,
)
from docbus_client.events import EventStream, subscribe
from docbus_client.failover import FailoverConnection, node_urls
from docbus_client.pending import PendingReplies
from docbus_client.publishing import new_message_id
from docbus_client.reply import Reply
from docbus_client.search import DocbusSearch
from docbus_client.topology import COMMANDS_EXCHANGE, DEFAULT_URL, EVENTS_EXCHANGE

T = TypeVar("T")
RESEND_PAUSE = 0.05
# Pauses before a nacked command is published again, on a fresh channel: a quorum queue's
# leader election takes a second or two after a node died (CommandChannel.renew).
NACK_PAUSES = (0.2, 0.5, 1.0)


class DocbusClient(DocbusSearch):
    """Async client of the docbus message contract.

    Any number of requests may be in flight at once: each gets its own correlation_id
    and future, all replies arrive on one direct reply-to consumer. ``timeout`` is the
    default per-request timeout in seconds; every call may override it.
    ``exchange``/``events_exchange`` exist so that tests can isolate themselves;
    ``connection_name`` is what the RabbitMQ management UI shows.

    ``url`` may name the nodes of a cluster (client/failover.py): the client connects to
    a random one and fails over to the next live one. With ``resend_on_loss`` (default),
    a request whose connection or channel is lost before its reply is published again,
    with the same message_id, once the connection is back (within its timeout): the
    worker applies a message_id once, so the command still takes effect once. A command
    the broker nacks is published again the same way on a fresh channel, up to three
    times, before :class:`Unavailable` is raised.
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        timeout: float = 10.0,
        heartbeat: int = 10,
        connect_timeout: float = 10.0,
        reconnect_interval: float = 1.0,
        exchange: str = COMMANDS_EXCHANGE,
        events_exchange: str = EVENTS_EXCHANGE,
        connection_name: str = "docbus-client",
        resend_on_loss: bool = True,
    ) -> None:
        self.url = url
        self.nodes = node_urls(url)
        self.resend_on_loss = resend_on_loss
        self.resent = 0
        """Requests published again after a connection or channel loss."""
        self.timeout = timeout
        self.exchange = exchange
        self.events_exchange = events_exchange
        self.connection_name = connection_name
        self.heartbeat = heartbeat
        self.connect_timeout = connect_timeout
        self.reconnect_interval = reconnect_interval
        self._connection: AbstractRobustConnection | None = None
        self._channel: CommandChannel | None = None
        self._pending = PendingReplies()

    @classmethod
    async def connect(
        cls,
        url: str = DEFAULT_URL,
        *,
        timeout: float = 10.0,
        heartbeat: int = 10,
        connect_timeout: float = 10.0,
        reconnect_interval: float = 1.0,
        exchange: str = COMMANDS_EXCHANGE,
        events_exchange: str = EVENTS_EXCHANGE,
        connection_name: str = "docbus-client",
        resend_on_loss: bool = True,
    ) -> Self:
        """Create a client and open its connection."""
        client = cls(
            url,
            timeout=timeout,
            heartbeat=heartbeat,
            connect_timeout=connect_timeout,
            reconnect_interval=reconnect_interval,
            exchange=exchange,
            events_exchange=events_exchange,
            connection_name=connection_name,
            resend_on_loss=resend_on_loss,
        )
        await client.open()
        return client

    async def open(self) -> None:
        """Connect (robustly: it reconnects by itself) and start the reply consumer."""
        if self._connection is not None:
            return
        try:
            self._connection = await aio_pika.connect_robust(
                self.nodes[0],
                # bound, not a keyword: aio-pika copies keywords into the URL's query
                connection_class=cast(Any, partial(FailoverConnection, nodes=self.nodes)),
                timeout=self.connect_timeout,
                heartbeat=self.heartbeat,
                reconnect_interval=self.reconnect_interval,
                client_properties={"connection_name": self.connection_name},
            )
        except (OSError, aio_pika.exceptions.AMQPError, TimeoutError) as exc:
            raise DocbusConnectionError("connection", f"cannot connect: {exc!r}") from exc
        try:
            self._channel = await CommandChannel.open(
                self._connection, self.exchange, self._pending
            )
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Fail the requests in flight and close the connection. Idempotent."""
        channel, connection = self._channel, self._connection
        self._channel = self._connection = None
        if channel is not None:
            await channel.close()
        if connection is not None:
            await connection.close()

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def in_flight(self) -> int:
        """Requests waiting for their reply right now."""
        return len(self._pending)

    @property
    def dropped_replies(self) -> int:
        """Replies that matched no request in flight (late, duplicated, unknown)."""
        return self._pending.dropped

    async def request(
        self,
        routing_key: str,
        body: Mapping[str, Any],
        *,
        message_id: str | None = None,
        timeout: float | None = None,
    ) -> Reply:
        """Publish a command with reply_to and wait for its reply (not raising on an
        error envelope: see :meth:`Reply.unwrap`). Raises :class:`DocbusTimeout`."""
        message_id = message_id or new_message_id()
        limit = self.timeout if timeout is None else timeout
        channel = self._open_channel()
        try:
            async with asyncio.timeout(limit):
                data = _encode(body)
                body_bytes = await self._resending(
                    lambda: channel.request(routing_key, data, message_id)
                )
        except TimeoutError:
            raise _timeout(routing_key, message_id, limit) from None
        return Reply.decode(body_bytes, message_id)

    async def send(
        self,
        routing_key: str,
        body: Mapping[str, Any],
        *,
        message_id: str | None = None,
        timeout: float | None = None,
    ) -> str:
        """Fire and forget: a confirmed publish without reply_to. Returns the
        message_id, which a retry of the same command must reuse."""
        message_id = message_id or new_message_id()
        limit = self.timeout if timeout is None else timeout
        channel = self._open_channel()
        try:
            async with asyncio.timeout(limit):
                data = _encode(body)

                async def publish() -> None:
                    await channel.ready()
                    await channel.publish(routing_key, data, message_id)

                await self._resending(publish)
        except TimeoutError:
            raise _timeout(routing_key, message_id, limit) from None
        return message_id

    def subscribe_events(
        self, binding_keys: Sequence[str] = ("#",), queue: str | None = None
    ) -> AbstractAsyncContextManager[EventStream]:
        """``async with client.subscribe_events(("document.#",)) as events:`` then
        ``async for event in events``: decoded event dicts with their ``routing_key``."""
        if self._connection is None:
            raise DocbusConnectionError("connection", "the client is not open")
        return subscribe(self._connection, self.events_exchange, binding_keys, queue)

    async def _resending(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """``attempt()``, again (same message_id) while it fails with a lost connection
        and the client is open, and after a nack on a fresh channel up to
        ``len(NACK_PAUSES)`` times (then :class:`Unavailable`); the caller's timeout
        bounds the whole."""
        nacks = 0
        while True:
            try:
                return await attempt()
            except DocbusConnectionLost:
                if not self.resend_on_loss or self._channel is None:
                    raise
                pause = RESEND_PAUSE
            except Unavailable:  # a nack; the channel was replaced (CommandChannel.renew)
                if not self.resend_on_loss or nacks == len(NACK_PAUSES):
                    raise
                pause = NACK_PAUSES[nacks]
                nacks += 1
            self.resent += 1
            # The channel waits for the reconnection itself; this pause only keeps a
            # channel that fails at once from spinning (after a nack: lets an election end).
            await asyncio.sleep(pause)

    def _open_channel(self) -> CommandChannel:
        if self._channel is None:
            raise DocbusConnectionError("connection", "the client is not open")
        return self._channel


def _encode(body: Mapping[str, Any]) -> bytes:
    return orjson.dumps(body if isinstance(body, dict) else dict(body))


def _timeout(routing_key: str, message_id: str, limit: float) -> DocbusTimeout:
    return DocbusTimeout(
        "timeout",
        f"no reply to {routing_key!r} (message_id {message_id}) within {limit}s;"
        " retry with the same message_id",
    )
