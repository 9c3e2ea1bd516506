"""Which documents a reader may read, as SQL: one seam for every listing (folder.list now,
document.search next), so that no listing ever checks documents one by one.

A ``ReadableFilter`` (core.decisions) is decided once per listing by the access decider:
``all``, ``none``, ``own_share`` (the built-in rule: a live document share of the reader)
or ``plan``: a policy decision point's query plan (Cerbos PlanResources) whose residual
condition is over the reader's document share (``doc_role``, '' when none, and
``doc_expires_at``). The ``cerbos-sqlalchemy`` package translates the condition; it is
compiled for asyncpg, its values numbered parameters after the caller's own.

- When the condition is false for a reader without a share (docbus's policies: a
  document share's role is what it tests), it applies to the reader's share row:
  ``EXISTS (SELECT 1 FROM shares s WHERE ... AND <condition on s>)``, the shape of the
  built-in filter, which the planner may drive from the reader's own shares (a member
  who holds few shares in a folder of 100,000 documents reads a handful of rows).
- Otherwise (a policy that lets some readers read documents without a share), the
  condition applies to a lateral row that holds the share or '' and null: correct for
  any plan, at the cost of a probe per document of the folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ARRAY,
    DateTime,
    String,
    Text,
    cast,
    column,
    exists,
    func,
    literal_column,
    select,
    table,
)
from sqlalchemy.dialects.postgresql import asyncpg as pg_asyncpg

from docbus.adapters.postgres.tree_sql import LIVE_SHARE
from docbus.core.decisions import ReadableFilter

# The reader's share on document ``d``: one row whether or not there is one (an aggregate).
READER_SHARE = (
    " CROSS JOIN LATERAL (SELECT coalesce(max(s.role), '') AS doc_role,"
    " max(s.expires_at) AS doc_expires_at FROM shares s"
    " WHERE s.doc_id = d.doc_id AND s.user_id = ${reader}) reader_share"
)
ROLE, EXPIRES_AT = "request.resource.attr.doc_role", "request.resource.attr.doc_expires_at"
_LATERAL = table(
    "reader_share", column("doc_role", String), column("doc_expires_at", DateTime(timezone=True))
)
_LATERAL_ATTRIBUTES = {ROLE: _LATERAL.c.doc_role, EXPIRES_AT: _LATERAL.c.doc_expires_at}
_SHARE_ROW = table("s", column("role", String), column("expires_at", DateTime(timezone=True)))
_SHARE_ATTRIBUTES = {ROLE: _SHARE_ROW.c.role, EXPIRES_AT: _SHARE_ROW.c.expires_at}
# The reader's folder shares on document d's folder and above, for a plan over
# ``R.attr.folder_grants`` left unknown (an org-wide listing: search): the policies'
# ``folder_grants.exists(g, ...)`` becomes EXISTS over those rows, ``g.role`` and
# ``g.expires_at`` their columns.
GRANTS = "request.resource.attr.folder_grants"
_CHAIN = table(
    "folders", column("folder_id", String), column("ancestors", ARRAY(String))
).alias("t")
_FOLDER_SHARES = table(
    "folder_shares", column("folder_id", String), column("user_id", String),
    column("role", String), column("expires_at", DateTime(timezone=True)),
).alias("fs")
_READER = "__docbus_reader__"
_DIALECT = pg_asyncpg.dialect(paramstyle="numeric_dollar")  # type: ignore[no-untyped-call]
_PLACEHOLDER = re.compile(r"\$(\d+)")


@dataclass(frozen=True, slots=True)
class ReadableSql:
    """``joins`` go after ``FROM documents d``; ``where`` is a condition; ``args`` are the
    values of the parameters the condition numbers from ``first``."""

    joins: str
    where: str
    args: tuple[object, ...]


def readable_sql(
    readable: ReadableFilter, *, reader: int, first: int, folders: bool = False
) -> ReadableSql:
    """The filter over documents ``d`` (``folders``: over folders ``f``, a plan over
    their folder grants alone); ``$reader`` holds the reader's user_id, and the plan's
    own values are numbered ``$first``, ``$first + 1``, ... (``built_in`` is the
    listing's own statement's: not here)."""
    if readable.kind == "built_in":
        raise ValueError("the built-in rule is applied by the listing's own statement")
    if folders and readable.kind == "plan":
        where, args = _plan_sql(readable.condition, first, reader, _LATERAL, {}, "f.folder_id")
        return ReadableSql("", where, args)
    if readable.kind == "all":
        return ReadableSql("", "true", ())
    if readable.kind == "none":
        return ReadableSql("", "false", ())
    if readable.kind == "own_share":
        return ReadableSql("", (
            f"EXISTS (SELECT 1 FROM shares s WHERE s.doc_id = d.doc_id AND s.user_id = ${reader}"  # noqa: S608 - placeholders only
            f" AND {LIVE_SHARE})"
        ), ())
    if without_share(readable.condition) is False:
        where, args = _plan_sql(readable.condition, first, reader, _SHARE_ROW, _SHARE_ATTRIBUTES)
        return ReadableSql("", (
            f"EXISTS (SELECT 1 FROM shares s WHERE s.doc_id = d.doc_id AND s.user_id = ${reader}"  # noqa: S608 - placeholders only
            f" AND ({where}))"
        ), args)
    where, args = _plan_sql(readable.condition, first, reader, _LATERAL, _LATERAL_ATTRIBUTES)
    return ReadableSql(READER_SHARE.replace("{reader}", str(reader)), where, args)


def _plan_sql(  # noqa: PLR0917 - one call site per form
    condition: dict[str, Any], first: int, reader: int, row: Any, attributes: dict[str, Any],
    folder_of: str = "d.folder_id",
) -> tuple[str, tuple[object, ...]]:
    # Imported here: cerbos-sqlalchemy and protobuf cost a worker ~40 MiB of RSS, and only
    # a Cerbos decider's plans need them (the built-in rule's statements do not).
    from cerbos.response.v1 import response_pb2
    from cerbos_sqlalchemy import get_query
    from google.protobuf.json_format import ParseDict

    plan = ParseDict(
        {"filter": {"kind": "KIND_CONDITIONAL", "condition": condition}},
        response_pb2.PlanResourcesResponse(),
    )
    attributes = attributes | {GRANTS: _FOLDER_SHARES.c.folder_id}
    for name in _lambda_variables(condition):
        attributes |= {name: _FOLDER_SHARES.c.folder_id, f"{name}.role": _FOLDER_SHARES.c.role,
                       f"{name}.expires_at": _FOLDER_SHARES.c.expires_at}
    overrides = {"exists": _exists_grant(folder_of), "lambda": lambda body, _: body}
    clause = get_query(plan, row, attributes, operator_override_fns=overrides).whereclause
    if clause is None:  # a conditional plan always has a condition
        raise ValueError("a conditional plan without a condition")
    compiled = clause.compile(dialect=_DIALECT)
    names = compiled.positiontup or []
    args = tuple(compiled.params[name] for name in names)
    sql = _PLACEHOLDER.sub(lambda m: f"${int(m.group(1)) + first - 1}", compiled.string)
    return sql.replace(_READER, f"${reader}"), args


def _exists_grant(folder_of: str) -> Any:
    """``folder_grants.exists(g, body)``: one of the reader's folder shares on the folder
    ``folder_of`` (an SQL expression) or above satisfies ``body``."""

    def translated(collection: Any, body: Any) -> Any:
        if collection is not _FOLDER_SHARES.c.folder_id:
            raise ValueError("exists() over something other than the folder grants")
        chain = _CHAIN.c.ancestors.op("||")(cast(_CHAIN.c.folder_id, Text))
        shares = _CHAIN.join(_FOLDER_SHARES, _FOLDER_SHARES.c.folder_id == func.any(chain))
        return exists(select(literal_column("1")).select_from(shares).where(
            _CHAIN.c.folder_id == literal_column(folder_of),
            _FOLDER_SHARES.c.user_id == literal_column(_READER),
            body,
        ))

    return translated


def _lambda_variables(operand: Any) -> set[str]:
    """The names the plan's comprehensions bind (``g`` in docbus's policies)."""
    if not isinstance(operand, dict):
        return set()
    expression = operand.get("expression", operand)
    operands = expression.get("operands", []) if isinstance(expression, dict) else []
    found = set().union(*(_lambda_variables(o) for o in operands)) if operands else set()
    if expression.get("operator") == "lambda" and len(operands) == 2:
        found.add(operands[1].get("variable", ""))
    return found - {""}


NO_SHARE: dict[str, object] = {ROLE: "", EXPIRES_AT: None}
UNKNOWN = object()
"""Where CEL would fail (a missing or mistyped value), or an operator not judged here."""


def without_share(operand: dict[str, Any]) -> object:
    """The plan's condition (or a value inside it) for a reader who holds no share on
    the document, as CEL would judge it: True, False, a value, or UNKNOWN (then the
    caller keeps the general translation)."""
    if "value" in operand:
        return operand["value"]
    if "variable" in operand:
        return NO_SHARE.get(operand["variable"], UNKNOWN)
    expression = operand.get("expression", operand)
    values = [without_share(a) for a in expression.get("operands", [])]
    operator = expression.get("operator")
    if operator in ("and", "or"):
        return _connective(operator == "and", values)
    if UNKNOWN in values or len(values) != 2 - (operator == "not"):
        return UNKNOWN
    return _compared(operator, values)


def _connective(conjunction: bool, values: list[object]) -> object:
    """CEL's && and || (commutative over errors): one false (true) operand decides."""
    if any(v is (not conjunction) for v in values):
        return not conjunction
    return conjunction if all(v is conjunction for v in values) else UNKNOWN


def _compared(operator: object, values: list[object]) -> object:
    if operator == "not":
        return not values[0] if isinstance(values[0], bool) else UNKNOWN
    if operator in ("eq", "ne"):
        return (values[0] == values[1]) is (operator == "eq")
    if operator == "in" and isinstance(values[1], list):
        return values[0] in values[1]
    return UNKNOWN  # timestamp() of null, comparisons with it, anything else
