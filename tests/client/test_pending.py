"""PendingReplies without a broker: matching, dropping, failing, forgetting."""

from __future__ import annotations

import asyncio

import pytest

from docbus_client.errors import DocbusConnectionLost
from docbus_client.pending import PendingReplies


async def test_a_reply_resolves_the_request_with_its_correlation_id() -> None:
    pending = PendingReplies()
    first_id, first = pending.expect()
    second_id, second = pending.expect()
    pending.resolve(second_id, b"2")
    pending.resolve(first_id, b"1")
    assert (await first, await second) == (b"1", b"2")
    assert len(pending) == 0


async def test_correlation_ids_are_unique() -> None:
    pending = PendingReplies()
    ids = {pending.expect()[0] for _ in range(1000)}
    assert len(ids) == 1000


async def test_unknown_duplicate_and_missing_correlation_ids_are_counted() -> None:
    pending = PendingReplies()
    correlation_id, future = pending.expect()
    for reply_to in (correlation_id, correlation_id, "nope", None):
        pending.resolve(reply_to, b"{}")
    assert await future == b"{}"
    assert pending.dropped == 3


async def test_fail_all_fails_every_request_with_its_own_error() -> None:
    pending = PendingReplies()
    futures = [pending.expect()[1] for _ in range(3)]
    failed = pending.fail_all(lambda: DocbusConnectionLost("connection_lost", "gone"))
    assert failed == 3
    errors = [future.exception() for future in futures]
    assert all(isinstance(error, DocbusConnectionLost) for error in errors)
    assert len({id(error) for error in errors}) == 3
    assert len(pending) == 0


async def test_forget_cancels_a_waiting_future_and_a_late_reply_is_dropped() -> None:
    pending = PendingReplies()
    correlation_id, future = pending.expect()
    pending.forget(correlation_id, future)
    assert future.cancelled()
    pending.resolve(correlation_id, b"late")
    assert pending.dropped == 1


async def test_forget_retrieves_a_failure_nobody_awaited(caplog: pytest.LogCaptureFixture) -> None:
    pending = PendingReplies()
    correlation_id, future = pending.expect()
    pending.fail_all(lambda: DocbusConnectionLost("connection_lost", "gone"))
    pending.forget(correlation_id, future)
    del future
    await asyncio.sleep(0)
    assert "exception was never retrieved" not in caplog.text
