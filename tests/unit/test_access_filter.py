"""The listing filter in SQL (adapters/postgres/access_filter.py): a Cerbos query plan
over the reader's document share becomes the share-driven EXISTS when a reader without a
share could never pass it, and the general lateral form otherwise."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from docbus.adapters.postgres.access_filter import (
    EXPIRES_AT,
    ROLE,
    UNKNOWN,
    readable_sql,
    without_share,
)
from docbus.core.decisions import ReadableFilter

NOW = "2026-06-01T12:00:00Z"


def _op(operator: str, *operands: dict[str, Any]) -> dict[str, Any]:
    return {"expression": {"operator": operator, "operands": list(operands)}}


def _var(name: str) -> dict[str, Any]:
    return {"variable": name}


def _val(value: object) -> dict[str, Any]:
    return {"value": value}


def _live_role(role: str) -> dict[str, Any]:
    """The shape of docbus's policies' plans: a role, live at the instant of the plan."""
    live = _op("or", _op("eq", _var(EXPIRES_AT), _val(None)),
               _op("gt", _op("timestamp", _var(EXPIRES_AT)), _op("timestamp", _val(NOW))))
    return _op("and", _op("eq", _var(ROLE), _val(role)), live)


def test_a_plan_over_the_share_becomes_an_exists_on_the_readers_share() -> None:
    plan = _op("or", _live_role("viewer"), _live_role("owner"))
    assert without_share(plan) is False
    sql = readable_sql(ReadableFilter("plan", plan), reader=3, first=4)
    assert sql.joins == ""
    assert sql.where.startswith("EXISTS (SELECT 1 FROM shares s WHERE s.doc_id = d.doc_id"
                                " AND s.user_id = $3 AND (")
    assert "s.role = $4" in sql.where and "s.expires_at > $5" in sql.where
    at = datetime(2026, 6, 1, 12, tzinfo=UTC)
    assert sql.args == ("viewer", at, "owner", at)


def test_a_plan_that_passes_readers_without_a_share_keeps_the_lateral_form() -> None:
    plan = _op("or", _op("eq", _var(ROLE), _val("")), _live_role("owner"))
    assert without_share(plan) is True
    sql = readable_sql(ReadableFilter("plan", plan), reader=3, first=7)
    assert "CROSS JOIN LATERAL" in sql.joins and "s.user_id = $3" in sql.joins
    assert "reader_share.doc_role = $7" in sql.where
    assert sql.args[0] == ""


def test_an_operator_it_cannot_judge_keeps_the_general_form() -> None:
    plan = _op("gt", _op("timestamp", _var(EXPIRES_AT)), _op("timestamp", _val(NOW)))
    assert without_share(plan) is UNKNOWN
    assert "LATERAL" in readable_sql(ReadableFilter("plan", plan), reader=3, first=4).joins


def test_the_built_in_filters_need_no_plan() -> None:
    assert readable_sql(ReadableFilter("all"), reader=3, first=4).where == "true"
    assert readable_sql(ReadableFilter("none"), reader=3, first=4).where == "false"
    own = readable_sql(ReadableFilter("own_share"), reader=3, first=4)
    assert "s.user_id = $3" in own.where and own.args == ()
