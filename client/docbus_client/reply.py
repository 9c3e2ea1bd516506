"""The reply envelope: ``{"ok": true, "data": {...}}`` or ``{"ok": false, "error": {...}}``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from docbus_client.errors import DocbusError, DocbusProtocolError, error_from_envelope


@dataclass(frozen=True, slots=True)
class Reply:
    """One decoded reply. ``unwrap()`` gives ``data`` or raises the typed error."""

    ok: bool
    data: dict[str, Any] | None
    error: dict[str, Any] | None
    message_id: str
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def decode(cls, body: bytes, message_id: str) -> Reply:
        """Parse a reply body; a body that is not a valid envelope raises
        :class:`DocbusProtocolError`."""
        envelope = _json_object(body)
        ok = envelope.get("ok")
        if ok is True:
            return cls(True, _member(envelope, "data"), None, message_id, envelope)
        if ok is False:
            return cls(False, None, _member(envelope, "error"), message_id, envelope)
        raise DocbusProtocolError("bad_reply", "reply has no boolean 'ok'", [envelope])

    def unwrap(self) -> dict[str, Any]:
        """The reply's ``data``; raises the envelope's typed :class:`DocbusError`."""
        if self.data is not None:
            return self.data
        raise self.exception()

    def exception(self) -> DocbusError:
        """The typed error this (failed) reply stands for."""
        return error_from_envelope(self.error or {"code": "unknown"})


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise DocbusProtocolError("bad_reply", f"reply is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise DocbusProtocolError("bad_reply", "reply is not a JSON object")
    return value


def _member(envelope: dict[str, Any], key: str) -> dict[str, Any]:
    value = envelope.get(key)
    if not isinstance(value, dict):
        raise DocbusProtocolError("bad_reply", f"reply has no object {key!r}", [envelope])
    return value
