"""The relay's event publisher on a real broker: what was not sent is said, not swallowed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import aio_pika
import pytest
from structlog.testing import capture_logs

from docbus.adapters.rabbit_publisher import EVENTS_EXCHANGE, RabbitEventPublisher
from docbus.core.ports import OutboxMessage
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


async def test_a_nacked_batch_is_not_retried_on_the_same_channel(bare_vhost: str) -> None:
    """A channel that got a nack is closed; the next batch goes out on a fresh one (a
    RabbitMQ 3.10 channel can stay bound to a dead quorum queue leader: every later
    publish to that queue nacked, docs/reliability.md)."""
    connection = await aio_pika.connect_robust(bare_vhost)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            EVENTS_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
        )
        routed = await channel.declare_queue(exclusive=True)
        await routed.bind(exchange, "routed.#")
        full = await channel.declare_queue(
            exclusive=True, arguments={"x-max-length": 0, "x-overflow": "reject-publish"}
        )
        await full.bind(exchange, "full.#")
        publisher = RabbitEventPublisher(connection)
        assert await publisher.publish([event(1, "routed.a")]) == [1]
        used = publisher._channel
        assert used is not None
        assert await publisher.publish([event(2, "routed.a")]) == [2]
        assert publisher._channel is used  # a batch that went out keeps its channel
        with capture_logs():
            assert await publisher.publish([event(3, "routed.a"), event(4, "full.a")]) == [3]
        assert used.is_closed
        assert await publisher.publish([event(5, "routed.a")]) == [5]
        assert publisher._channel is not None and publisher._channel is not used
