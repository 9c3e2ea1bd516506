"""Crash points for the fault suite: ``DOCBUS_CRASH_AT=point[:n]`` kills the process
(like ``kill -9``: no cleanup, no ack) the n-th time (default 1st) it passes ``point``.

Points: after_receive, after_commit (committed, before reply and ack), after_claim
(outbox rows claimed, nothing published), after_confirm (broker confirmed, rows not yet
marked sent). Unset in production: ``crash`` is then a no-op.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from core.ports import EventPublisher, Outbox, OutboxBatch, OutboxMessage

POINTS = ("after_receive", "after_commit", "after_claim", "after_confirm")


class CrashPoints:
    def __init__(self, spec: str = "") -> None:
        point, _, nth = spec.partition(":")
        if point and point not in POINTS:
            raise ValueError(f"unknown crash point {point!r}; known: {', '.join(POINTS)}")
        self.point = point
        self._left = int(nth or 1)

    def crash(self, point: str) -> None:
        if point != self.point:
            return
        self._left -= 1
        if self._left <= 0:
            os._exit(137)


class CrashingOutbox:
    """Outbox that dies right after a non-empty claim when the suite asks for it.

    ``naive=True`` (``DOCBUS_FAULTS_NAIVE_RELAY``, the suite's control run only) breaks the
    outbox on purpose: claimed rows are deleted and committed before they are published,
    so a crash in between loses their events. The suite must report them lost.
    """

    def __init__(self, outbox: Outbox, points: CrashPoints, *, naive: bool = False) -> None:
        self._outbox = outbox
        self._points = points
        self._naive = naive

    def claim(self, limit: int) -> AbstractAsyncContextManager[OutboxBatch]:
        return self._naive_claim(limit) if self._naive else self._claim(limit)

    @asynccontextmanager
    async def _naive_claim(self, limit: int) -> AsyncIterator[OutboxBatch]:
        async with self._outbox.claim(limit) as batch:
            messages = list(batch.messages)
            await batch.done([m.id for m in messages])
        if messages:
            self._points.crash("after_claim")
        yield _Deleted(messages)

    @asynccontextmanager
    async def _claim(self, limit: int) -> AsyncIterator[OutboxBatch]:
        async with self._outbox.claim(limit) as batch:
            if batch.messages:
                self._points.crash("after_claim")
            yield batch


class CrashingPublisher:
    """Event publisher that dies after the broker confirmed, before rows are marked sent."""

    def __init__(self, publisher: EventPublisher, points: CrashPoints) -> None:
        self._publisher = publisher
        self._points = points

    async def publish(self, messages: Sequence[OutboxMessage]) -> list[int]:
        confirmed = await self._publisher.publish(messages)
        if confirmed:
            self._points.crash("after_confirm")
        return confirmed


class _Deleted:
    """A batch whose rows are already gone (the naive relay): nothing left to mark."""

    def __init__(self, messages: list[OutboxMessage]) -> None:
        self.messages = messages

    async def done(self, ids: Sequence[int]) -> None:
        return None
