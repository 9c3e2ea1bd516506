"""The listing cursor: opaque, round-trips, bound to its listing, signed, and refuses
every token we never issued, even one that carries a valid signature over bad fields."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from docbus.core.cursor import TAG_BYTES, Cursor, CursorCodec, Listing
from docbus.core.errors import InvalidCommand

KEY = b"unit-test-cursor-key"
CODEC = CursorCodec(KEY)
LISTING = Listing("f-reports", "alice")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _token(payload: object) -> str:
    """An unsigned token of the old format: base64url of the JSON payload."""
    return _b64(json.dumps(payload).encode())


def _signed(payload: object, listing: Listing = LISTING, key: bytes = KEY) -> str:
    """A token with a valid signature over any payload: what a leaked key would allow."""
    body = _b64(json.dumps(payload).encode())
    message = json.dumps([listing.folder_id, listing.reader_id, body]).encode()
    tag = hmac.new(key, message, hashlib.sha256).digest()[:TAG_BYTES]
    return f"{body}.{_b64(tag)}"


def _refused(token: str, listing: Listing = LISTING) -> InvalidCommand:
    with pytest.raises(InvalidCommand) as raised:
        CODEC.decode(token, listing)
    assert raised.value.code == "invalid"
    assert raised.value.details[0]["field"] == "cursor"
    return raised.value


@pytest.mark.parametrize(
    "cursor",
    [
        Cursor(datetime(2026, 11, 24, 10, 0, 0, 123456, tzinfo=UTC), "d1"),
        Cursor(datetime(2026, 1, 1, tzinfo=UTC), "doc:with.odd_chars@x-1"),
        Cursor(datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=2))), "d" * 128),
        Cursor(datetime(9999, 12, 31, 23, 59, tzinfo=UTC), "late"),
        Cursor(datetime(1, 1, 1, tzinfo=UTC), "early"),
    ],
)
def test_a_cursor_decodes_to_what_was_encoded(cursor: Cursor) -> None:
    decoded = CODEC.decode(CODEC.encode(cursor, LISTING), LISTING)
    assert decoded == cursor and decoded.updated_at.tzinfo is UTC


def test_a_token_is_url_safe_without_padding() -> None:
    token = CODEC.encode(Cursor(datetime(2026, 11, 24, tzinfo=UTC), "d?>>"), LISTING)
    assert not set(token) & set("+/=")


@pytest.mark.parametrize(
    "other",
    [Listing("f-archive", "alice"), Listing("f-reports", "bob"), Listing("f-reportsalice", "")],
)
def test_a_cursor_of_another_listing_is_refused(other: Listing) -> None:
    token = CODEC.encode(Cursor(datetime(2026, 11, 24, tzinfo=UTC), "d1"), LISTING)
    assert _refused(token, other).details[0]["error"] == "signature"


def test_a_cursor_signed_with_another_key_is_refused() -> None:
    token = CursorCodec(b"another key").encode(
        Cursor(datetime(2026, 11, 24, tzinfo=UTC), "d1"), LISTING
    )
    _refused(token)


def test_a_cursor_altered_by_one_character_is_refused() -> None:
    token = CODEC.encode(Cursor(datetime(2026, 11, 24, tzinfo=UTC), "d1"), LISTING)
    for i, char in enumerate(token):
        if char != ".":
            _refused(token[:i] + ("A" if char != "A" else "B") + token[i + 1:])


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "!!!!",
        "a",
        ".",
        "eyJ",  # truncated JSON
        _token(["2026-11-24T10:00:00+00:00", "d1"]),  # unsigned (what docbus issued before)
        _token(["9999-12-31T23:59:59-14:00", "d1"]),  # the forgeries of issue 8, unsigned
        _token(["0001-01-01T00:00:00+14:00", "d1"]),
        base64.urlsafe_b64encode(b"\xff\xfe\xfd").decode(),  # not UTF-8
        "é.é",  # not ASCII
    ],
)
def test_a_token_we_never_issued_is_refused(token: str) -> None:
    _refused(token)


@pytest.mark.parametrize(
    "payload",
    [
        ["9999-12-31T23:59:59-14:00", "d1"],  # past year 9999 in UTC
        ["0001-01-01T00:00:00+14:00", "d1"],  # before year 1 in UTC
        ["2026-11-24T10:00:00", "d1"],  # naive
        ["yesterday", "d1"],
        [12345, "d1"],
        ["2026-11-24T10:00:00+00:00", "d\u0000"],  # NUL
        ["2026-11-24T10:00:00+00:00", "d\ud800"],  # a lone surrogate
        ["2026-11-24T10:00:00+00:00", "has space"],
        ["2026-11-24T10:00:00+00:00", ""],
        ["2026-11-24T10:00:00+00:00", "d" * 129],
        ["2026-11-24T10:00:00+00:00", 7],
        ["2026-11-24T10:00:00+00:00"],
        ["2026-11-24T10:00:00+00:00", "d1", "extra"],
        {"not": "a list"},
        42,
        None,
    ],
)
def test_a_signed_token_with_fields_docbus_never_issues_is_still_refused(
    payload: object,
) -> None:
    _refused(_signed(payload))


def test_a_signed_token_with_good_fields_is_read() -> None:
    """The check above is of the fields, not of the helper's signature."""
    cursor = CODEC.decode(_signed(["2026-11-24T10:00:00+00:00", "d1"]), LISTING)
    assert cursor == Cursor(datetime(2026, 11, 24, 10, tzinfo=UTC), "d1")


def test_an_empty_key_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        CursorCodec(b"")
