"""Hypothesis strategies: bodies derived from the pydantic models of consumers/schemas/inbound.py
(INBOUND), with identifiers drawn from the world so that commands meet real state, then
mutated (see mutations.py), and AMQP properties a hostile publisher could set.

Valid text excludes NUL and lone surrogates: the schema must refuse those (mutations
put them back on purpose). Generated membership commands touch only the churn org,
so the fixed orgs' members stay what the existence oracle assumes.
"""

from __future__ import annotations

import json
import types
import typing
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, get_args, get_origin

from annotated_types import Ge, Le, MaxLen
from hypothesis import strategies as st
from pydantic import StringConstraints
from pydantic.fields import FieldInfo

from docbus.consumers.schemas.inbound import INBOUND
from docbus.consumers.topology import DEAD_QUEUE_NAME, ROUTES
from tests.fuzz.cases import REPLY_TO_US, Case
from tests.fuzz.harness import RAW_PLACES
from tests.fuzz.mutations import content_types, mutated_body
from tests.fuzz.world import World

SAFE = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
USER_FIELDS = {"owner_id", "actor_id", "shared_by", "shared_with", "revoked_by", "user_id"}
IDENTIFIER = r"^[A-Za-z0-9._:@-]+$"
DOCBUS_QUEUES = (DEAD_QUEUE_NAME, "docbus.audit", *(r.queue for r in ROUTES))
MEMBERSHIP = ("org.member.set", "org.member.remove")


def ids(pool: typing.Sequence[str]) -> st.SearchStrategy[str]:
    """Mostly ids of the world, sometimes any identifier (which will not exist)."""
    fresh = st.from_regex(IDENTIFIER, fullmatch=True).filter(lambda s: len(s) <= 128)
    return st.one_of(st.sampled_from(list(pool)), st.sampled_from(list(pool)), fresh)


def field_strategy(route: str, name: str, info: FieldInfo, world: World) -> st.SearchStrategy[Any]:
    if name == "org_id":
        return ids([world.churn_org] if route in MEMBERSHIP else world.orgs)
    if name in USER_FIELDS:
        return ids(world.users)
    if name == "doc_id":
        return ids(list(world.docs))
    if name in ("folder_id", "parent_id"):
        folders = ids(list(world.folders))
        return st.one_of(st.none(), folders) if name == "parent_id" else folders
    if name == "cursor":
        forged = from_annotation(info.annotation, info.metadata)
        return st.one_of(st.none(), st.just(world.cursor.token), forged)
    return from_annotation(info.annotation, info.metadata)


def from_annotation(tp: Any, metadata: list[Any]) -> st.SearchStrategy[Any]:
    """A strategy for values the annotation (with pydantic's constraints) accepts."""
    origin, args = get_origin(tp), get_args(tp)
    if origin is Annotated:
        return from_annotation(args[0], [*metadata, *flatten(args[1:])])
    if origin in (typing.Union, types.UnionType):
        return st.one_of([from_annotation(a, metadata) for a in args])
    if tp is type(None):
        return st.none()
    if origin is Literal:
        return st.sampled_from(args)
    if origin is list:
        top = min([m.max_length for m in metadata if isinstance(m, MaxLen)] or [5])
        return st.lists(from_annotation(args[0], []), max_size=min(top, 5))
    if tp is int:
        low: Any = next((m.ge for m in metadata if isinstance(m, Ge)), -(2**63))
        high: Any = next((m.le for m in metadata if isinstance(m, Le)), 2**63 - 1)
        return st.integers(int(low), int(high))
    if tp is str:
        return text_for(next((m for m in metadata if isinstance(m, StringConstraints)), None))
    if tp is datetime:  # an expires_at: RFC 3339 text with its offset, later than now
        return st.datetimes(datetime(2100, 1, 1), datetime(2200, 1, 1),
                            timezones=st.just(UTC)).map(lambda at: at.isoformat())
    raise TypeError(f"no strategy for {tp!r}")


def flatten(extra: tuple[Any, ...]) -> list[Any]:
    out: list[Any] = []
    for item in extra:
        out.extend(item.metadata if isinstance(item, FieldInfo) else [item])
    return out


def text_for(constraints: StringConstraints | None) -> st.SearchStrategy[str]:
    low = (constraints.min_length if constraints else None) or 0
    high = (constraints.max_length if constraints else None) or 64
    if constraints and constraints.pattern:
        pattern = st.from_regex(str(constraints.pattern), fullmatch=True, alphabet=SAFE)
        return pattern.filter(lambda s: low <= len(s) <= high)
    return st.text(SAFE, min_size=low, max_size=min(high, 40))


@st.composite
def valid_body(draw: st.DrawFn, route: str, world: World) -> dict[str, Any]:
    model = INBOUND[route]
    body = {}
    for name, info in model.model_fields.items():
        if info.is_required() or draw(st.booleans()):
            body[name] = draw(field_strategy(route, name, info, world))
    return body


def token_suffix() -> st.SearchStrategy[str | None]:
    """What the publisher adds to a unique prefix (the test makes it unique at run time)."""
    return st.one_of(st.just(""), st.text(st.characters(exclude_categories=["Cs"]), max_size=40))


def header_values() -> st.SearchStrategy[Any]:
    """What pamqp can encode. Not NaN or infinities: RabbitMQ closes the publisher's own
    connection on them (INTERNAL_ERROR), which is the broker's business, not docbus's."""
    floats = st.floats(width=32, allow_nan=False, allow_infinity=False)
    leaf = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), floats,
                     st.text(max_size=30), st.binary(max_size=20).map(bytearray))
    keys = st.text(min_size=1, max_size=20)
    return st.recursive(
        leaf, lambda c: st.lists(c, max_size=3) | st.dictionaries(keys, c, max_size=3),
        max_leaves=6,
    )


FORGED_COUNTS = [0, 1, 5, 99, -1, 2**31, 2**62, "99", True, 99.5, None, bytearray(b"99")]


@st.composite
def headers(draw: st.DrawFn) -> dict[str, Any]:
    keys = st.text(min_size=1, max_size=20).filter(lambda k: not k.startswith("x-fuzz"))
    table = draw(st.dictionaries(keys, header_values(), max_size=3))
    if draw(st.integers(0, 2)) == 0:
        table["x-delivery-count"] = draw(st.sampled_from(FORGED_COUNTS))
    if draw(st.integers(0, 9)) == 0:
        forged = draw(st.sampled_from(
            ["x-docbus-error", "x-death", "x-docbus-original-routing-key"]))
        table[forged] = draw(header_values())
    return table


def reply_tos() -> st.SearchStrategy[str | None]:
    other = st.text(min_size=1, max_size=30).filter(lambda s: not s.startswith(("docbus.", "amq.")))
    return st.one_of(*[st.just(REPLY_TO_US)] * 12, st.none(), st.just(""),
                     st.sampled_from(DOCBUS_QUEUES), other)


@st.composite
def cases(draw: st.DrawFn, world: World, routes: tuple[str, ...] = tuple(INBOUND)) -> Case:
    route = draw(st.sampled_from(routes))
    body, content_type, note = draw(mutated_body(valid_body(route, world), content_types()))
    return Case(
        route, body, content_type,
        message_id=draw(token_suffix()),
        correlation_id=draw(st.one_of(st.none(), token_suffix(), token_suffix(), token_suffix())),
        reply_to=draw(reply_tos()),
        headers=draw(headers()),
        user_id=draw(st.sampled_from([None, None, None, "guest"])),
        type=draw(st.one_of(st.none(), st.text(max_size=20))),
        app_id=draw(st.one_of(st.none(), st.text(max_size=20))),
        note=note,
    )


@st.composite
def reuse_pairs(draw: st.DrawFn, world: World) -> tuple[Case, Case]:
    """A command that always succeeds, then a message with the same message_id: an exact
    duplicate, or a valid message of another route or of another org (which must not be
    answered with the first one's stored reply)."""
    member = {"org_id": world.churn_org, "user_id": draw(st.sampled_from(world.users)),
              "role": draw(st.sampled_from(["member", "admin"]))}
    first = Case("org.member.set", json.dumps(member).encode(), message_id="",
                 correlation_id="", note="first of a reused message_id")
    if draw(st.booleans()):
        return first, Case(first.route, first.body, message_id="", correlation_id="",
                           headers=draw(headers()), note="exact duplicate")
    route = draw(st.sampled_from(list(INBOUND)))
    body = draw(valid_body(route, world))
    if route in MEMBERSHIP:  # another org, but not a fixed one (their members stay put)
        body["org_id"] = world.id("D")
    return first, Case(route, json.dumps(body).encode(), message_id="", correlation_id="",
                       note="another message with the same message_id")


@st.composite
def raw_cases(draw: st.DrawFn, world: World) -> Case:
    """A case sent as raw frames: arbitrary bytes at one place of its properties (or no
    message_id), no reply to us (direct reply-to needs the consuming connection)."""
    case = draw(cases(world))
    where = draw(st.sampled_from(RAW_PLACES))
    value = draw(st.binary(min_size=1, max_size=24))
    reply_to = draw(st.one_of(st.none(), st.sampled_from(DOCBUS_QUEUES)))
    return Case(case.route, case.body, case.content_type, case.message_id, case.correlation_id,
                reply_to, raw=(where, value), note=f"raw {value!r} at {where}; {case.note}")
