"""What a hostile or broken publisher does to a body: each mutation is named in the
case's ``note``. Byte-level ones (lone surrogates as JSON escapes, duplicate keys, deep
nesting, bytes that are not JSON) work on the encoded body through a placeholder."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

HOLE = "\ue000hole\ue000"
SURROGATES = [b"\\ud800", b"\\udfff", b"\\ud800\\u0041", b"\\udc00\\ud800", b"\\ud83d"]
VALID_TYPES = ["application/json", "application/json; charset=utf-8",
               "application/json;charset=UTF-8", "Application/JSON"]
ODD_TYPES = ["application/json;", "application/json; charset=latin-1", " application/json "]
WRONG_TYPES = [None, "", "text/plain", "application/xml", "application/jsonx", "json",
               "text/json", "application/json\x00", "application/ json", "application/x-json"]
WRONG_VALUES: list[Any] = [1, -1, 1.5, True, False, None, [], {}, "1", ["x"], {"$gt": ""}, 2**64]


def encode(body: Any, ascii_only: bool) -> bytes:
    return json.dumps(body, ensure_ascii=ascii_only).encode()


def content_types() -> st.SearchStrategy[str | None]:
    return st.one_of(*[st.just("application/json")] * 8, st.sampled_from(VALID_TYPES),
                     st.sampled_from(ODD_TYPES), st.sampled_from(WRONG_TYPES))


def string_fields(body: dict[str, Any]) -> list[str]:
    return [k for k, v in body.items() if isinstance(v, str) or (isinstance(v, list) and v)]


def put(body: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    """``body`` with ``key`` set; in a list field (tags) the first element is replaced."""
    out = dict(body)
    if isinstance(out.get(key), list) and out[key]:
        out[key] = [value, *out[key][1:]]
    else:
        out[key] = value
    return out


@st.composite
def mutated_body(
    draw: st.DrawFn, bodies: st.SearchStrategy[dict[str, Any]],
    types: st.SearchStrategy[str | None],
) -> tuple[bytes, str | None, str]:
    body = draw(bodies)
    ascii_only = draw(st.booleans())
    kind = draw(st.sampled_from([*["none"] * 9, "drop", "unknown", "wrong_type", "size", "nul",
                                 "surrogate", "duplicate", "nesting", "not_json", "content_type"]))
    content_type = draw(types) if kind != "content_type" else draw(st.sampled_from(WRONG_TYPES))
    if kind in ("none", "content_type"):
        return encode(body, ascii_only), content_type, kind
    if kind == "not_json":
        return draw(not_json(encode(body, ascii_only))), content_type, kind
    key = draw(st.sampled_from(sorted(body)))
    texts = string_fields(body)
    if kind == "drop":
        return encode({k: v for k, v in body.items() if k != key}, ascii_only), content_type, kind
    if kind == "unknown":
        name = draw(st.text(min_size=1, max_size=20).filter(lambda n: n not in body))
        raw = encode({**body, name: draw(st.sampled_from(WRONG_VALUES))}, ascii_only)
        return raw, content_type, f"unknown field {name!r}"
    if kind == "wrong_type":
        value = draw(st.sampled_from(WRONG_VALUES))
        return encode({**body, key: value}, ascii_only), content_type, f"{key}={value!r}"
    if kind == "duplicate":
        again = draw(st.sampled_from([body[key], *WRONG_VALUES[:6]]))
        raw = encode(body, ascii_only)
        return b"{" + encode(key, True) + b":" + encode(again, True) + b"," + raw[1:], \
            content_type, f"duplicate key {key!r}"
    if not texts and kind in ("size", "nul", "surrogate"):
        return encode(body, ascii_only), content_type, "none"
    field = draw(st.sampled_from(texts)) if texts else key
    current = body[field][0] if isinstance(body[field], list) else body[field]
    if kind == "size":
        size = draw(st.sampled_from([0, 101, 129, 256, 513, 2049, 70_000, 300_000]))
        return encode(put(body, field, "x" * size), ascii_only), content_type, f"{field} of {size}"
    if kind == "nul":
        at = draw(st.integers(0, len(current)))
        return encode(put(body, field, current[:at] + "\x00" + current[at:]), ascii_only), \
            content_type, f"NUL in {field}"
    if kind == "surrogate":
        escape = draw(st.sampled_from(SURROGATES))
        raw = encode(put(body, field, current + HOLE), False)
        return raw.replace(HOLE.encode(), escape), content_type, f"surrogate {escape!r} in {field}"
    depth = draw(st.sampled_from([64, 300, 3000, 30_000]))
    nest = (b"[" * depth + b"]" * depth) if draw(st.booleans()) else \
        (b'{"a":' * depth + b"1" + b"}" * depth)
    raw = encode({**body, key: HOLE}, False).replace(encode(HOLE, False), nest)
    return raw, content_type, f"{key} nested {depth} deep"


def not_json(raw: bytes) -> st.SearchStrategy[bytes]:
    cut = st.integers(0, max(len(raw) - 1, 0)).map(lambda n: raw[:n])
    broken_utf8 = st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xc0\xaf"]).map(
        lambda bad: raw[:-2] + bad + raw[-2:])
    return st.one_of(
        st.binary(max_size=200), cut, broken_utf8,
        st.sampled_from([b"", b"null", b"[]", b'"text"', b"123", b"{", b"{}}", b'{"a":NaN}',
                         b"\xef\xbb\xbf" + raw, raw + b" trailing", b"[" + raw + b"]",
                         raw.replace(b":", b"=", 1)]),
    )
