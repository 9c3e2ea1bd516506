"""No single message stops a consumer: values the AMQP library cannot decode, sent as raw
frames to a real worker (docbus issue 8).

For every short-string property, header keys and header values (and a timestamp out of
range, in a property or a header): the message is dead-lettered as invalid with the bytes
hex-encoded (or refused by the broker at the door), every queue keeps its consumer, the
worker's connections stay up, and a valid command sent right after, on the same queue and
on another, is answered.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import aio_pika
import orjson
import pytest
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue
from aiormq.exceptions import ChannelClosed
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from docbus.consumers.topology import AUDIT_QUEUE_NAME, ROUTES
from docbus.ops.dead_letters import list_dead
from tests.e2e.conftest import Client, WorkerProcess
from tests.fixtures.raw_amqp import (
    SHORT_STRING_PROPERTIES,
    RawField,
    RawProperties,
    RawPublisher,
)

pytestmark = pytest.mark.e2e

BAD = b"\xff\xfe"
REFUSED_BY_BROKER = {"expiration", "user_id"}  # RabbitMQ checks both on publish
CONNECTION_LOST = "reader exited abnormally"  # aiormq's warning when a frame kills a connection


@dataclass
class DeadWatch:
    """Consumes docbus.dead; keeps (unacknowledged) what the tests look for, by body."""

    queue: AbstractQueue
    seen: dict[bytes, AbstractIncomingMessage] = field(default_factory=dict)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        self.seen[message.body] = message
        self.arrived.set()

    async def letter(self, body: bytes, timeout: float = 10.0) -> AbstractIncomingMessage:
        async with asyncio.timeout(timeout):
            while body not in self.seen:
                self.arrived.clear()
                await self.arrived.wait()
        message = self.seen.pop(body)
        await message.ack()
        return message


@pytest.fixture
async def dead(worker: WorkerProcess, rabbit_url: str) -> AsyncIterator[DeadWatch]:
    async with watching(rabbit_url) as watch:
        yield watch


@asynccontextmanager
async def watching(rabbit_url: str) -> AsyncIterator[DeadWatch]:
    connection = await aio_pika.connect(rabbit_url)
    async with connection:  # what is left unacknowledged goes back to docbus.dead
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=10_000)
        queue = await channel.get_queue("docbus.dead", ensure=False)
        watch = DeadWatch(queue)
        await queue.consume(watch.on_message)
        yield watch


@pytest.fixture
async def raw(worker: WorkerProcess, rabbit_url: str) -> AsyncIterator[RawPublisher]:
    async with RawPublisher(rabbit_url) as publisher:
        yield publisher


def probe() -> bytes:
    return orjson.dumps({"probe": uuid.uuid4().hex})


def with_bad(where: str, value: bytes) -> RawProperties:
    """Properties of a query holding ``value`` in ``where`` (a property, or
    ``header-key`` / ``header-value`` / ``nested-header``)."""
    props = RawProperties(headers={"trace": "t"}, message_id=uuid.uuid4().hex)
    if where == "header-key":
        return replace(props, headers={"trace": "t", value: "v"})
    if where == "header-value":
        return replace(props, headers={"trace": "t", "bad": value})
    if where == "nested-header":
        return replace(props, headers={"trace": "t", "n": {"k": [value]}})
    if where == "timestamp":
        return replace(props, timestamp=2**63 - 1)
    if where == "header-timestamp":
        return replace(props, headers={"trace": "t", "when": RawField(b"T" + b"\xff" * 8)})
    return replace(props, **{where: value})


def expected_field(where: str, value: bytes) -> str:
    return {
        "header-key": f"headers.0x{value.hex()}",
        "header-value": "headers.bad",
        "nested-header": "headers.n",
        "header-timestamp": "headers.when",
    }.get(where, where)


async def still_consuming(rabbit_url: str, worker: WorkerProcess) -> None:
    """Every queue has its consumer and no worker connection was lost on the way."""
    connection = await aio_pika.connect(rabbit_url)
    async with connection:
        channel = await connection.channel()
        for name in [r.queue for r in ROUTES] + [AUDIT_QUEUE_NAME]:
            queue = await channel.declare_queue(name, passive=True)
            assert queue.declaration_result.consumer_count >= 1, f"{name} lost its consumer"
    assert CONNECTION_LOST not in worker.log_path.read_text()


async def answered(client: Client, uid: str) -> None:
    """A valid query on the same queue and a valid command on another are answered."""
    got = await client.request(
        "document.get", {"doc_id": f"d-{uid}", "user_id": f"u-{uid}"}, timeout=5.0
    )
    assert got["ok"] is False and got["error"]["code"] == "not_found"
    member = {"org_id": f"org-{uid}", "user_id": f"u-{uid}", "role": "member"}
    assert (await client.request("org.member.set", member, timeout=5.0))["ok"]


async def send_bad(raw: RawPublisher, props: RawProperties, body: bytes) -> bool:
    """Publish; False if the broker refused the message (it then never reaches us)."""
    try:
        await raw.publish("docbus.commands", "document.get", props, body)
    except ChannelClosed:
        return False
    return True


@pytest.mark.parametrize(
    "where",
    [
        *SHORT_STRING_PROPERTIES, "header-key", "header-value", "nested-header", "timestamp",
        "header-timestamp",
    ],
)
async def test_an_undecodable_value_costs_only_its_message(
    where: str, raw: RawPublisher, dead: DeadWatch, client: Client, worker: WorkerProcess,
    rabbit_url: str, uid: str,
) -> None:
    body = probe()
    if not await send_bad(raw, with_bad(where, BAD), body):
        assert where in REFUSED_BY_BROKER
    else:
        letter = await dead.letter(body)
        headers: dict[str, Any] = dict(letter.headers or {})
        field_name = expected_field(where, BAD)
        assert headers["x-docbus-error"].startswith("invalid: undecodable AMQP values in ")
        assert field_name in headers["x-docbus-error"]
        bad = headers["x-docbus-bad-properties"]
        assert field_name in bad
        if where in SHORT_STRING_PROPERTIES or where == "header-value":
            assert bad[field_name] == BAD.hex()
        assert headers["trace"] == "t", "the decodable headers are kept"
    await answered(client, uid)
    await still_consuming(rabbit_url, worker)


async def test_a_header_frame_full_of_undecodable_bytes_still_makes_a_dead_letter(
    raw: RawPublisher, dead: DeadWatch, client: Client, worker: WorkerProcess,
    rabbit_url: str, uid: str,
) -> None:
    """About 100 kB of bad header values (hex would double them past the frame size): the
    dead letter keeps a bounded description, and the publishing connection survives."""
    body = probe()
    headers: dict[str | bytes, Any] = {f"h{i:03}": BAD * 500 for i in range(100)}
    await raw.publish("docbus.commands", "document.get", RawProperties(headers=headers), body)
    letter = await dead.letter(body)
    bad = dict(letter.headers or {})["x-docbus-bad-properties"]
    assert len(bad) == 32 and bad["more"] == "69 more fields"
    assert bad["headers.h000"] == (BAD * 500).hex()[:512] + "..."
    await answered(client, uid)
    await still_consuming(rabbit_url, worker)


async def test_an_invalid_answer_when_reply_to_and_correlation_id_are_usable(
    raw: RawPublisher, dead: DeadWatch, worker: WorkerProcess, rabbit_url: str
) -> None:
    """The worker answers ``invalid`` without echoing the undecodable message_id."""
    connection = await aio_pika.connect(rabbit_url)
    async with connection:
        channel = await connection.channel()
        reply_queue = await channel.declare_queue(exclusive=True)
        body = probe()
        props = replace(
            with_bad("message_id", BAD), reply_to=reply_queue.name, correlation_id="c-1"
        )
        await raw.publish("docbus.commands", "document.get", props, body)
        await dead.letter(body)
        async with asyncio.timeout(10):
            async with reply_queue.iterator() as replies:
                reply = await anext(aiter(replies))
        envelope = orjson.loads(reply.body)
        assert envelope["error"]["code"] == "invalid"
        details = envelope["error"]["details"]
        assert details == [{"field": "message_id", "error": "not decodable"}]
        assert reply.correlation_id == "c-1"
        assert reply.message_id and reply.message_id.isascii(), "a fresh id, not the bad one"


async def test_an_event_with_an_undecodable_routing_key_is_dead_lettered_by_the_audit(
    raw: RawPublisher, dead: DeadWatch, client: Client, worker: WorkerProcess,
    rabbit_url: str, uid: str,
) -> None:
    """doc.events is bound with "#": a routing key reaches the audit consumer as it is."""
    body = probe()
    await raw.publish("doc.events", b"doc.\xff", RawProperties(app_id=BAD), body)
    letter = await dead.letter(body)
    headers: dict[str, Any] = dict(letter.headers or {})
    assert headers["x-docbus-bad-properties"] == {
        "routing_key": b"doc.\xff".hex(), "app_id": BAD.hex()
    }
    assert headers["x-docbus-original-routing-key"] == ""
    await answered(client, uid)
    await still_consuming(rabbit_url, worker)


PROPERTY = st.sampled_from(
    [p for p in SHORT_STRING_PROPERTIES if p not in REFUSED_BY_BROKER]
    + ["header-key", "header-value", "nested-header"]
)


@seed(20261201)
@settings(
    max_examples=24, deadline=None, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(where=PROPERTY, value=st.binary(min_size=1, max_size=24))
async def test_random_bytes_in_random_properties_never_stop_a_consumer(
    where: str, value: bytes, raw: RawPublisher, dead: DeadWatch, client: Client,
    worker: WorkerProcess, rabbit_url: str,
) -> None:
    """Whatever the bytes: dead-lettered (undecodable, or simply invalid: the probe body
    is no query) and the next commands are answered."""
    body = probe()
    assert await send_bad(raw, with_bad(where, value), body)
    letter = await dead.letter(body)
    reason = dict(letter.headers or {})["x-docbus-error"]
    assert reason.startswith("invalid: ")
    decodable = _utf8(value)
    assert ("undecodable AMQP values" in reason) is not decodable
    if not decodable:
        assert expected_field(where, value) in reason
    await answered(client, uuid.uuid4().hex[:8])
    await still_consuming(rabbit_url, worker)


def _utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


async def test_the_dead_letter_tools_read_an_undecodable_letter(
    raw: RawPublisher, rabbit_url: str
) -> None:
    """What the broker dead-lettered itself keeps its bytes: `docbus dead list` still
    reads it (and the letter is then taken away, not left for other tests)."""
    body = probe()
    await raw.publish("docbus.dead", "x", with_bad("message_id", BAD), body)
    listed = [d for d in await list_dead(rabbit_url, limit=1000) if d.body == body]
    assert [d.message_id for d in listed] == [BAD.decode("utf-8", "surrogateescape")]
    async with watching(rabbit_url) as watch:
        await watch.letter(body)
