"""A handler never outlives its retry budget (plus a margin), however it hangs.

Without the hard limit, the budget was only checked between attempts: one attempt stuck
on a dependency kept the delivery (and its prefetch slot) for as long as it hung.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from pydantic import BaseModel

from docbus.consumers.pipeline import BudgetExhausted, Pipeline, RetryPolicy
from docbus.core.errors import Unavailable


class Body(BaseModel):
    x: int


@dataclass
class Raw:
    body: bytes = b'{"x": 1}'
    content_type: str = "application/json"
    headers: dict[str, Any] = field(default_factory=dict)
    reply_to: str | None = "replies"
    message_id: str | None = "m1"
    correlation_id: str | None = "c1"
    routing_key: str | None = "document.upload"
    redelivered: bool = False
    timestamp: Any = None
    user_id: str | None = None
    acked: bool = False
    nacked: bool = False

    async def ack(self) -> None:
        self.acked = True

    async def nack(self, requeue: bool = True) -> None:
        self.nacked = True


@dataclass
class Responder:
    replies: list[dict[str, Any]] = field(default_factory=list)
    dead: list[str] = field(default_factory=list)

    async def reply(self, request: Any, body: bytes) -> None:
        self.replies.append(orjson.loads(body))

    async def dead_letter(self, original: Any, reason: str) -> None:
        self.dead.append(reason)


async def test_an_attempt_that_hangs_ends_at_budget_plus_margin() -> None:
    policy = RetryPolicy(budget=0.2, margin=0.2)

    async def hang() -> bytes:
        await asyncio.sleep(3600)
        return b""

    started = time.monotonic()
    async with asyncio.timeout(2):  # without the hard limit: a TimeoutError here
        with pytest.raises(BudgetExhausted, match="hard limit"):
            await policy.run(hang)
    assert time.monotonic() - started < 1.0


async def test_a_hanging_handler_is_answered_unavailable_and_dead_lettered() -> None:
    responder = Responder()
    pipeline = Pipeline(responder, RetryPolicy(budget=0.2, margin=0.2), poison_after=5)  # type: ignore[arg-type]
    raw = Raw()

    async def run(body: Any, message: Any) -> bytes:
        await asyncio.sleep(3600)
        return b""

    async with asyncio.timeout(2):
        await pipeline.process(raw, Body, run, query=False)  # type: ignore[arg-type]
    assert raw.acked and not raw.nacked
    assert responder.dead and responder.dead[0].startswith("unavailable:")
    assert responder.replies == [
        {"ok": False, "error": {"code": "unavailable", "details": [],
                                "message": "a dependency stayed unavailable; try again later"}}
    ]


async def test_a_timeout_raised_by_the_attempt_itself_is_not_the_hard_limit() -> None:
    policy = RetryPolicy(budget=5, margin=5)

    async def fails() -> bytes:
        raise TimeoutError("the attempt's own")

    with pytest.raises(TimeoutError, match="own"):
        await policy.run(fails)


async def test_unavailable_is_still_retried_within_the_budget() -> None:
    policy = RetryPolicy(budget=5, margin=1)
    calls = 0

    async def flaky() -> bytes:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise Unavailable("down")
        return b"ok"

    assert await policy.run(flaky) == b"ok"
    assert calls == 3
