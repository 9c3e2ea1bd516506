"""Crash points for the fault suite, installed through the composition root's overrides.

``crashing(spec)`` gives the overrides that kill the process (``os._exit(137)``, like
``kill -9``: no cleanup, no ack) the n-th time (default 1st) it passes the named point;
``spec`` is ``point[:n]``. Production never builds any of this.

Points:

- ``after_receive``: a delivery reached the pipeline, nothing done yet;
- ``after_commit``: a command's transaction committed (a query answered), before its
  reply and its ack;
- ``after_claim``: outbox rows claimed, nothing published;
- ``after_confirm``: the broker confirmed events, their rows not yet marked sent.

``naive=True`` (the suite's control run only) breaks the relay on purpose: claimed rows
are deleted and committed before they are published, so a crash in between loses their
events. The suite must report them lost.
"""

from __future__ import annotations

import functools
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from aio_pika.abc import AbstractIncomingMessage
from pydantic import BaseModel

from docbus.adapters.valkey_streams import ValkeyStreamPublisher
from docbus.consumers.bootstrap import Overrides
from docbus.consumers.pipeline import Pipeline, Run
from docbus.core.ports import RABBITMQ, EventPublisher, Outbox, OutboxBatch, OutboxMessage

POINTS = ("after_receive", "after_commit", "after_claim", "after_confirm")
STREAM_POINTS = ("after_stream_confirm",)
"""Points only a relay with the Valkey stream among its transports passes (their own
scenario, not one per point)."""


class CrashPoints:
    def __init__(self, spec: str = "") -> None:
        point, _, nth = spec.partition(":")
        if point and point not in (*POINTS, *STREAM_POINTS):
            known = ", ".join((*POINTS, *STREAM_POINTS))
            raise ValueError(f"unknown crash point {point!r}; known: {known}")
        self.point = point
        self._left = int(nth or 1)

    def crash(self, point: str) -> None:
        if point != self.point:
            return
        self._left -= 1
        if self._left <= 0:
            os._exit(137)


def crashing(spec: str, *, naive: bool = False) -> Overrides:
    """The overrides that crash at ``spec`` (``point[:n]``; empty: never)."""
    points = CrashPoints(spec)
    return Overrides(
        outbox=lambda outbox: CrashingOutbox(outbox, points, naive=naive),
        publisher=lambda publisher: CrashingPublisher(publisher, points),
        runner=lambda run: crash_after_commit(run, points),
        pipeline=functools.partial(CrashingPipeline, points=points),
    )


class CrashingPipeline(Pipeline):
    """The pipeline, dying as a delivery arrives (``after_receive``)."""

    def __init__(self, *args: Any, points: CrashPoints, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._points = points

    async def process(
        self, raw: AbstractIncomingMessage, schema: type[BaseModel], run: Run, *, query: bool
    ) -> None:
        self._points.crash("after_receive")
        await super().process(raw, schema, run, query=query)


def crash_after_commit(run: Run, points: CrashPoints) -> Run:
    """The runner, dying once its work committed, before the reply and the ack."""

    async def crashing_run(body: Any, raw: AbstractIncomingMessage) -> bytes:
        reply = await run(body, raw)
        points.crash("after_commit")
        return reply

    return crashing_run


class CrashingOutbox:
    """Outbox that dies right after a non-empty claim (``after_claim``)."""

    def __init__(self, outbox: Outbox, points: CrashPoints, *, naive: bool = False) -> None:
        self._outbox = outbox
        self._points = points
        self._naive = naive

    def claim(
        self, limit: int, transport: str = RABBITMQ
    ) -> AbstractAsyncContextManager[OutboxBatch]:
        if self._naive:
            return self._naive_claim(limit, transport)
        return self._claim(limit, transport)

    @asynccontextmanager
    async def _naive_claim(self, limit: int, transport: str) -> AsyncIterator[OutboxBatch]:
        async with self._outbox.claim(limit, transport) as batch:
            messages = list(batch.messages)
            await batch.done([m.id for m in messages])
        if messages:
            self._points.crash("after_claim")
        yield _Deleted(messages)

    @asynccontextmanager
    async def _claim(self, limit: int, transport: str) -> AsyncIterator[OutboxBatch]:
        async with self._outbox.claim(limit, transport) as batch:
            if batch.messages:
                self._points.crash("after_claim")
            yield batch


class CrashingPublisher:
    """Event publisher that dies after the broker confirmed (``after_confirm``), or after
    the Valkey stream confirmed (``after_stream_confirm``: with several transports)."""

    def __init__(self, publisher: EventPublisher, points: CrashPoints) -> None:
        self._publisher = publisher
        self._points = points

    async def publish(self, messages: Sequence[OutboxMessage]) -> list[int]:
        confirmed = await self._publisher.publish(messages)
        if confirmed:
            stream = isinstance(self._publisher, ValkeyStreamPublisher)
            self._points.crash("after_stream_confirm" if stream else "after_confirm")
        return confirmed


class _Deleted:
    """A batch whose rows are already gone (the naive relay): nothing left to mark."""

    def __init__(self, messages: list[OutboxMessage]) -> None:
        self.messages = messages

    async def done(self, ids: Sequence[int]) -> None:
        return None
