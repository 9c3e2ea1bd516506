"""A hostile publisher against a real worker (issue 8), with a plain aio-pika client:
what PostgreSQL cannot store, duplicate keys, forged delivery counts and cursors,
replies pointed at docbus's own queues or at a queue that refuses them, and uploads
that probe another org's folders."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from typing import Any

import aio_pika
import pytest

from tests.e2e.conftest import Client, EventTap, WorkerProcess
from tests.e2e.test_contract import dead_letter, folder, org, upload_body

pytestmark = pytest.mark.e2e


async def no_dead_letter(rabbit_url: str, message_id: str, wait: float = 1.5) -> None:
    """Fail if docbus.dead holds (or receives within ``wait``) a message with this id."""
    with pytest.raises(AssertionError, match="no dead letter"):
        await dead_letter(rabbit_url, message_id, timeout=wait)


async def seeded(client: Client, uid: str) -> None:
    await org(client, uid, alice="member")
    await folder(client, uid, "docs", "alice")


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"tags": ["ok", "t\u0000"]}, "tags.1"),
        ({"tags": ["\ud800"]}, "tags.0"),
        ({"mime_type": "text/plain; charset=\u0000"}, "mime_type"),
        ({"blob_uri": "s3://b/\u0000"}, "blob_uri"),
        ({"name": "a\udc00.pdf"}, "name"),
    ],
)
async def test_text_postgresql_cannot_store_is_invalid_not_unavailable(
    client: Client, rabbit_url: str, uid: str, over: dict[str, Any], field: str
) -> None:
    await seeded(client, uid)
    raw = json.dumps(upload_body(uid, "d1", "docs", "alice", **over)).encode()
    assert b"\\u" in raw  # the client sent JSON escapes, as any JSON library would
    reply = await client.request("document.upload", raw, message_id=f"nul-{uid}")
    assert reply["error"]["code"] == "invalid", reply
    assert field in {d["field"] for d in reply["error"]["details"]}
    dead = await dead_letter(rabbit_url, f"nul-{uid}")
    assert dead.headers["x-docbus-error"].startswith("invalid:")
    got = await client.request("document.get", {"doc_id": f"d1-{uid}", "user_id": f"alice-{uid}"})
    assert got["error"]["code"] == "not_found"


async def test_a_message_id_holding_nul_is_invalid(
    client: Client, rabbit_url: str, uid: str
) -> None:
    await seeded(client, uid)
    reply = await client.request(
        "document.upload", upload_body(uid, "d1", "docs", "alice"), message_id=f"m\x00{uid}"
    )
    assert reply["error"]["code"] == "invalid"
    assert reply["error"]["details"][0]["field"] == "properties.message_id"
    await dead_letter(rabbit_url, f"m\x00{uid}")
    got = await client.request("document.get", {"doc_id": f"d1-{uid}", "user_id": f"alice-{uid}"})
    assert got["error"]["code"] == "not_found"


async def test_duplicate_keys_are_invalid(client: Client, rabbit_url: str, uid: str) -> None:
    raw = (
        f'{{"org_id": "org-{uid}", "user_id": "u-{uid}", "role": "admin", "role": "member"}}'
    ).encode()
    reply = await client.request("org.member.set", raw, message_id=f"dup-{uid}")
    assert reply["error"]["code"] == "invalid"
    assert reply["error"]["details"] == [{"field": "role", "error": "duplicate key"}]
    assert (await dead_letter(rabbit_url, f"dup-{uid}")).body == raw


async def test_a_delivery_count_forged_by_the_sender_is_ignored(
    client: Client, rabbit_url: str, uid: str
) -> None:
    await seeded(client, uid)
    await client.request("document.upload", upload_body(uid, "d1", "docs", "alice"))
    reply = await client.request(
        "document.get",
        {"doc_id": f"d1-{uid}", "user_id": f"alice-{uid}"},
        headers={"x-delivery-count": 99},
        message_id=f"dc-{uid}",
    )
    assert reply["ok"], reply
    await no_dead_letter(rabbit_url, f"dc-{uid}")


async def test_an_upload_into_another_orgs_folder_reads_as_a_missing_folder(
    client: Client, uid: str
) -> None:
    await seeded(client, uid)  # org-uid with alice and folder docs-uid
    other = f"x{uid}"
    await org(client, other, mallory="member")
    probe = upload_body(other, "d1", "docs", "mallory", org_id=f"org-{uid}",
                        folder_id=f"docs-{uid}")
    exists = await client.request("document.upload", probe)
    missing = await client.request(
        "document.upload", {**probe, "doc_id": f"d2-{other}", "folder_id": f"ghost-{uid}"}
    )
    assert exists["error"] == {
        "code": "not_found", "message": f"folder docs-{uid} not found", "details": []
    }
    assert missing["error"] == {
        "code": "not_found", "message": f"folder ghost-{uid} not found", "details": []
    }


async def reply_queue(rabbit_url: str, name: str, **arguments: Any) -> tuple[Any, Any]:
    connection = await aio_pika.connect(rabbit_url)
    channel = await connection.channel()
    queue = await channel.declare_queue(name, auto_delete=True, arguments=arguments or None)
    return connection, queue


@pytest.mark.parametrize("own", ["docbus.document.get", "docbus.dead", "docbus.audit"])
async def test_a_reply_to_naming_a_docbus_queue_is_refused_and_gets_no_reply(
    client: Client, events: EventTap, rabbit_url: str, uid: str, own: str
) -> None:
    member = {"org_id": f"org-{uid}", "user_id": f"u-{uid}", "role": "member"}
    await client.send("org.member.set", member, reply_to=own, message_id=f"rt-{uid}")
    dead = await dead_letter(rabbit_url, f"rt-{uid}")
    assert dead.headers["x-docbus-error"] == (
        f"invalid: reply_to names a queue of docbus ({own!r}), not a reply queue"
    )
    await no_dead_letter(rabbit_url, f"rt-{uid}")  # no reply filed among the dead letters
    assert [b for _, b in await events.quiet(1.0) if b.get("user_id") == f"u-{uid}"] == []


async def test_a_reply_to_under_the_docbus_prefix_gets_nothing(
    client: Client, rabbit_url: str, uid: str
) -> None:
    connection, queue = await reply_queue(rabbit_url, f"docbus.replies-{uid}")
    async with connection:
        await client.send(
            "org.member.set", {"org_id": f"org-{uid}", "user_id": f"u-{uid}", "role": "member"},
            reply_to=queue.name, message_id=f"rp-{uid}",
        )
        await dead_letter(rabbit_url, f"rp-{uid}")
        await asyncio.sleep(0.5)
        assert await queue.get(no_ack=True, fail=False) is None


async def test_a_reply_the_broker_refuses_is_counted_once_and_the_command_stands(
    client: Client, events: EventTap, worker: WorkerProcess, rabbit_url: str, uid: str
) -> None:
    connection, queue = await reply_queue(
        rabbit_url, f"full-{uid}", **{"x-max-length": 0, "x-overflow": "reject-publish"}
    )
    async with connection:
        member = {"org_id": f"org-{uid}", "user_id": f"u-{uid}", "role": "member"}
        await client.send("org.member.set", member, reply_to=queue.name,
                          correlation_id=uuid.uuid4().hex, message_id=f"full-{uid}")
        seen = await events.collect(1)
        assert [b["user_id"] for _, b in seen] == [f"u-{uid}"]
        await no_dead_letter(rabbit_url, f"full-{uid}", wait=3.0)
    refused = [
        line for line in worker.log_path.read_text().splitlines()
        if "reply_refused_by_broker" in line and f"full-{uid}" in line
    ]
    assert len(refused) == 1, refused
    assert len(await events.quiet(1.0)) == 1  # one effect, one event


def forged(payload: list[Any]) -> str:
    """A cursor as docbus issued them before they were signed: base64url of the JSON."""
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        forged(["9999-12-31T23:59:59-14:00", "d1"]),
        forged(["0001-01-01T00:00:00+14:00", "d1"]),
        forged(["2026-11-24T10:00:00+00:00", "d\u0000"]),
        forged(["2026-11-24T10:00:00+00:00", "d\ud800"]),
        forged(["2026-11-24T10:00:00+00:00", "d1"]),
    ],
)
async def test_a_forged_cursor_is_invalid_not_unavailable(
    client: Client, rabbit_url: str, uid: str, cursor: str
) -> None:
    await seeded(client, uid)
    reply = await client.request(
        "folder.list",
        {"folder_id": f"docs-{uid}", "user_id": f"alice-{uid}", "cursor": cursor},
        message_id=f"cur-{uid}",
    )
    assert reply["error"]["code"] == "invalid", reply
    assert reply["error"]["details"][0]["field"] == "cursor"
    assert (await dead_letter(rabbit_url, f"cur-{uid}")).headers["x-docbus-error"].startswith(
        "invalid: cursor is not one this service issued"
    )


async def test_a_cursor_pages_its_own_listing_only(client: Client, uid: str) -> None:
    await org(client, uid, alice="member", ada="admin")
    await folder(client, uid, "docs", "alice")
    for i in range(3):
        await client.request("document.upload", upload_body(uid, f"d{i}", "docs", "alice"))
    mine = {"folder_id": f"docs-{uid}", "user_id": f"alice-{uid}", "limit": 2}
    first = await client.request("folder.list", mine)
    cursor = first["data"]["next_cursor"]
    second = await client.request("folder.list", {**mine, "cursor": cursor})
    assert [d["doc_id"] for d in second["data"]["documents"]] == [f"d0-{uid}"]
    theirs = {**mine, "user_id": f"ada-{uid}", "cursor": cursor}
    assert (await client.request("folder.list", theirs))["error"]["code"] == "invalid"
