"""The listing cursor: opaque, round-trips, and refuses tokens we never issued."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from core.cursor import Cursor
from core.errors import InvalidCommand


def _token(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        Cursor(datetime(2026, 11, 24, 10, 0, 0, 123456, tzinfo=UTC), "d1"),
        Cursor(datetime(2026, 1, 1, tzinfo=UTC), "doc:with.odd_chars@x-1"),
        Cursor(datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=2))), "d" * 128),
    ],
)
def test_a_cursor_decodes_to_what_was_encoded(cursor: Cursor) -> None:
    assert Cursor.decode(cursor.encode()) == cursor


def test_an_encoded_cursor_is_url_safe_without_padding() -> None:
    token = Cursor(datetime(2026, 11, 24, tzinfo=UTC), "d?>>").encode()
    assert not set(token) & set("+/=")


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "!!!!",
        "a",
        "eyJ",  # truncated JSON
        _token({"not": "a list"}),
        _token(["2026-11-24T10:00:00+00:00"]),  # one element
        _token(["2026-11-24T10:00:00+00:00", "d1", "extra"]),
        _token(["yesterday", "d1"]),
        _token([12345, "d1"]),
        _token(42),
        _token(None),
        _token(["2026-11-24T10:00:00", "d1"]),  # naive: not one we issued
        base64.urlsafe_b64encode(b"\xff\xfe\xfd").decode(),  # not UTF-8
    ],
)
def test_a_garbage_cursor_is_an_invalid_command(token: str) -> None:
    with pytest.raises(InvalidCommand) as raised:
        Cursor.decode(token)
    assert raised.value.code == "invalid"
