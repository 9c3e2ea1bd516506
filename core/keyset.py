"""Opaque cursors for keyset pagination over any sort key (folder.children, trash.list)."""

from __future__ import annotations

import base64
import binascii
import json

from core.errors import InvalidCommand


def encode_key(kind: str, values: list[str]) -> str:
    """An opaque token for the position after a row whose sort key is ``values``."""
    raw = json.dumps([kind, *values], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_key(kind: str, token: str, size: int) -> list[str]:
    """The sort key of a token issued by encode_key(kind, ...); ``invalid`` otherwise."""
    try:
        padded = token + "=" * (-len(token) % 4)
        decoded = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise _malformed() from exc
    if (
        not isinstance(decoded, list)
        or len(decoded) != size + 1
        or decoded[0] != kind
        or not all(isinstance(v, str) for v in decoded)
    ):
        raise _malformed()
    return decoded[1:]


def _malformed() -> InvalidCommand:
    return InvalidCommand(
        "cursor is not one this service issued", [{"field": "cursor", "error": "malformed"}]
    )
