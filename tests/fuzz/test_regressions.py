"""The hostile-publisher cases known from issue 8, as explicit examples of the fuzzing
tier's properties (same oracle, same checks; see run.py)."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest

from tests.fuzz.cases import Case
from tests.fuzz.harness import Harness
from tests.fuzz.oracle import Expect, expect
from tests.fuzz.run import run_case, run_pair
from tests.fuzz.world import World, fresh_document

pytestmark = pytest.mark.e2e


def upload(world: World, **over: Any) -> dict[str, Any]:
    return {"doc_id": f"reg-{uuid.uuid4().hex[:8]}", "org_id": world.id("A"),
            "folder_id": world.id("fa"), "owner_id": world.id("alice"), "name": "r.pdf",
            "mime_type": "application/pdf", "blob_uri": "s3://b/r", "tags": [], **over}


def case(route: str, body: dict[str, Any] | bytes, note: str, **props: Any) -> Case:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    ids = {"message_id": uuid.uuid4().hex, "correlation_id": uuid.uuid4().hex}
    return Case(route, raw, **{**ids, **props}, note=note)


def cursor(at: str, doc_id: str) -> str:
    raw = json.dumps([at, doc_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(("field", "value"), [
    ("tags", ["a\x00b"]),
    ("mime_type", "text/plain; charset=\x00"),
    ("blob_uri", "s3://b/x\x00y"),
])
async def test_nul_is_refused_as_invalid(
    harness: Harness, world: World, field: str, value: Any
) -> None:
    sent = case("document.upload", upload(world, **{field: value}), f"NUL in {field}")
    assert expect(sent, world)[0] is Expect.INVALID
    await run_case(harness, world, sent)


@pytest.mark.parametrize("token", [
    cursor("9999-12-31T23:59:59.999999-14:00", "x"),
    cursor("0001-01-01T00:00:00+14:00", "x"),
    cursor("2026-01-01T00:00:00+00:00", "a\x00b"),
    cursor("2026-01-01T00:00:00+00:00", "da1"),
])
async def test_a_forged_cursor_is_invalid(harness: Harness, world: World, token: str) -> None:
    body = {"folder_id": world.id("fa"), "user_id": world.id("alice"), "limit": 1, "cursor": token}
    sent = case("folder.list", body, "forged cursor")
    assert expect(sent, world)[0] is Expect.INVALID
    await run_case(harness, world, sent)


async def test_an_issued_cursor_serves_the_next_page(harness: Harness, world: World) -> None:
    """The other side of the forged cursors: one docbus issued is taken (in a folder of
    its own: the fuzzed messages change the world's folders)."""
    folder = f"reg-{uuid.uuid4().hex[:8]}"
    made = await harness.request("folder.create", {
        "folder_id": folder, "org_id": world.id("A"), "parent_id": None, "name": folder,
        "actor_id": world.id("alice")})
    assert made["ok"], made
    docs = [upload(world, folder_id=folder) for _ in range(2)]
    for doc in docs:
        assert (await harness.request("document.upload", doc))["ok"]
    listing = {"folder_id": folder, "user_id": world.id("alice"), "limit": 1}
    first = await harness.request("folder.list", listing)
    after = first["data"]["next_cursor"]
    second = await harness.request("folder.list", {**listing, "cursor": after})
    assert [d["doc_id"] for d in second["data"]["documents"]] == [docs[0]["doc_id"]], second


async def test_a_forged_delivery_count_on_a_first_delivery_is_ignored(
    harness: Harness, world: World
) -> None:
    _, doc = await fresh_document(harness, world)
    body = {"doc_id": doc, "user_id": world.id("alice")}
    sent = case("document.get", body, "x-delivery-count 99", headers={"x-delivery-count": 99})
    reply = await run_case(harness, world, sent)
    assert reply is not None and reply["ok"], reply


@pytest.mark.parametrize(("kind", "reply_to"), [
    *[(kind, queue) for kind in ("query", "command", "invalid", "undecodable")
      for queue in ("docbus.dead", "docbus.document.get")],
    ("command", "docbus.audit"),
])
async def test_a_reply_to_naming_a_docbus_queue_sends_nothing_there(
    harness: Harness, world: World, reply_to: str, kind: str
) -> None:
    """Whatever the answer (a reply, an invalid one, one for an undecodable property),
    none goes into docbus's own queues."""
    get = {"doc_id": world.id("da1"), "user_id": world.id("alice")}
    member = {"org_id": world.churn_org, "user_id": world.id("carl"), "role": "member"}
    sent = {
        "query": case("document.get", get, "a get", reply_to=reply_to),
        "command": case("org.member.set", member, "a command", reply_to=reply_to),
        "invalid": case("document.get", b"[]", "not an object", reply_to=reply_to),
        "undecodable": case("document.get", get, "cluster_id not UTF-8", reply_to=reply_to,
                            raw=("cluster_id", b"\xff\xfe")),
    }[kind]
    await run_case(harness, world, sent, settle=0.5)


async def test_duplicate_json_keys_are_invalid(harness: Harness, world: World) -> None:
    raw = json.dumps(upload(world)).encode()
    sent = case("document.upload", b'{"owner_id": "' + world.id("bob").encode() + b'",' + raw[1:],
                "duplicate owner_id")
    assert expect(sent, world)[0] is Expect.INVALID
    await run_case(harness, world, sent)


async def test_a_message_id_is_no_key_to_another_senders_reply(
    harness: Harness, world: World
) -> None:
    mine = {"org_id": world.churn_org, "user_id": world.id("carl"), "role": "admin"}
    theirs = {"folder_id": f"reg-{uuid.uuid4().hex[:8]}", "org_id": world.id("A"),
              "parent_id": None, "name": "r", "actor_id": world.id("alice")}
    await run_pair(harness, world, case("org.member.set", mine, "first", message_id=""),
                   case("folder.create", theirs, "same message_id", message_id=""))


async def test_an_upload_into_another_orgs_folder_reveals_nothing(
    harness: Harness, world: World
) -> None:
    folder, _ = await fresh_document(harness, world, org="B", owner="bob")
    body = upload(world, org_id=world.id("B"), folder_id=folder, owner_id=world.id("amy"))
    await run_case(harness, world, case("document.upload", body, "into B's folder"))
