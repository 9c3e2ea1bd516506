"""Every row of the contract through a real worker, with a plain AMQP client."""

from __future__ import annotations

import asyncio
from typing import Any

import aio_pika
import asyncpg
import pytest

from tests.e2e.conftest import Client, EventTap

pytestmark = pytest.mark.e2e


async def org(client: Client, uid: str, **members: str) -> str:
    org_id = f"org-{uid}"
    for user, role in members.items():
        reply = await client.request(
            "org.member.set", {"org_id": org_id, "user_id": f"{user}-{uid}", "role": role}
        )
        assert reply["ok"], reply
    return org_id


def upload_body(uid: str, doc: str, folder: str, owner: str, **over: Any) -> dict[str, Any]:
    return {
        "doc_id": f"{doc}-{uid}",
        "org_id": f"org-{uid}",
        "folder_id": f"{folder}-{uid}",
        "owner_id": f"{owner}-{uid}",
        "name": f"{doc}.pdf",
        "mime_type": "application/pdf",
        "blob_uri": f"s3://bucket/{doc}-{uid}",
        "tags": ["t1"],
        **over,
    }


async def folder(
    client: Client, uid: str, name: str, actor: str, parent: str | None = None
) -> dict[str, Any]:
    reply = await client.request(
        "folder.create",
        {
            "folder_id": f"{name}-{uid}",
            "org_id": f"org-{uid}",
            "parent_id": f"{parent}-{uid}" if parent else None,
            "name": name,
            "actor_id": f"{actor}-{uid}",
        },
    )
    assert reply["ok"], reply
    return reply["data"]  # type: ignore[no-any-return]


async def test_the_whole_story_replies_and_events(
    client: Client, events: EventTap, uid: str
) -> None:
    await org(client, uid, alice="member", bob="member", carol="admin")
    root = await folder(client, uid, "docs", "alice")
    child = await folder(client, uid, "y2026", "alice", parent="docs")
    assert root["path"] == "/docs" and child["path"] == "/docs/y2026"

    up = await client.request(
        "document.upload", upload_body(uid, "d1", "docs", "alice", size_bytes=10, sha256="ab" * 32)
    )
    assert up["ok"] and up["data"]["version"] == 1 and up["data"]["owner_id"] == f"alice-{uid}"
    assert up["data"]["created_at"].endswith("Z")

    share = await client.request(
        "document.share",
        {
            "doc_id": f"d1-{uid}",
            "shared_by": f"alice-{uid}",
            "shared_with": f"bob-{uid}",
            "role": "editor",
        },
    )
    assert share == {
        "ok": True,
        # expires_at: contract v2 adds it to Share (null: no expiry)
        "data": {"doc_id": f"d1-{uid}", "user_id": f"bob-{uid}", "role": "editor",
                 "expires_at": None},
    }

    v2 = await client.request(
        "document.upload", upload_body(uid, "d1", "docs", "bob", name="d1-v2.pdf")
    )
    assert v2["ok"] and v2["data"]["version"] == 2 and v2["data"]["owner_id"] == f"alice-{uid}"

    got = await client.request("document.get", {"doc_id": f"d1-{uid}", "user_id": f"bob-{uid}"})
    assert [v["version"] for v in got["data"]["versions"]] == [1, 2]
    assert [v["uploaded_by"] for v in got["data"]["versions"]] == [f"alice-{uid}", f"bob-{uid}"]

    listing = await client.request(
        "folder.list", {"folder_id": f"docs-{uid}", "user_id": f"carol-{uid}"}
    )
    assert [d["doc_id"] for d in listing["data"]["documents"]] == [f"d1-{uid}"]
    assert listing["data"]["next_cursor"] is None

    revoke = await client.request(
        "document.unshare",
        {"doc_id": f"d1-{uid}", "revoked_by": f"alice-{uid}", "user_id": f"bob-{uid}"},
    )
    assert revoke["data"]["role"] is None
    gone = await client.request("document.get", {"doc_id": f"d1-{uid}", "user_id": f"bob-{uid}"})
    assert gone["error"]["code"] == "not_found"

    removed = await client.request(
        "org.member.remove", {"org_id": f"org-{uid}", "user_id": f"carol-{uid}"}
    )
    assert removed["data"] == {"org_id": f"org-{uid}", "user_id": f"carol-{uid}", "role": None}

    seen = await events.collect(11)
    keys = [k for k, _ in seen]
    assert keys.count("org.member.changed") == 4
    assert keys.count("folder.created") == 2 and keys.count("document.uploaded") == 2
    assert "document.shared.editor" in keys and "document.unshared" in keys
    shared = next(b for k, b in seen if k == "document.shared.editor")
    assert set(shared) == {
        "event_id",
        "type",
        "org_id",
        "occurred_at",
        "document_id",
        "shared_with",
        "shared_by",
        "role",
        "expires_at",  # contract v2
        "at",
    }
    assert shared["type"] == "DocumentShared" and shared["role"] == "editor"
    for _, body, message in events.seen:
        assert message.message_id == body["event_id"]
        assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT


async def test_the_same_message_id_twice_has_one_effect_and_the_same_reply(
    client: Client, events: EventTap, uid: str
) -> None:
    await org(client, uid, alice="member")
    await folder(client, uid, "docs", "alice")
    await events.collect(2)
    body = upload_body(uid, "d1", "docs", "alice")
    first = await client.request("document.upload", body, message_id=f"m-{uid}")
    again = await client.request("document.upload", body, message_id=f"m-{uid}")
    assert first == again and first["data"]["version"] == 1
    got = await client.request("document.get", {"doc_id": f"d1-{uid}", "user_id": f"alice-{uid}"})
    assert len(got["data"]["versions"]) == 1
    seen = await events.quiet(1.5)
    assert [k for k, _ in seen].count("document.uploaded") == 1


async def test_share_of_the_role_already_held_publishes_nothing(
    client: Client, events: EventTap, uid: str
) -> None:
    await org(client, uid, alice="member")
    await folder(client, uid, "docs", "alice")
    await client.request("document.upload", upload_body(uid, "d1", "docs", "alice"))
    await events.collect(3)
    same = await client.request(
        "document.share",
        {
            "doc_id": f"d1-{uid}",
            "shared_by": f"alice-{uid}",
            "shared_with": f"alice-{uid}",
            "role": "owner",
        },
    )
    assert same["ok"] and same["data"]["role"] == "owner"
    last = await client.request(
        "document.unshare",
        {"doc_id": f"d1-{uid}", "revoked_by": f"alice-{uid}", "user_id": f"alice-{uid}"},
    )
    assert last["error"]["code"] == "conflict"
    assert len(await events.quiet(1.0)) == 3


@pytest.mark.parametrize(
    ("routing_key", "body", "code"),
    [
        (
            "document.share",
            {"doc_id": "nope", "shared_by": "x", "shared_with": "y", "role": "viewer"},
            "not_found",
        ),
        ("folder.list", {"folder_id": "nope", "user_id": "x"}, "not_found"),
        (
            "folder.create",
            {
                "folder_id": "f",
                "org_id": "o",
                "parent_id": None,
                "name": "n",
                "actor_id": "stranger",
            },
            "not_found",
        ),
    ],
)
async def test_domain_errors_come_back_in_the_envelope(
    client: Client, routing_key: str, body: dict[str, Any], code: str
) -> None:
    reply = await client.request(routing_key, body)
    assert reply["ok"] is False and reply["error"]["code"] == code
    assert reply["error"]["message"] and reply["error"]["details"] == []


async def test_invalid_message_gets_an_error_reply_and_a_dead_letter(
    client: Client, rabbit_url: str, uid: str
) -> None:
    raw = b'{"doc_id": "bad id!", "shared_by": "a"}'
    reply = await client.request(
        "document.share", raw, message_id=f"bad-{uid}", headers={"trace": uid}
    )
    assert reply["error"]["code"] == "invalid"
    fields = {d["field"] for d in reply["error"]["details"]}
    assert {"doc_id", "shared_with", "role"} <= fields
    dead = await dead_letter(rabbit_url, f"bad-{uid}")
    assert dead.body == raw
    assert dead.headers["x-docbus-error"].startswith("invalid:")
    assert dead.headers["trace"] == uid
    assert dead.headers["x-docbus-original-routing-key"] == "document.share"
    assert dead.content_type == "application/json"


async def test_a_query_without_reply_to_is_dead_lettered(
    client: Client, rabbit_url: str, uid: str
) -> None:
    await client.send("folder.list", {"folder_id": "f", "user_id": "u"}, message_id=f"q-{uid}")
    dead = await dead_letter(rabbit_url, f"q-{uid}")
    assert dead.headers["x-docbus-error"] == "invalid: a query needs reply_to"


async def test_a_command_without_reply_to_is_visible_once_its_event_is_out(
    client: Client, events: EventTap, uid: str
) -> None:
    await org(client, uid, alice="member")
    await folder(client, uid, "docs", "alice")
    await client.send("document.upload", upload_body(uid, "d1", "docs", "alice"))
    seen = await events.collect(3)
    assert seen[-1][0] == "document.uploaded"
    listing = await client.request(
        "folder.list", {"folder_id": f"docs-{uid}", "user_id": f"alice-{uid}"}
    )
    assert [d["doc_id"] for d in listing["data"]["documents"]] == [f"d1-{uid}"]


async def test_no_stale_listing_after_an_acknowledged_write_under_concurrent_readers(
    client: Client, uid: str
) -> None:
    await org(client, uid, alice="member")
    await folder(client, uid, "docs", "alice")
    list_body = {"folder_id": f"docs-{uid}", "user_id": f"alice-{uid}", "limit": 500}
    stop = asyncio.Event()

    async def reader() -> None:
        while not stop.is_set():
            await client.request("folder.list", list_body)

    readers = [asyncio.create_task(reader()) for _ in range(6)]
    try:
        for i in range(40):
            up = await client.request("document.upload", upload_body(uid, f"d{i}", "docs", "alice"))
            assert up["ok"]
            listing = await client.request("folder.list", list_body)
            assert len(listing["data"]["documents"]) == i + 1, f"stale listing after upload {i}"
            got = await client.request(
                "document.get", {"doc_id": f"d{i}-{uid}", "user_id": f"alice-{uid}"}
            )
            assert got["ok"]
    finally:
        stop.set()
        await asyncio.gather(*readers)


async def test_revoke_and_removal_take_effect_for_the_very_next_query(
    client: Client, uid: str
) -> None:
    await org(client, uid, alice="member", bob="member")
    await folder(client, uid, "docs", "alice")
    await client.request("document.upload", upload_body(uid, "d1", "docs", "alice"))
    await client.request(
        "document.share",
        {
            "doc_id": f"d1-{uid}",
            "shared_by": f"alice-{uid}",
            "shared_with": f"bob-{uid}",
            "role": "viewer",
        },
    )
    bob_list = {"folder_id": f"docs-{uid}", "user_id": f"bob-{uid}"}
    assert len((await client.request("folder.list", bob_list))["data"]["documents"]) == 1
    await client.request(
        "document.unshare",
        {"doc_id": f"d1-{uid}", "revoked_by": f"alice-{uid}", "user_id": f"bob-{uid}"},
    )
    assert (await client.request("folder.list", bob_list))["data"]["documents"] == []
    await client.request("org.member.remove", {"org_id": f"org-{uid}", "user_id": f"bob-{uid}"})
    assert (await client.request("folder.list", bob_list))["error"]["code"] == "not_found"


async def test_every_event_lands_once_in_the_audit_log(
    client: Client, events: EventTap, worker_pg_url: str, uid: str
) -> None:
    await org(client, uid, alice="member")
    await folder(client, uid, "docs", "alice")
    seen = await events.collect(2)
    ids = [b["event_id"] for _, b in seen]
    conn = await asyncpg.connect(worker_pg_url.replace("+asyncpg", ""))
    try:
        for _ in range(100):
            rows = await conn.fetch("SELECT event_id FROM audit_log WHERE event_id = ANY($1)", ids)
            if len(rows) == len(ids):
                break
            await asyncio.sleep(0.1)
        assert sorted(r["event_id"] for r in rows) == sorted(ids)
    finally:
        await conn.close()


async def dead_letter(
    rabbit_url: str, message_id: str, timeout: float = 10.0
) -> aio_pika.abc.AbstractIncomingMessage:
    """Take the dead letter with this message_id out of docbus.dead (others are put back)."""
    connection = await aio_pika.connect(rabbit_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue("docbus.dead", ensure=False)
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            message = await queue.get(no_ack=False, fail=False)
            if message is None:
                await asyncio.sleep(0.1)
                continue
            if message.message_id == message_id:
                await message.ack()
                return message
            await message.nack(requeue=True)
        raise AssertionError(f"no dead letter {message_id}")
