"""What docbus must do with a case, and the checks of what it did.

Expectation, from the contract and docs/decisions.md:
- INVALID: content type other than application/json; a body that is not strict UTF-8
  JSON with an object at the top; duplicate keys, NaN, NUL or a lone surrogate anywhere
  (PostgreSQL cannot store them, and parsers disagree on duplicates); whatever the model
  refuses; a query without reply_to; a cursor docbus did not issue for that listing.
- EITHER (invalid, or answered correctly): a reply_to naming a docbus queue, a NUL in
  the message_id, odd content-type parameters, the issued cursor on another listing.
- VALID: everything else: answered ``ok`` or with a domain error, never dead-lettered.
Every answer is a well-formed envelope; an ``ok`` one is about the body it answers
(another sender's stored reply is a leak) and fits the route's reply model.
"""

from __future__ import annotations

import enum
import json
from typing import Any

import orjson
from pydantic import ValidationError

from docbus.consumers.schemas.inbound import INBOUND
from docbus.consumers.schemas.outbound import REPLY_DATA, ErrorOut
from docbus.consumers.topology import ROUTES
from tests.fuzz.cases import REPLY_TO_US, Case
from tests.fuzz.harness import Letter, Reply
from tests.fuzz.mutations import ODD_TYPES
from tests.fuzz.world import World

QUERIES = {r.routing_key for r in ROUTES if r.query}
SAME = ("doc_id", "folder_id", "org_id", "parent_id", "name", "blob_uri", "user_id")
"""Fields an ok reply repeats from the body, where both have them."""
DOMAIN_CODES = ("not_found", "forbidden", "conflict")
INTERNALS = ("Traceback", "asyncpg", "sqlalchemy", "postgres", "File \"", "127.0.0.1")


class Expect(enum.Enum):
    VALID = "valid"
    INVALID = "invalid"
    EITHER = "invalid or valid"


class Violation(AssertionError):
    """A property of the tier does not hold (subclasses name which)."""


class NotAnswered(Violation): ...
class MalformedReply(Violation): ...
class NotRefused(Violation): ...
class WronglyRefused(Violation): ...
class ForeignReply(Violation): ...
class DeadLetterMissing(Violation): ...
class DeadLetterUnexpected(Violation): ...


def expect(case: Case, world: World) -> tuple[Expect, str]:
    """The expectation and why."""
    if case.raw is not None:  # refused as undecodable, or taken if the bytes were UTF-8
        return Expect.EITHER, "raw property bytes"
    kind = (case.content_type or "").split(";")[0].strip().lower()
    if kind != "application/json":
        return Expect.INVALID, "content type"
    body, why = strict_object(case.body)
    if body is None:
        return Expect.INVALID, why
    try:
        INBOUND[case.route].model_validate(body, strict=True)
    except ValidationError:
        return Expect.INVALID, "schema"
    if case.route in QUERIES and not case.reply_to:
        return Expect.INVALID, "a query without reply_to"
    cursor = body.get("cursor")
    issued = world.cursor
    if cursor is not None and cursor != issued.token:
        return Expect.INVALID, "a cursor docbus did not issue"
    listing = (case.route, body.get("folder_id"), body.get("user_id"), body.get("limit", 50))
    if cursor is not None and listing != (
            "folder.list", issued.folder_id, issued.user_id, issued.limit):
        return Expect.EITHER, "an issued cursor on another listing"
    if (case.reply_to or "").startswith("docbus."):
        return Expect.EITHER, "reply_to names a docbus queue"
    if "\x00" in (case.message_id or "") or case.content_type in ODD_TYPES:
        return Expect.EITHER, "odd properties"
    return Expect.VALID, "valid"


def strict_object(raw: bytes) -> tuple[dict[str, Any] | None, str]:
    try:
        body = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates,
                          parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        return None, f"not strict JSON ({type(error).__name__})"
    if not isinstance(body, dict):
        return None, "not an object"
    if any("\x00" in s or _lone_surrogate(s) for s in _strings(body)):
        return None, "NUL or lone surrogate"
    return body, ""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    if len({k for k, _ in pairs}) != len(pairs):
        raise ValueError("duplicate key")
    return dict(pairs)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (k, *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _lone_surrogate(text: str) -> bool:
    return any(0xD800 <= ord(c) <= 0xDFFF for c in text)


def envelope(case: Case, reply: Reply) -> dict[str, Any]:
    """The reply's decoded envelope, after checking what every reply must be."""
    if reply.correlation_id != case.correlation_id or reply.message_id != case.message_id:
        raise MalformedReply(f"reply ids {reply.correlation_id!r}/{reply.message_id!r} to "
                             f"{case.correlation_id!r}/{case.message_id!r}")
    if reply.content_type != "application/json":
        raise MalformedReply(f"reply content type {reply.content_type!r}")
    try:
        body = orjson.loads(reply.body)
    except orjson.JSONDecodeError as error:
        raise MalformedReply(f"reply is not JSON: {reply.body[:300]!r}") from error
    if body.get("ok") is True and set(body) == {"ok", "data"}:
        return body  # type: ignore[no-any-return]
    if body.get("ok") is not False or set(body) != {"ok", "error"}:
        raise MalformedReply(f"not an envelope: {body!r}"[:500])
    message = ErrorOut.model_validate(body["error"]).message
    if any(word in message for word in INTERNALS):
        raise MalformedReply(f"internals in an error message: {message!r}")
    return body  # type: ignore[no-any-return]


def code_of(body: dict[str, Any]) -> str:
    return "ok" if body["ok"] else str(body["error"]["code"])


def check_answer(case: Case, verdict: Expect, body: dict[str, Any]) -> None:
    code = code_of(body)
    if verdict is Expect.INVALID and code != "invalid":
        raise NotRefused(f"{case.note}: answered {code}, not invalid: {body!r}"[:800])
    allowed = ("ok", *DOMAIN_CODES) + (("invalid",) if verdict is Expect.EITHER else ())
    if verdict is not Expect.INVALID and code not in allowed:
        raise WronglyRefused(f"{case.note}: answered {body!r}"[:800])
    if code == "ok":
        check_data(case, body["data"])


def check_data(case: Case, data: dict[str, Any]) -> None:
    """An ok reply fits the route's model and is about this body (not a stored reply of
    another sender that used the same message_id)."""
    try:
        REPLY_DATA[case.route].model_validate(data)
    except ValidationError as error:
        raise ForeignReply(f"{case.route} answered with another shape: {data!r}"[:800]) from error
    sent = json.loads(case.body)
    if any(k in data and data[k] != v for k, v in about(case.route, sent).items()):
        raise ForeignReply(f"{case.route} {sent!r} answered about something else: {data!r}"[:800])


def about(route: str, body: dict[str, Any]) -> dict[str, Any]:
    """What the data of an ok reply must say (where it has the field), given the body."""
    if route == "document.share":
        return {"doc_id": body["doc_id"], "user_id": body["shared_with"], "role": body["role"]}
    if route in ("document.unshare", "org.member.set", "org.member.remove"):
        return {**{k: body[k] for k in SAME if k in body}, "role": body.get("role")}
    if route == "document.get":  # the reader's user_id is no field of a document
        return {"doc_id": body["doc_id"]}
    return {k: body[k] for k in SAME if k in body and k != "user_id"}


def check_letters(case: Case, refused: bool, letters: list[Letter]) -> None:
    """A refused message is dead-lettered once with its reason and as it came; nothing else is."""
    if not refused:
        if letters:
            raise DeadLetterUnexpected(f"{case.note}: {letters[0].describe()}")
        return
    if not letters:
        raise DeadLetterMissing(f"{case.note}: refused but not dead-lettered")
    letter = letters[0]
    if letter.body != case.body or letter.header("x-docbus-original-routing-key") != case.route:
        raise DeadLetterUnexpected(f"dead letter is not the message: {letter.describe()}")


def asked_us(case: Case) -> bool:
    return case.reply_to == REPLY_TO_US
