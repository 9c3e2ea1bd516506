"""The relay's event publisher on a real broker: what was not sent is said, not swallowed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import aio_pika
import pytest
from structlog.testing import capture_logs

from adapters.rabbit_publisher import EVENTS_EXCHANGE, RabbitEventPublisher
from core.ports import OutboxMessage
from tests.fixtures.rabbit import own_vhost

pytestmark = pytest.mark.integration


@pytest.fixture
def bare_vhost() -> Iterator[str]:
    """A vhost where doc.events exists and only ``routed.#`` is bound: the rest is unroutable."""
    with own_vhost("docbus-publisher") as url:
        yield url


def event(n: int, routing_key: str) -> OutboxMessage:
    return OutboxMessage(
        n, f"e{n}", routing_key, b'{"n": %d}' % n, (), datetime(2026, 12, 1, tzinfo=UTC)
    )


async def test_an_unroutable_event_is_logged_counted_and_not_reported_sent(
    bare_vhost: str,
) -> None:
    connection = await aio_pika.connect_robust(bare_vhost)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            EVENTS_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(exchange, "routed.#")
        failures: list[None] = []
        publisher = RabbitEventPublisher(connection, on_failure=lambda: failures.append(None))
        with capture_logs() as logs:
            sent = await publisher.publish([event(1, "routed.a"), event(2, "nowhere")])
    assert sent == [1]
    assert len(failures) == 1
    failed = [entry for entry in logs if entry["event"] == "event_publish_failed"]
    assert [(f["event_id"], f["routing_key"]) for f in failed] == [("e2", "nowhere")]
