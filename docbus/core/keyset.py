"""Opaque cursors for keyset pagination over any sort key (folder.children, trash.list).

The same rules as the document listing's cursor (core/cursor.py): a token is
``<payload>.<tag>``, the tag an HMAC under the service's cursor key over the listing the
page belongs to and the payload; a token this service did not issue for this listing is
``invalid``. Every decoded value is then checked too: text PostgreSQL can store (no NUL,
no lone surrogate, at most 1,024 characters); the handlers check their own fields
(identifiers, timestamps) on top.
"""

from __future__ import annotations

import binascii
import json
import re
from datetime import UTC, datetime

from docbus.core.cursor import CursorCodec, Listing, b64, not_issued, unb64

MAX_VALUE = 1024
KINDS = ("document", "folder")
_IDENTIFIER = re.compile(r"[A-Za-z0-9._:@-]{1,128}")


def encode_key(codec: CursorCodec, listing: Listing, kind: str, values: list[str]) -> str:
    """An opaque token for the position after a row whose sort key is ``values``."""
    payload = b64(json.dumps([kind, *values], separators=(",", ":")).encode())
    return f"{payload}.{codec.tag(payload, listing)}"


def decode_key(
    codec: CursorCodec, listing: Listing, kind: str, token: str, size: int
) -> list[str]:
    """The sort key of a token issued by encode_key for this listing; ``invalid`` else."""
    payload, _, tag = token.partition(".")
    if not (token.isascii() and codec.verify(payload, tag, listing)):
        raise not_issued("signature")
    try:
        decoded = json.loads(unb64(payload))
    except (ValueError, binascii.Error) as exc:
        raise not_issued("malformed") from exc
    if (
        not isinstance(decoded, list)
        or len(decoded) != size + 1
        or decoded[0] != kind
        or not all(isinstance(v, str) and _storable(v) for v in decoded)
    ):
        raise not_issued("malformed")
    return decoded[1:]


def _storable(value: str) -> bool:
    if len(value) > MAX_VALUE or "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True


def decode_dated_item(
    codec: CursorCodec, listing: Listing, kind: str, token: str
) -> tuple[datetime, str, str]:
    """A (timestamp, item kind, item id) position, as trash.list and shared.with_me page
    on: issued for this listing, an aware timestamp inside datetime's range in UTC, a kind
    of ``KINDS`` and an identifier; ``invalid`` otherwise."""
    at, item_kind, item_id = decode_key(codec, listing, kind, token, 3)
    if item_kind not in KINDS or not _IDENTIFIER.fullmatch(item_id):
        raise not_issued("malformed")
    try:
        when = datetime.fromisoformat(at)
        if when.tzinfo is None:
            raise not_issued("malformed")
        return when.astimezone(UTC), item_kind, item_id
    except (ValueError, OverflowError) as exc:  # year 9999 at -14:00 leaves the range
        raise not_issued("malformed") from exc
