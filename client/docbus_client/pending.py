"""Requests in flight: one future per correlation_id, resolved by the reply consumer.

A plain dict of futures instead of a lock around one request at a time is what lets
any number of requests share the single direct reply-to consumer.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable


class PendingReplies:
    """Futures of the requests in flight, keyed by correlation_id."""

    def __init__(self) -> None:
        self._futures: dict[str, asyncio.Future[bytes]] = {}
        self._ids = itertools.count(1)
        self.dropped = 0
        """Replies that matched no request in flight: late, duplicated or unknown."""

    def __len__(self) -> int:
        return len(self._futures)

    def expect(self) -> tuple[str, asyncio.Future[bytes]]:
        """A fresh correlation_id and the future its reply will resolve."""
        correlation_id = format(next(self._ids), "x")
        future = asyncio.get_running_loop().create_future()
        self._futures[correlation_id] = future
        return correlation_id, future

    def resolve(self, correlation_id: str | None, body: bytes) -> None:
        """Hand a reply to its request; anything unmatched is dropped and counted."""
        future = self._futures.pop(correlation_id or "", None)
        if future is None or future.done():
            self.dropped += 1
            return
        future.set_result(body)

    def forget(self, correlation_id: str, future: asyncio.Future[bytes]) -> None:
        """Stop waiting for a reply (done, timed out, failed or cancelled)."""
        self._futures.pop(correlation_id, None)
        if not future.done():
            future.cancel()
        elif not future.cancelled():
            future.exception()  # marks a fail_all() error as retrieved: no asyncio warning

    def fail_all(self, error: Callable[[], BaseException]) -> int:
        """Fail every request in flight with a fresh ``error()``; returns how many."""
        futures, self._futures = self._futures, {}
        for future in futures.values():
            if not future.done():
                future.set_exception(error())
        return len(futures)
