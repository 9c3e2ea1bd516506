"""The listing cursor: an opaque token for keyset pagination on (updated_at, doc_id)."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime

from core.errors import InvalidCommand


@dataclass(frozen=True, slots=True, order=True)
class Cursor:
    """Position after the last document of a page (listings run newest first)."""

    updated_at: datetime
    doc_id: str

    def encode(self) -> str:
        raw = json.dumps([self.updated_at.isoformat(), self.doc_id], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            padded = token + "=" * (-len(token) % 4)
            at, doc_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
            cursor = cls(datetime.fromisoformat(at), str(doc_id))
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
            raise InvalidCommand(
                "cursor is not one this service issued",
                [{"field": "cursor", "error": "malformed"}],
            ) from exc
        if cursor.updated_at.tzinfo is None:
            raise InvalidCommand("cursor is not one this service issued")
        return cursor
