"""Reply envelopes, typed errors and models, without a broker."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from docbus_client import (
    Conflict,
    DocbusError,
    DocbusProtocolError,
    DocbusTimeout,
    Document,
    FolderListing,
    NotFound,
    Reply,
)
from docbus_client.models import parse_time


def test_an_ok_reply_unwraps_to_its_data() -> None:
    reply = Reply.decode(b'{"ok": true, "data": {"x": 1}}', "m1")
    assert (reply.ok, reply.unwrap(), reply.message_id) == (True, {"x": 1}, "m1")


def test_an_error_reply_unwraps_to_its_typed_error() -> None:
    body = orjson.dumps({"ok": False, "error": {"code": "conflict", "message": "taken"}})
    reply = Reply.decode(body, "m1")
    assert reply.error == {"code": "conflict", "message": "taken"}
    with pytest.raises(Conflict) as caught:
        reply.unwrap()
    assert str(caught.value) == "conflict: taken"
    assert caught.value.details == []


def test_details_that_are_not_a_list_are_wrapped() -> None:
    body = orjson.dumps({"ok": False, "error": {"code": "not_found", "details": {"k": 1}}})
    error = Reply.decode(body, "m1").exception()
    assert isinstance(error, NotFound)
    assert error.details == [{"k": 1}]


@pytest.mark.parametrize(
    "body", [b"", b"nope", b"null", b"[]", b'{"ok": 1}', b'{"ok": false, "error": "x"}']
)
def test_a_body_that_is_no_envelope_is_a_protocol_error(body: bytes) -> None:
    with pytest.raises(DocbusProtocolError):
        Reply.decode(body, "m1")


def test_every_client_error_is_a_docbus_error_and_a_timeout_is_a_timeout_error() -> None:
    error = DocbusTimeout("timeout", "slow")
    assert isinstance(error, DocbusError)
    assert isinstance(error, TimeoutError)


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-24T10:00:00.123456Z",
        "2026-11-24T10:00:00.123456+00:00",
        "2026-11-24T10:00:00.123456",
    ],
)
def test_timestamps_parse_to_aware_utc_datetimes(text: str) -> None:
    assert parse_time(text) == datetime(2026, 11, 24, 10, 0, 0, 123456, tzinfo=UTC)


def test_a_listing_parses_its_documents_and_keeps_the_raw_dict() -> None:
    document = {
        "doc_id": "d1",
        "org_id": "o1",
        "folder_id": "f1",
        "owner_id": "u1",
        "name": "a",
        "mime_type": "text/plain",
        "version": 2,
        "blob_uri": "s3://a",
        "size_bytes": 1,
        "sha256": "ab" * 32,
        "tags": [],
        "created_at": "2026-11-24T10:00:00Z",
        "updated_at": "2026-11-24T11:00:00Z",
    }
    raw = {"folder_id": "f1", "documents": [document], "next_cursor": None}
    listing = FolderListing.from_dict(raw)
    assert listing.raw is raw
    assert listing.documents[0] == Document.from_dict(document)
    assert listing.documents[0].version == 2
    assert hash(listing.documents[0])
