"""The listing cursor: an opaque token for keyset pagination on (updated_at, doc_id).

Rules:

- A token is ``<payload>.<tag>``, both base64url without padding: the payload is the JSON
  ``[updated_at, doc_id]`` of the last document of a page; the tag is the first 16 bytes
  of HMAC-SHA256, under the service's key, over the listing the page belongs to (folder
  and reader) and the payload.
- A token is read only if its tag checks for this listing under this key; anything else
  is ``invalid`` ("not one this service issued"): a forged or altered token, one issued
  for another folder or reader, one signed under another key (after a key change).
- Every field is then checked against what docbus issues and PostgreSQL accepts, too (the
  tag makes this a second line, not the only one): an aware timestamp that stays inside
  datetime's range in UTC (year 9999 at -14:00 or year 1 at +14:00 does not), and an
  identifier of 1-128 characters from ``[A-Za-z0-9._:@-]``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from docbus.core.errors import InvalidCommand

TAG_BYTES = 16  # 128 bits: far beyond guessing, and the token stays short
_IDENTIFIER = re.compile(r"[A-Za-z0-9._:@-]{1,128}")


@dataclass(frozen=True, slots=True, order=True)
class Cursor:
    """Position after the last document of a page (listings run newest first)."""

    updated_at: datetime
    doc_id: str


@dataclass(frozen=True, slots=True)
class Listing:
    """What a cursor is bound to: one folder, as one reader sees it."""

    folder_id: str
    reader_id: str


class CursorCodec:
    """Issues and reads cursors under one key (every worker must hold the same)."""

    def __init__(self, key: bytes) -> None:
        if not key:
            raise ValueError("the cursor key must not be empty")
        self._key = key

    def encode(self, cursor: Cursor, listing: Listing) -> str:
        at = cursor.updated_at.astimezone(UTC).isoformat()
        payload = b64(json.dumps([at, cursor.doc_id], separators=(",", ":")).encode())
        return f"{payload}.{self.tag(payload, listing)}"

    def decode(self, token: str, listing: Listing) -> Cursor:
        """The cursor, or InvalidCommand unless this service issued it for ``listing``."""
        payload, _, tag = token.partition(".")
        if not (token.isascii() and self.verify(payload, tag, listing)):
            raise not_issued("signature")
        try:
            fields = json.loads(unb64(payload))
        except (ValueError, binascii.Error) as exc:  # includes bad UTF-8 and bad JSON
            raise not_issued("malformed") from exc
        return _checked(fields)

    def verify(self, payload: str, tag: str, listing: Listing) -> bool:
        """True if ``tag`` is this service's tag of ``payload`` for ``listing``."""
        return hmac.compare_digest(tag, self.tag(payload, listing))

    def tag(self, payload: str, listing: Listing) -> str:
        """The HMAC tag binding ``payload`` to ``listing`` (also core/keyset.py's)."""
        message = json.dumps([listing.folder_id, listing.reader_id, payload]).encode()
        return b64(hmac.new(self._key, message, hashlib.sha256).digest()[:TAG_BYTES])


def _checked(fields: Any) -> Cursor:
    """The decoded fields as a Cursor, if each is one docbus issues and PostgreSQL accepts."""
    if not (isinstance(fields, list) and len(fields) == 2):
        raise not_issued("malformed")
    at, doc_id = fields
    if not (isinstance(doc_id, str) and _IDENTIFIER.fullmatch(doc_id)):
        raise not_issued("doc_id")
    try:
        updated_at = datetime.fromisoformat(at) if isinstance(at, str) else None
        if updated_at is None or updated_at.tzinfo is None:
            raise not_issued("updated_at")
        return Cursor(updated_at.astimezone(UTC), doc_id)
    except (ValueError, OverflowError) as exc:  # not a timestamp; outside the range in UTC
        raise not_issued("updated_at") from exc


def not_issued(error: str) -> InvalidCommand:
    return InvalidCommand(
        "cursor is not one this service issued for this listing",
        [{"field": "cursor", "error": error}],
    )


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
