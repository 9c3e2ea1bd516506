"""The per-call path's shortcuts: what they skip must not change what goes on the wire.

Commands are published with aiormq's ``basic_publish`` and replies are taken straight
from aiormq's delivery instead of through aio-pika's ``Message``/``IncomingMessage``
(see client/channel.py). These tests pin that the shortcut sends exactly the
properties ``aio_pika.Message`` would, that message ids stay uuid4, and that the reply
consumer's fast callback is in place, also after the channel has been reopened.
"""

from __future__ import annotations

import uuid

import aio_pika
import pytest
from aio_pika.abc import AbstractConnection

from docbus_client import DIRECT_REPLY_TO, DocbusClient, DocbusUnroutable, new_message_id
from docbus_client.channel import CommandChannel
from docbus_client.publishing import command_properties
from tests.client.responder import Responder


@pytest.mark.parametrize("correlation_id", ["1f", None])
def test_command_properties_are_those_of_an_aio_pika_message(correlation_id: str | None) -> None:
    message = aio_pika.Message(
        b"{}",
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id="cmd-1",
        correlation_id=correlation_id,
        reply_to=DIRECT_REPLY_TO if correlation_id is not None else None,
    )
    ours = command_properties("cmd-1", correlation_id)
    assert ours == message.properties
    assert ours.marshal() == message.properties.marshal()


def test_new_message_ids_are_canonical_uuid4_strings() -> None:
    ids = [new_message_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for message_id in ids:
        parsed = uuid.UUID(message_id)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        assert str(parsed) == message_id


def fast_callback_in_place(docbus: DocbusClient) -> bool:
    channel = docbus._channel
    assert isinstance(channel, CommandChannel)
    underlay = channel._underlay
    assert underlay is not None
    assert not underlay.is_closed
    consumers = getattr(underlay, "consumers", {})
    return bool(consumers.get(channel._consumer_tag) == channel._on_delivery)


@pytest.mark.integration
async def test_replies_take_the_fast_callback_also_after_a_reopen(
    docbus: DocbusClient, rabbit: AbstractConnection, commands_exchange: str
) -> None:
    worker = await Responder.start(rabbit, commands_exchange)
    assert (await docbus.request("echo.test", {"n": 1})).unwrap()["echo"]["n"] == 1
    assert fast_callback_in_place(docbus)
    await worker.stop()
    assert docbus._channel is not None
    first = docbus._channel._underlay

    channel = await rabbit.channel()
    await channel.exchange_delete(commands_exchange)
    with pytest.raises(DocbusUnroutable):
        await docbus.request("echo.test", {}, timeout=5)  # a 404 closes the client's channel
    await channel.declare_exchange(commands_exchange, "topic")
    worker = await Responder.start(rabbit, commands_exchange)
    reply = await docbus.request("echo.test", {"n": 2}, timeout=10)
    assert reply.unwrap()["echo"]["n"] == 2
    assert docbus._channel._underlay is not first  # reopened: a new underlying channel
    assert fast_callback_in_place(docbus)
    assert docbus.dropped_replies == 0
    await worker.stop()
    await channel.close()
