"""Micro-batching: many deliveries, one call.

The audit consumer receives one message per event; writing each with its own INSERT
would make the audit log cost as much as the command that caused the event. Deliveries
in flight at the same time (the channel's prefetch bounds them) are gathered for at most
``linger`` seconds or ``size`` items and written with one call; each delivery is
acknowledged only after the call that holds it succeeded, and fails with it otherwise.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class MicroBatcher(Generic[T]):
    def __init__(
        self,
        flush: Callable[[Sequence[T]], Awaitable[object]],
        *,
        size: int = 256,
        linger: float = 0.002,
    ) -> None:
        self._flush = flush
        self._size = size
        self._linger = linger
        self._items: list[T] = []
        self._done: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._writes: set[asyncio.Task[None]] = set()  # strong references while running

    async def add(self, item: T) -> None:
        """Return once the batch holding ``item`` was written (or raise its error)."""
        if self._done is None:
            self._done = asyncio.get_running_loop().create_future()
            self._timer = asyncio.get_running_loop().call_later(self._linger, self._start)
        self._items.append(item)
        done = self._done
        if len(self._items) >= self._size:
            self._start()
        await asyncio.shield(done)

    def _start(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        items, done = self._items, self._done
        self._items, self._done, self._timer = [], None, None
        if done is not None:
            task = asyncio.ensure_future(self._write(items, done))
            self._writes.add(task)
            task.add_done_callback(self._writes.discard)

    async def _write(self, items: list[T], done: asyncio.Future[None]) -> None:
        try:
            await self._flush(items)
        except BaseException as error:  # every waiter of the batch gets the error
            if not done.done():
                done.set_exception(error)
            return
        if not done.done():
            done.set_result(None)
