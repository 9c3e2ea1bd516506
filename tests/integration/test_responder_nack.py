"""The responder on a real broker: a nacked reply or dead letter is sent again on a fresh
channel (RabbitMQ 3.10 can leave a channel bound to a dead quorum queue leader, every
later publish to that queue nacked: docs/reliability.md), and one refused for good is
given up on as before."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import aio_pika
import pytest
from aiormq.exceptions import DeliveryError
from structlog.testing import capture_logs

from docbus.consumers.responder import NACK_PAUSES, Responder
from tests.fixtures.rabbit import own_vhost

pytestmark = pytest.mark.integration


@pytest.fixture
def vhost() -> Iterator[str]:
    with own_vhost("docbus-responder") as url:
        yield url


class Request:
    """What ``Responder.reply`` reads of a delivery."""

    def __init__(self, reply_to: str) -> None:
        self.reply_to = reply_to
        self.correlation_id = "c-1"
        self.message_id = "m-1"


async def test_a_nacked_reply_is_sent_again_on_a_fresh_channel(vhost: str) -> None:
    connection = await aio_pika.connect_robust(vhost)
    async with connection:
        channel = await connection.channel()
        # one message at most, more refused: full until the message below is taken
        replies = await channel.declare_queue(
            "replies", arguments={"x-max-length": 1, "x-overflow": "reject-publish"}
        )
        await channel.default_exchange.publish(aio_pika.Message(b"filler"), "replies")
        other = await channel.declare_queue("other")
        responder = Responder(connection, timeout=0.5)
        await responder.reply(Request("other"), b"to another queue")
        first = responder._channels[True]

        async def make_room() -> None:
            await asyncio.sleep(NACK_PAUSES[0] / 2)
            message = await replies.get(no_ack=True)
            assert message.body == b"filler"

        with capture_logs() as logs:
            await asyncio.gather(responder.reply(Request("replies"), b"the reply"), make_room())
        got = await replies.get(no_ack=True)
        assert got.body == b"the reply"
        assert [e["event"] for e in logs] == ["responder_nacked"]
        assert responder._channels[True] is not first  # the nacked channel, replaced
        for _ in range(60):  # and closed, once what was in flight on it is settled
            if first.is_closed:
                break
            await asyncio.sleep(0.05)
        assert first.is_closed
        assert (await other.get(no_ack=True)).body == b"to another queue"


async def test_a_reply_refused_for_good_is_given_up_after_the_retries(vhost: str) -> None:
    connection = await aio_pika.connect_robust(vhost)
    async with connection:
        channel = await connection.channel()
        await channel.declare_queue(
            "full", arguments={"x-max-length": 0, "x-overflow": "reject-publish"}
        )
        responder = Responder(connection)
        with capture_logs() as logs:
            await responder.reply(Request("full"), b"nobody takes it")
        events = [e["event"] for e in logs]
        assert events == ["responder_nacked"] * len(NACK_PAUSES) + ["reply_refused_by_broker"]


async def test_a_dead_letter_refused_for_good_raises(vhost: str) -> None:
    connection = await aio_pika.connect_robust(vhost)
    async with connection:
        channel = await connection.channel()
        dead = await channel.declare_exchange("docbus.dead", aio_pika.ExchangeType.FANOUT)
        queue = await channel.declare_queue(
            "dead", arguments={"x-max-length": 0, "x-overflow": "reject-publish"}
        )
        await queue.bind(dead)
        original: Any = await _delivered(channel)
        responder = Responder(connection)
        with capture_logs(), pytest.raises(DeliveryError):
            await responder.dead_letter(original, "poison: test")


async def _delivered(channel: aio_pika.abc.AbstractChannel) -> aio_pika.abc.AbstractIncomingMessage:
    source = await channel.declare_queue(exclusive=True)
    await channel.default_exchange.publish(
        aio_pika.Message(b"x", message_id="m-1"), source.name
    )
    for _ in range(50):
        if (message := await source.get(fail=False)) is not None:
            return message
        await asyncio.sleep(0.05)
    raise AssertionError("no message")
