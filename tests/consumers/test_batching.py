"""MicroBatcher: one write for deliveries in flight together, errors to all of them."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from consumers.batching import MicroBatcher


async def test_items_added_together_are_written_in_one_call() -> None:
    calls: list[list[int]] = []

    async def flush(items: Sequence[int]) -> None:
        calls.append(list(items))

    batcher = MicroBatcher(flush, size=100, linger=0.01)
    await asyncio.gather(*(batcher.add(i) for i in range(10)))
    assert calls == [list(range(10))]


async def test_a_full_batch_is_written_without_waiting_for_the_linger() -> None:
    calls: list[int] = []

    async def flush(items: Sequence[int]) -> None:
        calls.append(len(items))

    batcher = MicroBatcher(flush, size=4, linger=60)
    await asyncio.wait_for(asyncio.gather(*(batcher.add(i) for i in range(8))), 1)
    assert calls == [4, 4]


async def test_a_failed_write_fails_every_item_of_its_batch_and_the_next_batch_goes_on() -> None:
    attempts = 0

    async def flush(items: Sequence[int]) -> None:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise ConnectionError("down")

    batcher = MicroBatcher(flush, size=100, linger=0.001)
    results = await asyncio.gather(*(batcher.add(i) for i in range(3)), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    await batcher.add(4)
    assert attempts == 2


@pytest.mark.parametrize("count", [1, 300])
async def test_every_item_is_written_exactly_once(count: int) -> None:
    written: list[int] = []

    async def flush(items: Sequence[int]) -> None:
        await asyncio.sleep(0)
        written.extend(items)

    batcher = MicroBatcher(flush, size=64, linger=0.001)
    await asyncio.gather(*(batcher.add(i) for i in range(count)))
    assert sorted(written) == list(range(count))
