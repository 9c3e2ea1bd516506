"""Which documents a reader may read, as SQL: one seam for every listing (folder.list now,
document.search next), so that no listing ever checks documents one by one.

A ``ReadableFilter`` (core.decisions) is decided once per listing by the access decider:
``all``, ``none``, ``own_share`` (the built-in rule: a live document share of the reader)
or ``plan``: a policy decision point's query plan (Cerbos PlanResources) whose residual
condition is over the reader's document share. The plan is translated by the
``cerbos-sqlalchemy`` package into a condition on ``reader_share``, a lateral row that
holds that share (``doc_role`` '' when none, ``doc_expires_at``), and compiled for
asyncpg with its values as numbered parameters after the caller's own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cerbos.response.v1 import response_pb2
from cerbos_sqlalchemy import get_query
from google.protobuf.json_format import ParseDict
from sqlalchemy import DateTime, String, column, table
from sqlalchemy.dialects.postgresql import asyncpg as pg_asyncpg

from adapters.postgres.tree_sql import LIVE_SHARE
from core.decisions import ReadableFilter

# The reader's share on document ``d``: one row whether or not there is one (an aggregate).
READER_SHARE = (
    " CROSS JOIN LATERAL (SELECT coalesce(max(s.role), '') AS doc_role,"
    " max(s.expires_at) AS doc_expires_at FROM shares s"
    " WHERE s.doc_id = d.doc_id AND s.user_id = ${reader}) reader_share"
)
_SHARE = table(
    "reader_share", column("doc_role", String), column("doc_expires_at", DateTime(timezone=True))
)
_ATTRIBUTES = {
    "request.resource.attr.doc_role": _SHARE.c.doc_role,
    "request.resource.attr.doc_expires_at": _SHARE.c.doc_expires_at,
}
_DIALECT = pg_asyncpg.dialect(paramstyle="numeric_dollar")  # type: ignore[no-untyped-call]
_PLACEHOLDER = re.compile(r"\$(\d+)")


@dataclass(frozen=True, slots=True)
class ReadableSql:
    """``joins`` go after ``FROM documents d``; ``where`` is a condition; ``args`` are the
    values of the parameters the condition numbers from ``first``."""

    joins: str
    where: str
    args: tuple[object, ...]


def readable_sql(readable: ReadableFilter, *, reader: int, first: int) -> ReadableSql:
    """The filter over documents ``d``; ``$reader`` holds the reader's user_id, and the
    plan's own values are numbered ``$first``, ``$first + 1``, ..."""
    if readable.kind == "all":
        return ReadableSql("", "true", ())
    if readable.kind == "none":
        return ReadableSql("", "false", ())
    if readable.kind == "own_share":
        return ReadableSql("", (
            f"EXISTS (SELECT 1 FROM shares s WHERE s.doc_id = d.doc_id AND s.user_id = ${reader}"  # noqa: S608 - placeholders only
            f" AND {LIVE_SHARE})"
        ), ())
    where, args = _plan_sql(readable.condition, first)
    return ReadableSql(READER_SHARE.replace("{reader}", str(reader)), where, args)


def _plan_sql(condition: dict[str, object], first: int) -> tuple[str, tuple[object, ...]]:
    plan = ParseDict(
        {"filter": {"kind": "KIND_CONDITIONAL", "condition": condition}},
        response_pb2.PlanResourcesResponse(),
    )
    clause = get_query(plan, _SHARE, _ATTRIBUTES).whereclause
    if clause is None:  # a conditional plan always has a condition
        raise ValueError("a conditional plan without a condition")
    compiled = clause.compile(dialect=_DIALECT)
    names = compiled.positiontup or []
    args = tuple(compiled.params[name] for name in names)
    sql = _PLACEHOLDER.sub(lambda m: f"${int(m.group(1)) + first - 1}", compiled.string)
    return sql, args
