"""Consumers over FastStream's in-memory TestRabbitBroker, with in-memory adapters.

TestRabbitBroker does not acknowledge, reject or dead-letter anything, so what this tier
checks is decoding, replies and the error table; the broker's side of it is in tests/e2e.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from unittest.mock import AsyncMock

import aiormq.abc
import orjson
import pytest
from aio_pika.abc import AbstractIncomingMessage
from faststream.rabbit import RabbitBroker, TestRabbitBroker
from faststream.rabbit.testing import PatchedMessage
from pamqp import commands as spec
from pamqp.header import ContentHeader

from docbus.adapters.memory import (
    FixedClock,
    InMemoryAuditLog,
    InMemoryDatabase,
    InMemoryReplyCache,
    InMemoryUnitOfWorkFactory,
    SequentialIds,
)
from docbus.consumers.pipeline import Pipeline, RetryPolicy, Run
from docbus.consumers.subscribers import build_runners, make_broker, register_commands


@dataclass
class RecordingResponder:
    replies: list[tuple[str | None, dict[str, Any]]] = field(default_factory=list)
    dead: list[tuple[str, bytes]] = field(default_factory=list)

    async def reply(
        self, request: AbstractIncomingMessage, body: bytes, *, confirmed: bool = True
    ) -> None:
        if request.reply_to:
            self.replies.append((request.correlation_id, orjson.loads(body)))

    async def dead_letter(self, original: AbstractIncomingMessage, reason: str) -> None:
        self.dead.append((reason, original.body))

    def last(self) -> dict[str, Any]:
        return self.replies[-1][1]


def delivered(
    routing_key: str, body: Any, *, redelivered: bool, **props: Any
) -> AbstractIncomingMessage:
    """A delivery as the test broker makes one, but with the broker's ``redelivered`` flag
    (which TestRabbitBroker always leaves false)."""
    props.setdefault("content_type", "application/json")
    props.setdefault("reply_to", "amq.rabbitmq.reply-to.test")
    deliver = spec.Basic.Deliver(
        exchange="docbus.commands", routing_key=routing_key, redelivered=redelivered
    )
    return PatchedMessage(
        aiormq.abc.DeliveredMessage(
            delivery=deliver,
            header=ContentHeader(properties=spec.Basic.Properties(**props)),
            body=body if isinstance(body, bytes) else orjson.dumps(body),
            channel=AsyncMock(),  # as the test broker's own deliveries: acks go nowhere
        )
    )


@dataclass
class Harness:
    broker: RabbitBroker
    responder: RecordingResponder
    pipeline: Pipeline
    runners: dict[str, Run]
    db: InMemoryDatabase
    cache: InMemoryReplyCache
    audit: InMemoryAuditLog

    async def send(self, routing_key: str, body: Any, **props: Any) -> dict[str, Any] | None:
        """Publish as a client would; return the reply (None if there was none)."""
        raw = body if isinstance(body, bytes) else orjson.dumps(body)
        props.setdefault("content_type", "application/json")
        props.setdefault("reply_to", "amq.rabbitmq.reply-to.test")
        props.setdefault("correlation_id", f"c-{len(self.responder.replies)}")
        before = len(self.responder.replies)
        await self.broker.publish(raw, exchange="docbus.commands", routing_key=routing_key, **props)
        return self.responder.last() if len(self.responder.replies) > before else None


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    db = InMemoryDatabase()
    cache = InMemoryReplyCache()
    audit = InMemoryAuditLog()
    responder = RecordingResponder()
    pipeline = Pipeline(responder, RetryPolicy(budget=0.2), poison_after=5)  # type: ignore[arg-type]
    broker = make_broker()
    runners = build_runners(
        InMemoryUnitOfWorkFactory(db), cache, FixedClock(), SequentialIds(),
        cursor_key=b"consumers-test-cursor-key",
    )
    register_commands(broker, pipeline, runners, prefetch=8, delivery_limit=20)
    async with TestRabbitBroker(broker) as test_broker:
        yield Harness(test_broker, responder, pipeline, runners, db, cache, audit)
