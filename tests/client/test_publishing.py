"""send() and the publishing path: no reply_to, idempotency keys, unroutable commands."""

from __future__ import annotations

import asyncio

import aio_pika
import pytest
from aio_pika.abc import AbstractConnection

from docbus_client import DocbusClient, DocbusUnroutable, Unavailable
from docbus_client.client import NACK_PAUSES
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


async def _full_queue(
    rabbit: AbstractConnection, commands_exchange: str, unique: str, key: str
) -> aio_pika.abc.AbstractQueue:
    """An exclusive queue bound to ``key`` that holds one message at most and refuses
    (nacks) more: filled with one."""
    channel = await rabbit.channel()
    queue = await channel.declare_queue(
        f"test.full.{unique}", exclusive=True,
        arguments={"x-max-length": 1, "x-overflow": "reject-publish"},
    )
    await queue.bind(commands_exchange, key)
    await channel.default_exchange.publish(aio_pika.Message(b"filler"), queue.name)
    return queue


async def test_a_nacked_command_is_sent_again_on_a_fresh_channel(
    docbus: DocbusClient, rabbit: AbstractConnection, commands_exchange: str, unique: str
) -> None:
    """A nack replaces the channel and the command goes again (same message_id), so
    that a channel bound to a dead quorum queue leader cannot refuse commands for the
    whole of a node's outage (RabbitMQ 3.10, docs/reliability.md)."""
    queue = await _full_queue(rabbit, commands_exchange, unique, "folder.create")
    assert docbus._channel is not None
    before = docbus._channel._underlay
    resent = docbus.resent

    async def make_room() -> None:
        await asyncio.sleep(0.1)
        assert (await queue.get(no_ack=True)).body == b"filler"

    message_id, _ = await asyncio.gather(
        docbus.send("folder.create", {"folder_id": "f1"}, message_id="create-1"), make_room()
    )
    assert message_id == "create-1"
    got = await queue.get(no_ack=True)
    assert got.message_id == "create-1"
    assert docbus.resent == resent + 1
    assert before is not None and before.is_closed
    assert docbus._channel._underlay is not before


async def test_a_command_nacked_again_and_again_raises_unavailable(
    docbus: DocbusClient, rabbit: AbstractConnection, commands_exchange: str, unique: str
) -> None:
    await _full_queue(rabbit, commands_exchange, unique, "folder.create")
    with pytest.raises(Unavailable, match="nack"):
        await docbus.send("folder.create", {"folder_id": "f1"})
    assert docbus.resent == len(NACK_PAUSES)
    # the client works on: another queue's command goes through
    channel = await rabbit.channel()
    other = await channel.declare_queue(f"test.other.{unique}", exclusive=True)
    await other.bind(commands_exchange, "folder.rename")
    await docbus.send("folder.rename", {}, message_id="rename-1")
    got = await other.get(no_ack=True, fail=False)
    for _ in range(50):
        if got is not None:
            break
        await asyncio.sleep(0.05)
        got = await other.get(no_ack=True, fail=False)
    assert got is not None and got.message_id == "rename-1"


async def test_requests_in_flight_when_the_channel_is_replaced_are_resent(
    docbus: DocbusClient, responder: Responder, rabbit: AbstractConnection,
    commands_exchange: str, unique: str,
) -> None:
    """A nack replaces the channel that direct reply-to is bound to: the requests still
    waiting for their replies on it are resent (same message_id) and answered."""
    await _full_queue(rabbit, commands_exchange, unique, "folder.create")
    waiting = [
        asyncio.create_task(docbus.request("echo.test", {"_delay": 0.5, "n": n}, timeout=10))
        for n in range(3)
    ]
    await received(responder, 3)
    with pytest.raises(Unavailable):
        await docbus.send("folder.create", {"folder_id": "f1"})
    replies = await asyncio.gather(*waiting)
    assert [r.unwrap()["echo"]["n"] for r in replies] == [0, 1, 2]  # type: ignore[attr-defined]
    ids = [m.message_id for m in responder.received if m.routing_key == "echo.test"]
    # each resent after every replacement of the channel (4 here), always with its id
    assert len(set(ids)) == 3 and all(ids.count(i) >= 2 for i in ids)
