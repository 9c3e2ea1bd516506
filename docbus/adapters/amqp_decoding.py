"""Tolerant decoding of AMQP frames: a value the AMQP library cannot decode costs only its
message, never the connection that received it.

Why: pamqp decodes short strings (the basic properties content_type ... cluster_id, the
exchange and routing key of basic.deliver, field-table keys) strictly as UTF-8, and a
timestamp past the year 9999 overflows ``datetime``. The error escapes aiormq's frame
reader, which ends the reader task and closes the whole connection (every channel,
every consumer on it); the robust connection reconnects and the broker delivers the same
message first again. One hostile message stopped every consumer of the connection.

Rules (``install()``, once per process, by the composition root or a tool that reads our
queues; idempotent):

- A short or long string that is not UTF-8 decodes with ``surrogateescape``: each byte
  that is not UTF-8 becomes one code point U+DC80..U+DCFF. Strict UTF-8 decoding never
  yields a surrogate, so a surrogate in a decoded string means exactly "these bytes were
  not UTF-8", and ``raw_bytes`` gives the original bytes back. (pamqp itself returned
  ``bytes`` for a long string that is not UTF-8; it is now a flagged ``str`` as well.)
- A timestamp out of ``datetime``'s range decodes to ``BadTimestamp`` (``datetime.max``
  holding the seconds that were sent).
- Frame sizes are unchanged (every length is read before the value is decoded), so the
  frames after an undecodable value are read exactly as before.
- Such a value cannot be published again: pamqp's encoder is strict and raises on a
  surrogate. ``undecodable`` lists them (field name -> hex of the bytes; bounded, so that a
  dead letter still fits in a frame) so the consumer dead-letters the message as invalid;
  ``text`` and ``clean_headers`` give what can be published (undecodable values dropped).
"""

from __future__ import annotations

import datetime
import struct
from collections.abc import Callable, Mapping
from typing import Any

from pamqp import common
from pamqp import decode as pamqp_decode

BAD_PROPERTIES_HEADER = "x-docbus-bad-properties"
"""On a dead letter: the undecodable values that were dropped, field name -> hex bytes."""

MESSAGE_FIELDS = (
    "exchange", "routing_key", "content_type", "content_encoding", "correlation_id",
    "reply_to", "message_id", "type", "user_id", "app_id", "cluster_id",
)
"""The string fields of a delivered message (aio-pika's names) that may be undecodable."""


class BadTimestamp(datetime.datetime):
    """A timestamp that ``datetime`` cannot hold; ``seconds`` is what was sent."""

    seconds: int = 0


def _short_str(value: bytes) -> tuple[int, str]:
    try:
        length = common.Struct.byte.unpack(value[0:1])[0]
    except struct.error as err:  # as pamqp: a truncated frame is a ValueError
        raise ValueError("Could not unpack short string value") from err
    return length + 1, value[1 : length + 1].decode("utf-8", "surrogateescape")


def _long_str(value: bytes) -> tuple[int, str]:
    length = common.Struct.integer.unpack(value[0:4])[0]
    return length + 4, value[4 : length + 4].decode("utf-8", "surrogateescape")


def _timestamp(value: bytes) -> tuple[int, datetime.datetime]:
    try:
        return _STRICT_TIMESTAMP(value)
    except (ValueError, OverflowError, OSError):
        seconds = common.Struct.timestamp.unpack(value[0:8])[0]
        stamp = BadTimestamp(9999, 12, 31, 23, 59, 59, tzinfo=datetime.UTC)
        stamp.seconds = seconds
        return 8, stamp


def _field_table(value: bytes) -> tuple[int, common.FieldTable]:
    """pamqp's field_table, keys decoded tolerantly (its own decodes them strictly)."""
    length = common.Struct.integer.unpack(value[0:4])[0]
    end = 4 + length
    if end > len(value):
        raise ValueError("Field table length exceeds available data")
    offset, data = 4, {}
    while offset < end:
        consumed, key = _short_str(value[offset:end])
        offset += consumed
        if offset > end:
            raise ValueError("Field table key length exceeds data")
        consumed, result = pamqp_decode.embedded_value(value[offset:])
        offset += consumed
        data[key] = result
    return end, data


_STRICT_TIMESTAMP: Callable[[bytes], tuple[int, datetime.datetime]] = pamqp_decode.timestamp
_TOLERANT: dict[str, Any] = {
    "shortstr": _short_str, "longstr": _long_str, "timestamp": _timestamp, "table": _field_table,
}
_TABLE_TYPES: dict[bytes, Any] = {b"S": _long_str, b"T": _timestamp, b"F": _field_table}


def install() -> None:
    """Make pamqp (hence aiormq and aio-pika) decode tolerantly, process-wide."""
    pamqp_decode.METHODS.update(_TOLERANT)
    pamqp_decode.TABLE_MAPPING.update(_TABLE_TYPES)
    pamqp_decode.short_str = _short_str
    pamqp_decode.long_str = _long_str
    pamqp_decode.timestamp = _timestamp
    pamqp_decode.field_table = _field_table


def installed() -> bool:
    return pamqp_decode.METHODS.get("shortstr") is _short_str


def is_undecodable(value: object) -> bool:
    """Whether ``value`` holds something that was not decodable (at any depth)."""
    if isinstance(value, str):
        return not value.isascii() and not _encodes(value)
    if isinstance(value, BadTimestamp):
        return True
    if isinstance(value, Mapping):
        return any(is_undecodable(k) or is_undecodable(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(is_undecodable(v) for v in value)
    return False


def _encodes(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def raw_bytes(value: str) -> bytes:
    """The bytes a tolerantly decoded string was made of."""
    return value.encode("utf-8", "surrogateescape")


DESCRIPTION_LIMIT = 512
"""Characters kept of one description (and ``FIELDS_LIMIT`` fields at most): the dead
letter must fit in a frame even when the original's headers nearly filled one."""
FIELDS_LIMIT = 32


def describe(value: object) -> str:
    """An undecodable value, printable and publishable: hex of its bytes (a string),
    the seconds sent (a timestamp), ``ascii()`` of anything else; cut at the limit."""
    if isinstance(value, str):
        text = raw_bytes(value).hex()
    elif isinstance(value, BadTimestamp):
        text = str(value.seconds)
    else:
        text = ascii(value)
    return text if len(text) <= DESCRIPTION_LIMIT else text[:DESCRIPTION_LIMIT] + "..."


def text(value: str | None) -> str | None:
    """``value`` if it can be published again, else None."""
    return None if value is not None and is_undecodable(value) else value


def header_name(key: str) -> str:
    return f"headers.{key}" if not is_undecodable(key) else f"headers.0x{raw_bytes(key).hex()}"


def clean_headers(headers: Mapping[str, Any] | None) -> tuple[dict[str, Any], dict[str, str]]:
    """(the headers without undecodable entries, those entries: field name -> description)."""
    kept: dict[str, Any] = {}
    bad: dict[str, str] = {}
    for key, value in (headers or {}).items():
        if is_undecodable(key) or is_undecodable(value):
            bad[header_name(key)] = describe(value)
        else:
            kept[key] = value
    return kept, bad


def undecodable(message: Any) -> dict[str, str]:
    """Every undecodable field of a delivered aio-pika message: field name -> description
    (empty: the message decoded cleanly)."""
    return {} if _plain(message) else _walk(message)


def _walk(message: Any) -> dict[str, str]:
    bad = {
        name: describe(value)
        for name in MESSAGE_FIELDS
        if is_undecodable(value := getattr(message, name, None))
    }
    if isinstance(message.timestamp, BadTimestamp):
        bad["timestamp"] = describe(message.timestamp)
    bad.update(clean_headers(message.headers)[1])
    if len(bad) > FIELDS_LIMIT:
        names = sorted(bad)
        bad = {name: bad[name] for name in names[: FIELDS_LIMIT - 1]}
        bad["more"] = f"{len(names) - FIELDS_LIMIT + 1} more fields"
    return bad


def _plain(message: Any) -> bool:
    """The common case, for a third of the instructions of ``undecodable``'s walk (every
    delivery, command or event, goes through it): every string field ASCII or absent,
    the timestamp a real one, and every header an ASCII key holding an ASCII string, a
    number or nothing. ASCII text is never undecodable; anything else takes the walk."""
    for name in MESSAGE_FIELDS:
        value = getattr(message, name, None)
        if value is not None and not (isinstance(value, str) and value.isascii()):
            return False
    if isinstance(message.timestamp, BadTimestamp):
        return False
    for key, value in (message.headers or {}).items():
        if not (isinstance(key, str) and key.isascii()):
            return False
        if isinstance(value, str):
            if not value.isascii():
                return False
        elif value is not None and not isinstance(value, int | float):
            return False
    return True
