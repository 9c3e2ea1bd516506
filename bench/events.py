"""A tap on an events exchange: an exclusive queue that waits for given events to arrive.

Each event is reduced to a key (``key_of``: e.g. the doc_id and version of a
DocumentUploaded); ``wait_for(keys)`` returns once every key has been seen. Duplicates
(events are at least once) count once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Sequence
from typing import Any

import orjson
from aio_pika.abc import AbstractConnection, AbstractIncomingMessage, AbstractQueue

from bench.stats import BenchError

KeyOf = Callable[[str, dict[str, Any]], str | None]


def uploaded_key(routing_key: str, body: dict[str, Any]) -> str | None:
    """``doc_id@version`` of a document.uploaded event."""
    if routing_key != "document.uploaded":
        return None
    document = body["document"]
    return f"{document['doc_id']}@{document['version']}"


def shared_key(routing_key: str, body: dict[str, Any]) -> str | None:
    """``doc_id>user`` of a document.shared.* event."""
    if not routing_key.startswith("document.shared."):
        return None
    return f"{body['document_id']}>{body['shared_with']}"


def renamed_key(doc_id: str, name: str) -> str:
    return f"{doc_id}~{name}"


def moved_key(doc_id: str, folder_id: str) -> str:
    return f"{doc_id}=>{folder_id}"


def trashed_key(doc_id: str) -> str:
    return f"{doc_id}#trashed"


LIFECYCLE_BINDINGS = ("document.renamed", "document.moved", "document.trashed")


def lifecycle_key(routing_key: str, body: dict[str, Any]) -> str | None:
    """``doc~name``, ``doc=>folder`` or ``doc#trashed`` of a document.renamed, .moved or
    .trashed event."""
    if routing_key == "document.renamed":
        return renamed_key(body["document_id"], body["name"])
    if routing_key == "document.moved":
        return moved_key(body["document_id"], body["to_folder_id"])
    if routing_key == "document.trashed":
        return trashed_key(body["document_id"])
    return None


def raw_key(routing_key: str, body: dict[str, Any]) -> str | None:
    """The command id a raw baseline event carries."""
    return str(body["id"])


def docbus_key(routing_key: str, body: dict[str, Any]) -> str | None:
    return (uploaded_key(routing_key, body) or shared_key(routing_key, body)
            or lifecycle_key(routing_key, body))


class EventTap:
    """Counts events by key; ``wait_for`` blocks until the expected keys have all arrived."""

    def __init__(self, key_of: KeyOf) -> None:
        self._key_of = key_of
        self._seen: set[str] = set()
        self._missing: set[str] = set()
        self._done = asyncio.Event()
        self._queue: AbstractQueue | None = None
        self.received = 0

    async def attach(
        self, connection: AbstractConnection, exchange: str, binding_keys: Sequence[str]
    ) -> None:
        """Bind an exclusive auto-delete queue and start consuming it (no_ack)."""
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=1000)
        self._queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        for key in binding_keys:
            await self._queue.bind(exchange, key)
        await self._queue.consume(self._on_event, no_ack=True)

    def expect(self, keys: Collection[str]) -> None:
        """Start waiting for ``keys`` (call before the commands are sent)."""
        self._missing = set(keys) - self._seen
        if self._missing:
            self._done.clear()
        else:
            self._done.set()

    async def wait(self, timeout: float, what: str) -> None:
        """Return once every expected key arrived; BenchError after ``timeout`` seconds."""
        try:
            async with asyncio.timeout(timeout):
                await self._done.wait()
        except TimeoutError:
            missing = len(self._missing)
            raise BenchError(f"{what}: {missing} events missing after {timeout}s") from None

    async def _on_event(self, message: AbstractIncomingMessage) -> None:
        self.received += 1
        key = self._key_of(message.routing_key or "", orjson.loads(message.body))
        if key is None:
            return
        self._seen.add(key)
        if key in self._missing:
            self._missing.discard(key)
            if not self._missing:
                self._done.set()
