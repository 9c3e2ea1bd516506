"""``load_json`` parses with jiter and falls back to the careful parse for what jiter
refuses: it must give exactly what the careful parse alone gives, for any bytes (the same
value, or NotStrictJson with the same reason and field)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from docbus.consumers.schemas.fields import NotStrictJson, _careful, load_json

ANY_CHAR = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=())
KEYS = st.sampled_from(["a", "b", "doc_id", "\u00e9", "\ud800", "\x00", ""]) | st.text(ANY_CHAR)
SCALARS = (
    st.none() | st.booleans() | st.integers() | st.integers(-(10**40), 10**40)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(ANY_CHAR, max_size=20)
)


def _object(pairs: list[tuple[str, Any]]) -> str:
    """An object that may hold a key twice (json.dumps of a dict never does)."""
    return "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in pairs) + "}"


JSON_TEXT = st.recursive(
    SCALARS.map(json.dumps),
    lambda inner: st.lists(inner).map(lambda items: "[" + ",".join(items) + "]")
    | st.lists(st.tuples(KEYS, inner)).map(_object),
    max_leaves=30,
)


def _outcome(parse: Any, body: bytes) -> tuple[str, Any]:
    try:
        value = parse(body)
    except NotStrictJson as error:
        return "refused", (error.error, error.field)
    return "parsed", repr(value)  # repr: -0.0 is not 0.0, 1 is not True


@settings(max_examples=400, deadline=None)
@given(text=JSON_TEXT, ascii_only=st.booleans(), mutation=st.integers(0, 2), at=st.integers(0))
def test_load_json_gives_what_the_careful_parse_gives(
    text: str, ascii_only: bool, mutation: int, at: int
) -> None:
    raw = text if ascii_only else json.dumps(json.loads(text), ensure_ascii=False)
    body = raw.encode("utf-8", "surrogatepass")  # a lone surrogate: bytes that are not UTF-8
    if mutation and body:  # a byte dropped or doubled: broken JSON, broken UTF-8
        i = at % len(body)
        body = body[:i] + body[i + 1 :] if mutation == 1 else body[: i + 1] + body[i:]
    assert _outcome(load_json, body) == _outcome(_careful, body)


@pytest.mark.parametrize("body", [
    b'{"a": 1, "a": 2}', b'{"a": {"b": [{"c": 1, "\\u0063": 2}]}}', b'{"a": NaN}',
    b'{"a": -Infinity}', b'{"a": "\\ud800"}', b'{"a": "\xed\xa0\x80"}', b'\xef\xbb\xbf{}',
    b'{"a": "x\ny"}', b'{"a": 1,}', b'{"a": 01}', b"[" * 300 + b"]" * 300, b'{"a": 1e400}',
    b'{"a": ' + b"9" * 5000 + b"}", b"", b'{"a": 1} x',
])
def test_hostile_bodies_end_as_the_careful_parse_says(body: bytes) -> None:
    assert _outcome(load_json, body) == _outcome(_careful, body)


def test_a_duplicate_key_still_names_the_key() -> None:
    with pytest.raises(NotStrictJson) as raised:
        load_json(b'{"a": {"b": 1, "b": 2}}')
    assert (raised.value.error, raised.value.field) == ("duplicate key", "b")


def test_a_lone_surrogate_still_parses_for_the_schema_to_refuse_in_its_field() -> None:
    assert load_json(b'{"name": "x\\udfff"}') == {"name": "x\udfff"}
    assert math.isinf(load_json(b'{"a": 1e400}')["a"])  # as json.loads: the schema decides
