"""What the sweepers (SweepTrash, SweepExpiredGrants) share: batch after batch until done."""

from __future__ import annotations

from collections.abc import Awaitable, Callable


async def until_done(one_batch: Callable[[], Awaitable[int]], batch: int) -> int:
    """Run ``one_batch`` while full batches (``batch`` items) come back; the total."""
    total = 0
    while (swept := await one_batch()) > 0:
        total += swept
        if swept < batch:
            break
    return total
