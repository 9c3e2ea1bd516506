"""Idempotency keys through a real worker (docbus issue 8): a message_id is scoped to the
sender RabbitMQ vouches for (``user_id``) and bound to one command; another command
reusing it is refused (``conflict``) and learns nothing of the first."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import orjson
import pytest
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage
from sqlalchemy.engine import make_url

from tests.e2e.conftest import Client, WorkerProcess
from tests.e2e.test_contract import folder, org, upload_body
from tests.fixtures.rabbit import _ctl

pytestmark = pytest.mark.e2e

REUSED = {
    "ok": False,
    "error": {"code": "conflict", "message": "message_id reused for a different command",
              "details": []},
}


@dataclass
class RawClient:
    """Publishes as one RabbitMQ user, with ``user_id`` set, and keeps replies as bytes."""

    channel: AbstractChannel
    user: str
    pending: dict[str, asyncio.Future[bytes]] = field(default_factory=dict)

    async def request(self, routing_key: str, body: Any, message_id: str) -> bytes:
        correlation_id = uuid.uuid4().hex
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.pending[correlation_id] = future
        message = aio_pika.Message(
            orjson.dumps(body), content_type="application/json", message_id=message_id,
            user_id=self.user, reply_to="amq.rabbitmq.reply-to", correlation_id=correlation_id,
        )
        exchange = await self.channel.get_exchange("docbus.commands", ensure=False)
        await exchange.publish(message, routing_key, mandatory=True)
        try:
            return await asyncio.wait_for(future, 10)
        finally:
            self.pending.pop(correlation_id, None)

    async def on_reply(self, message: AbstractIncomingMessage) -> None:
        future = self.pending.get(message.correlation_id or "")
        if future is not None and not future.done():
            future.set_result(message.body)


async def raw_client(url: str, user: str) -> AsyncIterator[RawClient]:
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        replies = await channel.get_queue("amq.rabbitmq.reply-to", ensure=False)
        client = RawClient(channel, user)
        await replies.consume(client.on_reply, no_ack=True)
        yield client


@pytest.fixture
async def guest(worker: WorkerProcess, rabbit_url: str) -> AsyncIterator[RawClient]:
    async for client in raw_client(rabbit_url, make_url(rabbit_url).username or "guest"):
        yield client


@pytest.fixture
def second_user_url(rabbit_url: str) -> Iterator[str]:
    """A second RabbitMQ user with every permission on the test vhost, deleted after."""
    url = make_url(rabbit_url)
    vhost = (url.database or "/").lstrip("/") or "/"
    user, password = f"docbus-svc-{secrets.token_hex(4)}", secrets.token_hex(8)
    _ctl("add_user", user, password)
    try:
        _ctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
        yield url.set(username=user, password=password).render_as_string(hide_password=False)
    finally:
        _ctl("delete_user", user)


@pytest.fixture
async def other(worker: WorkerProcess, second_user_url: str) -> AsyncIterator[RawClient]:
    user = make_url(second_user_url).username or ""
    async for client in raw_client(second_user_url, user):
        yield client


async def two_orgs(client: Client, uid: str) -> tuple[str, str]:
    """org-<uid> with alice and folder docs; org-<uid>b with bob and folder docs-b."""
    await org(client, uid, alice="member")
    await folder(client, uid, "docs", "alice")
    other = f"{uid}b"
    await org(client, other, bob="member")
    await folder(client, other, "docs", "bob")
    return uid, other


async def get(client: Client, doc_id: str, user_id: str) -> dict[str, Any]:
    return await client.request("document.get", {"doc_id": doc_id, "user_id": user_id})


async def test_another_orgs_upload_reusing_a_message_id_is_refused_and_learns_nothing(
    client: Client, guest: RawClient, uid: str
) -> None:
    a, b = await two_orgs(client, uid)
    message_id = f"m-{uid}"
    mine = await guest.request(
        "document.upload", upload_body(a, "secret", "docs", "alice"), message_id
    )
    assert orjson.loads(mine)["ok"]
    theirs = await guest.request("document.upload", upload_body(b, "d", "docs", "bob"), message_id)
    assert orjson.loads(theirs) == REUSED
    assert b"secret" not in theirs and a.encode() not in theirs
    assert (await get(client, f"d-{b}", f"bob-{b}"))["error"]["code"] == "not_found"
    again = await guest.request("document.upload", upload_body(b, "d", "docs", "bob"), message_id)
    assert again == theirs


async def test_an_org_member_set_reusing_an_upload_message_id_is_refused(
    client: Client, guest: RawClient, uid: str
) -> None:
    a, _ = await two_orgs(client, uid)
    message_id = f"m-{uid}"
    await guest.request("document.upload", upload_body(a, "d1", "docs", "alice"), message_id)
    intruder = {"org_id": f"org-{a}", "user_id": f"mallory-{a}", "role": "admin"}
    reply = await guest.request("org.member.set", intruder, message_id)
    assert orjson.loads(reply) == REUSED
    # An admin would read every document of the org: mallory reads none.
    assert (await get(client, f"d1-{a}", f"mallory-{a}"))["error"]["code"] == "not_found"


async def test_a_share_reusing_a_folder_create_message_id_is_refused(
    client: Client, guest: RawClient, uid: str
) -> None:
    a, _ = await two_orgs(client, uid)
    await org(client, a, bob="member")
    await client.request("document.upload", upload_body(a, "d1", "docs", "alice"))
    message_id = f"m-{uid}"
    created = await guest.request("folder.create", {
        "folder_id": f"new-{a}", "org_id": f"org-{a}", "parent_id": None, "name": "new",
        "actor_id": f"alice-{a}",
    }, message_id)
    assert orjson.loads(created)["ok"]
    share = {"doc_id": f"d1-{a}", "shared_by": f"alice-{a}", "shared_with": f"bob-{a}",
             "role": "viewer"}
    assert orjson.loads(await guest.request("document.share", share, message_id)) == REUSED
    assert (await get(client, f"d1-{a}", f"bob-{a}"))["error"]["code"] == "not_found"


async def test_the_same_command_twice_gets_a_byte_identical_reply_and_acts_once(
    client: Client, guest: RawClient, uid: str
) -> None:
    a, _ = await two_orgs(client, uid)
    body = upload_body(a, "d1", "docs", "alice", size_bytes=10)
    first = await guest.request("document.upload", body, f"m-{uid}")
    reordered = dict(reversed(list(body.items())))  # the same command, keys in another order
    second = await guest.request("document.upload", reordered, f"m-{uid}")
    assert second == first
    document = await get(client, f"d1-{a}", f"alice-{a}")
    assert [v["version"] for v in document["data"]["versions"]] == [1]


async def test_two_rabbitmq_users_may_use_the_same_message_id(
    client: Client, guest: RawClient, other: RawClient, uid: str
) -> None:
    a, b = await two_orgs(client, uid)
    message_id = f"m-{uid}"
    mine = await guest.request("document.upload", upload_body(a, "d", "docs", "alice"), message_id)
    theirs = await other.request("document.upload", upload_body(b, "d", "docs", "bob"), message_id)
    assert orjson.loads(mine)["ok"] and orjson.loads(theirs)["ok"]
    assert (await get(client, f"d-{a}", f"alice-{a}"))["ok"]
    assert (await get(client, f"d-{b}", f"bob-{b}"))["ok"]
