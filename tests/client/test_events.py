"""subscribe_events(): a private queue on the events exchange, gone after use."""

from __future__ import annotations

import aio_pika
import orjson
import pytest
from aio_pika.abc import AbstractConnection

from docbus_client import DocbusClient

pytestmark = pytest.mark.integration


async def publish_event(
    rabbit: AbstractConnection, exchange: str, routing_key: str, body: dict[str, object]
) -> None:
    channel = await rabbit.channel()
    target = await channel.get_exchange(exchange)
    await target.publish(aio_pika.Message(orjson.dumps(body)), routing_key=routing_key)
    await channel.close()


async def test_events_matching_the_binding_keys_arrive_with_their_routing_key(
    docbus: DocbusClient, rabbit: AbstractConnection, events_exchange: str
) -> None:
    async with docbus.subscribe_events(binding_keys=("document.#",)) as events:
        await publish_event(rabbit, events_exchange, "folder.created", {"event_id": "e0"})
        await publish_event(rabbit, events_exchange, "document.shared.viewer", {"event_id": "e1"})
        await publish_event(rabbit, events_exchange, "document.uploaded", {"event_id": "e2"})
        received = [await events.receive(timeout=5), await events.receive(timeout=5)]
    assert received == [
        {"event_id": "e1", "routing_key": "document.shared.viewer"},
        {"event_id": "e2", "routing_key": "document.uploaded"},
    ]


async def test_events_can_be_iterated(
    docbus: DocbusClient, rabbit: AbstractConnection, events_exchange: str
) -> None:
    async with docbus.subscribe_events() as events:
        for n in range(3):
            await publish_event(rabbit, events_exchange, "org.member.changed", {"n": n})
        seen = []
        async for event in events:
            seen.append(event["n"])
            if len(seen) == 3:
                break
    assert seen == [0, 1, 2]


async def test_the_subscription_queue_is_deleted_on_exit(
    docbus: DocbusClient, rabbit: AbstractConnection, unique: str
) -> None:
    queue_name = f"test.events.{unique}"
    async with docbus.subscribe_events(queue=queue_name) as events:
        assert events.queue_name == queue_name
    channel = await rabbit.channel()
    with pytest.raises(aio_pika.exceptions.ChannelNotFoundEntity):
        await channel.declare_queue(queue_name, passive=True)


async def test_no_event_within_the_timeout_raises_timeout_error(docbus: DocbusClient) -> None:
    async with docbus.subscribe_events() as events:
        with pytest.raises(TimeoutError):
            await events.receive(timeout=0.05)
