"""What a hostile or broken publisher does to a body: each mutation is named in the
case's ``note``. Byte-level ones (lone surrogates as JSON escapes, duplicate keys, deep
nesting, bytes that are not JSON) work on the encoded body through a placeholder."""

from __future__ import annotations

import json
from collections.abc import Callable
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


Mutation = Callable[[st.DrawFn, dict[str, Any], bool], tuple[bytes, str]]


def unchanged(draw: st.DrawFn, body: dict[str, Any], ascii_only: bool) -> tuple[bytes, str]:
    return encode(body, ascii_only), "none"


def drop(draw: st.DrawFn, body: dict[str, Any], ascii_only: bool) -> tuple[bytes, str]:
    key = draw(st.sampled_from(sorted(body)))
    return encode({k: v for k, v in body.items() if k != key}, ascii_only), f"no {key}"


def unknown(draw: st.DrawFn, body: dict[str, Any], ascii_only: bool) -> tuple[bytes, str]:
    name = draw(st.text(min_size=1, max_size=20).filter(lambda n: n not in body))
    value = draw(st.sampled_from(WRONG_VALUES))
    return encode({**body, name: value}, ascii_only), f"unknown field {name!r}"


def wrong_type(draw: st.DrawFn, body: dict[str, Any], ascii_only: bool) -> tuple[bytes, str]:
    key, value = draw(st.sampled_from(sorted(body))), draw(st.sampled_from(WRONG_VALUES))
    return encode({**body, key: value}, ascii_only), f"{key}={value!r}"


def duplicate(draw: st.DrawFn, body: dict[str, Any], ascii_only: bool) -> tuple[bytes, str]:
    key = draw(st.sampled_from(sorted(body)))
    again = draw(st.sampled_from([body[key], *WRONG_VALUES[:6]]))
    first = b"{" + encode(key, True) + b":" + encode(again, True) + b","
    return first + encode(body, ascii_only)[1:], f"duplicate key {key!r}"


def nesting(draw: st.DrawFn, body: dict[str, Any], ascii_only: bool) -> tuple[bytes, str]:
    key = draw(st.sampled_from(sorted(body)))
    depth = draw(st.sampled_from([64, 300, 3000, 30_000]))
    lists = draw(st.booleans())
    nest = b"[" * depth + b"]" * depth if lists else b'{"a":' * depth + b"1" + b"}" * depth
    raw = encode({**body, key: HOLE}, False).replace(encode(HOLE, False), nest)
    return raw, f"{key} nested {depth} deep"


def garbage(draw: st.DrawFn, body: dict[str, Any], ascii_only: bool) -> tuple[bytes, str]:
    return draw(not_json(encode(body, ascii_only))), "not JSON"


def in_a_string(kind: str) -> Mutation:
    """A mutation of one string (or the first tag): its size, a NUL, a lone surrogate."""

    def mutate(draw: st.DrawFn, body: dict[str, Any], ascii_only: bool) -> tuple[bytes, str]:
        texts = string_fields(body)
        if not texts:
            return encode(body, ascii_only), "none"
        field = draw(st.sampled_from(texts))
        current = body[field][0] if isinstance(body[field], list) else body[field]
        if kind == "size":
            size = draw(st.sampled_from([0, 101, 129, 256, 513, 2049, 70_000, 300_000]))
            return encode(put(body, field, "x" * size), ascii_only), f"{field} of {size}"
        if kind == "nul":
            at = draw(st.integers(0, len(current)))
            nul = current[:at] + "\x00" + current[at:]
            return encode(put(body, field, nul), ascii_only), f"NUL in {field}"
        escape = draw(st.sampled_from(SURROGATES))
        raw = encode(put(body, field, current + HOLE), False).replace(HOLE.encode(), escape)
        return raw, f"surrogate {escape!r} in {field}"

    return mutate


MUTATIONS: dict[str, Mutation] = {
    "drop": drop, "unknown": unknown, "wrong_type": wrong_type, "duplicate": duplicate,
    "nesting": nesting, "not_json": garbage, "size": in_a_string("size"),
    "nul": in_a_string("nul"), "surrogate": in_a_string("surrogate"),
}


@st.composite
def mutated_body(
    draw: st.DrawFn, bodies: st.SearchStrategy[dict[str, Any]],
    types: st.SearchStrategy[str | None],
) -> tuple[bytes, str | None, str]:
    """(body, content type, note): about half valid, the rest mutated one way each."""
    body, ascii_only = draw(bodies), draw(st.booleans())
    kind = draw(st.sampled_from([*["none"] * 9, "content_type", *MUTATIONS]))
    if kind == "content_type":
        wrong = draw(st.sampled_from(WRONG_TYPES))
        return encode(body, ascii_only), wrong, f"content type {wrong!r}"
    raw, note = MUTATIONS.get(kind, unchanged)(draw, body, ascii_only)
    return raw, draw(types), note


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
