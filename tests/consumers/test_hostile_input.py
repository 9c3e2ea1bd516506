"""What a hostile publisher sends: text PostgreSQL cannot store, duplicate keys, bodies
that are not strict JSON, and properties docbus would store or answer with. Each is
``invalid`` (with the field at fault in ``details``), dead-lettered, and has no effect."""

from __future__ import annotations

import json
from typing import Any

import pytest

from docbus.consumers.schemas.fields import NotStrictJson, load_json
from docbus.consumers.schemas.inbound import INBOUND
from tests.consumers.conftest import Harness

VALID: dict[str, dict[str, Any]] = {
    "folder.create": {
        "folder_id": "f9", "org_id": "o", "parent_id": "f1", "name": "n", "actor_id": "a",
    },
    "document.upload": {
        "doc_id": "d", "org_id": "o", "folder_id": "f", "owner_id": "u", "name": "a.pdf",
        "mime_type": "text/plain; charset=utf-8", "blob_uri": "s3://b/a", "tags": ["t", "u"],
        "size_bytes": 1, "sha256": "a" * 64,
    },
    "document.share": {"doc_id": "d", "shared_by": "a", "shared_with": "b", "role": "viewer",
                       "expires_at": "2099-01-01T00:00:00+02:00"},
    "document.unshare": {"doc_id": "d", "revoked_by": "a", "user_id": "b"},
    "document.get": {"doc_id": "d", "user_id": "u"},
    "folder.list": {"folder_id": "f", "user_id": "u", "limit": 5, "cursor": "abc"},
    "org.member.set": {"org_id": "o", "user_id": "u", "role": "member"},
    "org.member.remove": {"org_id": "o", "user_id": "u"},
    "document.rename": {"doc_id": "d", "user_id": "u", "name": "b.pdf"},
    "document.move": {"doc_id": "d", "user_id": "u", "folder_id": "f2"},
    "document.revert": {"doc_id": "d", "user_id": "u", "version": 1},
    "document.trash": {"doc_id": "d", "user_id": "u"},
    "document.restore": {"doc_id": "d", "user_id": "u"},
    "document.purge": {"doc_id": "d", "user_id": "u"},
    "folder.rename": {"folder_id": "f", "user_id": "u", "name": "n2"},
    "folder.move": {"folder_id": "f", "user_id": "u", "parent_id": "f2"},
    "folder.trash": {"folder_id": "f", "user_id": "u"},
    "folder.restore": {"folder_id": "f", "user_id": "u"},
    "folder.purge": {"folder_id": "f", "user_id": "u"},
    "folder.children": {"org_id": "o", "folder_id": "f", "user_id": "u", "limit": 5,
                        "cursor": "abc"},
    "trash.list": {"org_id": "o", "user_id": "u", "limit": 5, "cursor": "abc"},
    "folder.share": {"folder_id": "f", "shared_by": "a", "shared_with": "b", "role": "editor",
                     "expires_at": "2099-01-01T00:00:00Z"},
    "folder.unshare": {"folder_id": "f", "revoked_by": "a", "user_id": "b"},
    "document.shares": {"doc_id": "d", "user_id": "u"},
    "access.explain": {"doc_id": "d", "user_id": "u", "about": "v"},
    "shared.with_me": {"org_id": "o", "user_id": "u", "limit": 5, "cursor": "abc"},
    "document.search": {"org_id": "o", "user_id": "u", "text": "budget rev",
                        "folder_id": "f", "mime_type": "image/*", "tags": ["q3"], "limit": 5,
                        "cursor": "abc"},
}


def string_fields() -> list[tuple[str, str, int | None]]:
    """(routing key, field, list index or None) for every string of every valid body."""
    found: list[tuple[str, str, int | None]] = []
    for key, body in VALID.items():
        for name, value in body.items():
            if isinstance(value, str):
                found.append((key, name, None))
            elif isinstance(value, list):
                found += [(key, name, i) for i in range(len(value))]
    return found


def test_the_valid_bodies_are_valid_and_cover_every_inbound_schema() -> None:
    assert VALID.keys() == INBOUND.keys()
    for key, body in VALID.items():
        INBOUND[key].model_validate(load_json(json.dumps(body).encode()))


@pytest.mark.parametrize("bad", ["\x00", chr(0xD800), chr(0xDFFF)], ids=["nul", "high", "low"])
@pytest.mark.parametrize(("routing_key", "field", "index"), string_fields())
async def test_nul_or_a_lone_surrogate_in_any_string_field_is_invalid_there(
    harness: Harness, routing_key: str, field: str, index: int | None, bad: str
) -> None:
    body = json.loads(json.dumps(VALID[routing_key]))
    if index is None:
        body[field] = body[field][:1] + bad + body[field][1:]
        where = field
    else:
        body[field][index] += bad
        where = f"{field}.{index}"
    raw = json.dumps(body).encode()  # ensure_ascii: "\u0000", "\ud800" as JSON escapes
    reply = await harness.send(routing_key, raw)
    assert reply is not None and reply["error"]["code"] == "invalid", reply
    assert [d["field"] for d in reply["error"]["details"]] == [where]
    assert harness.responder.dead[-1] == (f"invalid: body does not match "
                                          f"{INBOUND[routing_key].__name__}", raw)


async def test_a_duplicate_key_is_invalid_and_has_no_effect(harness: Harness) -> None:
    raw = b'{"org_id": "o", "user_id": "u", "role": "admin", "role": "member"}'
    reply = await harness.send("org.member.set", raw)
    assert reply is not None and reply["error"]["code"] == "invalid"
    assert reply["error"]["details"] == [{"field": "role", "error": "duplicate key"}]
    assert harness.responder.dead[-1] == ("invalid: body is not strict JSON: duplicate key", raw)
    assert harness.db.state.memberships == {}


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a": {"b": 1, "b": 2}}',
        b'{"a": [{"b": 1}, {"c": 1, "c": 1}]}',
        b'{"a": 1, "a": 1}',
        b'{"a": 1, "\\u0061": 2}',  # the same key, spelt with an escape
    ],
)
def test_duplicate_keys_are_found_at_any_depth(raw: bytes) -> None:
    with pytest.raises(NotStrictJson) as raised:
        load_json(raw)
    assert raised.value.error == "duplicate key"


@pytest.mark.parametrize(
    "raw",
    [
        b'{"limit": NaN}',
        b'{"limit": Infinity}',
        b'{"limit": -Infinity}',
        "{\"name\": \"caf\u00e9\"}".encode("utf-16"),  # JSON, but not UTF-8
        b'\xef\xbb\xbf{"a": 1}',  # a UTF-8 byte order mark
        b"[" * 100_000,  # nested past any recursion limit
        b'{"a": 1} {"a": 2}',
        b"",
    ],
)
def test_a_body_that_is_not_strict_utf8_json_is_refused(raw: bytes) -> None:
    with pytest.raises(NotStrictJson):
        load_json(raw)


async def test_a_deeply_nested_body_is_invalid_not_an_internal_error(harness: Harness) -> None:
    raw = b'{"folder_id": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    reply = await harness.send("folder.list", raw)
    assert reply is not None and reply["error"]["code"] == "invalid"
    assert harness.responder.dead[-1][0].startswith("invalid: body is not strict JSON")


@pytest.mark.parametrize("prop", ["message_id", "correlation_id"])
async def test_a_property_holding_nul_is_invalid_and_has_no_effect(
    harness: Harness, prop: str
) -> None:
    body = {"org_id": "o", "user_id": "u", "role": "member"}
    props = {"message_id": "m-1", prop: "m\x00"}  # the test broker copies one into the other
    reply = await harness.send("org.member.set", body, **props)
    assert reply is not None and reply["error"]["code"] == "invalid"
    assert reply["error"]["details"][0]["field"] == f"properties.{prop}"
    assert harness.responder.dead[-1][0].startswith(f"invalid: {prop} holds NUL")
    assert harness.db.state.memberships == {}


@pytest.mark.parametrize("prop", ["message_id", "correlation_id"])
async def test_a_property_that_is_not_utf8_is_invalid_and_has_no_effect(
    harness: Harness, prop: str
) -> None:
    """Bytes that are not UTF-8 arrive as lone surrogates U+DC80-U+DCFF (the worker's
    tolerant decoding, adapters/amqp_decoding.py)."""
    body = {"org_id": "o", "user_id": "u", "role": "member"}
    await harness.send("org.member.set", body, **{"message_id": "m-1", prop: "m\udced"})
    assert harness.responder.dead[-1][0].startswith("invalid:")
    assert harness.db.state.memberships == {}


@pytest.mark.parametrize(
    "reply_to",
    ["docbus.document.upload", "docbus.dead", "docbus.audit", "docbus.anything", "doc.events"],
)
async def test_a_reply_to_naming_a_docbus_queue_is_invalid_and_has_no_effect(
    harness: Harness, reply_to: str
) -> None:
    body = {"org_id": "o", "user_id": "u", "role": "member"}
    await harness.send("org.member.set", body, reply_to=reply_to)
    reason, _ = harness.responder.dead[-1]
    assert reason == f"invalid: reply_to names a queue of docbus ({reply_to!r}), not a reply queue"
    assert harness.db.state.memberships == {}
