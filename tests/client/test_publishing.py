"""send() and the publishing path: no reply_to, idempotency keys, unroutable commands."""

from __future__ import annotations

import pytest
from aio_pika.abc import AbstractConnection

from client import DocbusClient, DocbusUnroutable
from tests.client.conftest import AMQP_URL, eventually
from tests.client.responder import Responder

pytestmark = pytest.mark.integration


async def received(responder: Responder, count: int) -> None:
    await eventually(lambda: len(responder.received) >= count)


async def test_send_publishes_without_reply_to_and_returns_its_message_id(
    docbus: DocbusClient, responder: Responder
) -> None:
    message_id = await docbus.send("org.member.set", {"org_id": "o1"})
    await received(responder, 1)
    message = responder.received[0]
    assert message.reply_to is None
    assert message.message_id == message_id
    assert message.delivery_mode == 2
    assert message.content_type == "application/json"
    assert responder.replies_sent == 0


async def test_a_retry_of_send_reuses_the_callers_message_id(
    docbus: DocbusClient, responder: Responder
) -> None:
    for _ in range(2):
        await docbus.send("org.member.set", {"org_id": "o1"}, message_id="membership-7")
    await received(responder, 2)
    assert [m.message_id for m in responder.received] == ["membership-7", "membership-7"]


async def test_a_command_no_queue_takes_raises_unroutable(docbus: DocbusClient) -> None:
    with pytest.raises(DocbusUnroutable) as caught:
        await docbus.request("document.upload", {"doc_id": "d1"})
    assert caught.value.code == "unroutable"
    assert docbus.in_flight == 0
    with pytest.raises(DocbusUnroutable):
        await docbus.send("document.upload", {"doc_id": "d1"})


async def test_a_missing_commands_exchange_raises_unroutable_and_harms_nothing(
    unique: str,
) -> None:
    async with DocbusClient(AMQP_URL, exchange=f"test.never.declared.{unique}") as docbus:
        for _ in range(2):
            with pytest.raises(DocbusUnroutable, match="does not exist"):
                await docbus.request("folder.create", {}, timeout=2)
        assert docbus.in_flight == 0


async def test_commands_go_through_once_the_exchange_appears(
    rabbit: AbstractConnection, unique: str
) -> None:
    name = f"test.late.exchange.{unique}"
    async with DocbusClient(AMQP_URL, exchange=name) as docbus:
        with pytest.raises(DocbusUnroutable):
            await docbus.send("folder.create", {})
        channel = await rabbit.channel()
        await channel.declare_exchange(name, "topic")
        try:
            worker = await Responder.start(rabbit, name)
            assert (await docbus.request("folder.create", {"x": 1})).ok
            await worker.stop()
        finally:
            await channel.exchange_delete(name)
            await channel.close()
