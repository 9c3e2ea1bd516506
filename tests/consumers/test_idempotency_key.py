"""The subscribers' idempotency key: message_id scoped to the AMQP user_id, bound to the
routing key and to the validated body as canonical JSON."""

from __future__ import annotations

import orjson

from tests.consumers.conftest import Harness

MEMBER = {"org_id": "acme", "user_id": "bob", "role": "member"}
FOLDER = {"folder_id": "f1", "org_id": "acme", "parent_id": None, "name": "root", "actor_id": "bob"}
UPLOAD = {
    "doc_id": "d1", "org_id": "acme", "folder_id": "f1", "owner_id": "bob", "name": "a.pdf",
    "mime_type": "application/pdf", "blob_uri": "s3://b/a", "tags": [],
}


async def test_the_inbox_row_is_keyed_by_user_id_and_message_id(harness: Harness) -> None:
    reply = await harness.send("org.member.set", MEMBER, message_id="m1", user_id="svc-a")
    assert reply is not None and reply["ok"]
    assert list(harness.db.state.inbox) == [("svc-a", "m1")]
    stored = harness.db.state.inbox["svc-a", "m1"]
    assert stored.routing_key == "org.member.set"
    assert orjson.loads(stored.reply) == reply


async def test_the_same_command_written_otherwise_is_the_same_command(harness: Harness) -> None:
    await harness.send("org.member.set", MEMBER, message_id="m1")
    again = b'{ "role": "member",\n  "user_id": "bob", "org_id": "acme" }'
    assert await harness.send("org.member.set", again, message_id="m1") is not None
    assert len(harness.db.state.inbox) == 1
    assert harness.db.state.outbox[0].routing_key == "org.member.changed"
    assert len(harness.db.state.outbox) == 1


async def test_an_omitted_optional_field_is_its_default(harness: Harness) -> None:
    await harness.send("org.member.set", MEMBER)
    await harness.send("folder.create", FOLDER)
    first = await harness.send("document.upload", {**UPLOAD, "size_bytes": None}, message_id="m1")
    second = await harness.send("document.upload", UPLOAD, message_id="m1")
    assert first == second
    assert first is not None and first["ok"]
    assert harness.db.state.documents["d1"].version == 1


async def test_another_body_or_routing_key_under_the_same_message_id_is_refused(
    harness: Harness,
) -> None:
    await harness.send("org.member.set", MEMBER, message_id="m1")
    admin = await harness.send("org.member.set", {**MEMBER, "role": "admin"}, message_id="m1")
    removed = await harness.send(
        "org.member.remove", {"org_id": "acme", "user_id": "bob"}, message_id="m1"
    )
    for reply in (admin, removed):
        assert reply is not None
        assert reply["error"]["message"] == "message_id reused for a different command"
    assert len(harness.db.state.outbox) == 1  # the first command's event only
