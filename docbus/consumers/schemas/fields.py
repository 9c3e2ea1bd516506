"""The wire's building blocks: strict JSON, and the field types every message shares.

``load_json`` parses a body strictly (UTF-8, no duplicate keys, no NaN). Every string
field type refuses what PostgreSQL cannot store as text: NUL (by its pattern) and lone
surrogates (the pipeline validates the parsed body in Python mode, where pydantic refuses
them as ``string_unicode`` in the field where they are).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import jiter
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    StringConstraints,
    WithJsonSchema,
)


class NotStrictJson(ValueError):
    """A body that is not strict JSON; ``field`` names the key at fault, if one is."""

    def __init__(self, error: str, field: str = "(body)") -> None:
        super().__init__(error)
        self.error = error
        self.field = field


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):  # "last wins" would let two readers see two bodies
        keys = [key for key, _ in pairs]
        raise NotStrictJson("duplicate key", next(k for k in keys if keys.count(k) > 1))
    return obj


def _no_constant(name: str) -> Any:
    raise NotStrictJson(f"{name} is not JSON")


_STRICT_JSON = json.JSONDecoder(object_pairs_hook=_unique_keys, parse_constant=_no_constant)


def load_json(body: bytes) -> Any:
    """The body parsed; NotStrictJson unless it is UTF-8 JSON without duplicate keys (at
    any depth) and without NaN or Infinity. Lone surrogates (``"\\ud800"``) parse: the
    schema refuses them in their field.

    Every body is parsed once, by jiter (Rust; it refuses duplicate keys, NaN and bad
    UTF-8 itself): a third of the instructions of the careful parse below, which runs
    only for a body jiter refuses, to say why (the key at fault) or to let a lone
    surrogate through to the schema (jiter refuses those; deep nesting too). What jiter
    accepts, the careful parse accepts as the same value (tests/consumers/test_strict_json.py).
    """
    try:
        return jiter.from_json(
            body, catch_duplicate_keys=True, allow_inf_nan=False, cache_mode="keys"
        )
    except ValueError:
        return _careful(body)


def _careful(body: bytes) -> Any:
    try:
        return _STRICT_JSON.decode(body.decode("utf-8"))
    except NotStrictJson:
        raise
    except (ValueError, RecursionError) as error:  # bad UTF-8, bad JSON, nested too deep
        raise NotStrictJson(f"not UTF-8 JSON: {error}") from None


def storable(text: str | None) -> bool:
    """Whether PostgreSQL can store this text: no NUL, no lone surrogate."""
    if text is None:
        return True
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


NO_NUL = r"^[^\x00]+$"
"""Any text PostgreSQL can store (a lone surrogate fails before any pattern)."""

Identifier = Annotated[
    str,
    StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@-]+$"),
    Field(description="1-128 characters from [A-Za-z0-9._:@-], chosen upstream"),
]
Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\x7f]+$"),
]


def _not_dots(name: str) -> str:
    if name in {".", ".."}:
        raise ValueError("'.' and '..' are not folder names")
    return name


FolderName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=255, pattern=r"^[^/\x00-\x1f\x7f]+$"),
    AfterValidator(_not_dots),
    Field(description="1-255 characters, no '/' or control characters, not '.' or '..'"),
]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=NO_NUL)]


class Inbound(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _instant(value: object) -> datetime:
    """An RFC 3339 timestamp with its offset, as a UTC datetime (strings only: no numbers)."""
    if not isinstance(value, str) or len(value) > 40:
        raise ValueError("an RFC 3339 timestamp with an offset, e.g. 2026-12-04T17:00:00Z")
    try:
        at = datetime.fromisoformat(value)
        if at.tzinfo is None:
            raise ValueError("a timestamp needs its offset (Z or +hh:mm)")
        return at.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("timestamp out of range") from exc


def _instant_text(at: datetime) -> str:
    """The canonical text of an Instant (always UTC), as pydantic writes a UTC datetime:
    ``Z``, microseconds only when there are any. Idempotency fingerprints hash it: it must
    never change (tests/unit/test_schemas_canonical.py)."""
    return at.isoformat().replace("+00:00", "Z")


Instant = Annotated[
    datetime, PlainValidator(_instant), PlainSerializer(_instant_text, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
ExpiresAt = Annotated[
    Instant | None,
    Field(description="when the grant stops counting; later than now; null or absent: never"),
]


Limit = Annotated[int, Field(ge=1, le=500, description="1-500")]
CursorText = Annotated[str, StringConstraints(min_length=1, max_length=512, pattern=NO_NUL)]
