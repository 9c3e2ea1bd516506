"""The fault suite's checker on folder shares, unshares and expiries (tests/faults/
checker.py with tests/faults/share_load.py), on a database of its own: the end state of a
correct run counts nothing; a lost share, unshare or expiry, a missing or doubled expiry
event, a doubled unshare are each counted where the suite judges them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import asyncpg
import orjson
import pytest
from sqlalchemy.engine import make_url

from tests.faults.checker import Result, check
from tests.faults.load import Command, Plan, Size
from tests.faults.share_load import EXPIRING, KINDS, SETUP_KIND, ShareMix, pair
from tests.fixtures.postgres import migrated_scratch_database

pytestmark = pytest.mark.integration
OK = orjson.dumps({"ok": True, "data": {}})


@pytest.fixture(scope="module")
async def checker_url() -> AsyncIterator[str]:
    async for url in migrated_scratch_database("docbus_checker"):
        yield url


@dataclass
class History:
    """A correct run's end state of the share mix, to be spoilt by each test."""

    commands: list[Command]
    folders: list[str]
    rows: dict[tuple[str, str], tuple[str, datetime | None]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)

    def event(self, kind: str, **body: Any) -> dict[str, Any]:
        made = {"event_id": uuid.uuid4().hex, "type": kind, "org_id": "o", **body,
                "occurred_at": datetime.now(UTC).isoformat()}
        self.events.append(made)
        return made

    def of(self, kind: str) -> Command:
        return next(c for c in self.commands if c.kind == kind)


def correct_run() -> History:
    plan = Plan("chk", Size(0, 16, lifecycle=0))
    mix = ShareMix(plan, 4)
    mix.expiring(datetime.now(UTC) + timedelta(seconds=5))
    mine = [c for c in plan.commands
            if c.kind in KINDS or (c.kind == "folder" and c.body["folder_id"] in mix.folders)]
    history = History(mine, mix.folders)
    for folder in mix.folders:
        history.event("FolderCreated", folder={"folder_id": folder})
    for cmd in mine:
        if cmd.kind == "folder":
            continue
        folder, user = pair(cmd)
        if cmd.kind == "funshare":
            history.event("FolderUnshared", folder_id=folder, user_id=user, revoked_by="u0")
            continue
        history.event("FolderShared", folder_id=folder, shared_with=user, shared_by="u0",
                      role=cmd.body["role"], expires_at=cmd.body.get("expires_at"), at="now")
        if cmd.kind == "fshare":
            history.rows[(folder, user)] = (cmd.body["role"], None)
        elif cmd.kind == EXPIRING:
            history.event("FolderShareExpired", folder_id=folder, user_id=user,
                          role=cmd.body["role"], expired_at=cmd.body["expires_at"])
    return history


async def judge(url: str, history: History) -> Result:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        # the audit log is append-only (a trigger); this database is the test's own
        await conn.execute("SET session_replication_role = replica")
        await conn.execute("TRUNCATE inbox, audit_log, folder_shares, folders CASCADE")
        await conn.execute("SET session_replication_role = DEFAULT")
        await conn.executemany(
            "INSERT INTO folders (folder_id, org_id, name, path) VALUES ($1, 'o', $1, $1)",
            [(f,) for f in history.folders])
        await conn.executemany(
            "INSERT INTO inbox (message_id, reply, scopes, sender) VALUES ($1, $2, '{}', '')",
            [(c.message_id, OK) for c in history.commands])
        await conn.executemany(
            "INSERT INTO folder_shares (folder_id, user_id, role, shared_by, shared_at,"
            " expires_at) VALUES ($1, $2, $3, 'u0', now(), $4)",
            [(f, u, role, until) for (f, u), (role, until) in history.rows.items()])
        await conn.executemany(
            "INSERT INTO audit_log (event_id, type, org_id, occurred_at, routing_key, body)"
            " VALUES ($1, $2, 'o', now(), 'k', $3::jsonb)",
            [(e["event_id"], e["type"], orjson.dumps(e).decode()) for e in history.events])
    finally:
        await conn.close()
    tap = [SimpleNamespace(body=orjson.dumps(e)) for e in history.events]
    confirmed = {c.message_id for c in history.commands}
    result = await check(Result("share"), url, history.commands, confirmed, {}, tap,  # type: ignore[arg-type]
                         [], {})
    result.judge()
    return result


async def test_a_correct_run_counts_nothing(checker_url: str) -> None:
    history = correct_run()
    result = await judge(checker_url, history)
    assert result.failures == [], result.notes
    # shares, unshares, the setup's shares, expiring shares; folders
    assert result.confirmed == 4 * 4 + len(history.folders)


async def test_a_missing_expiry_event_is_a_missing_audit_event(checker_url: str) -> None:
    history = correct_run()
    dropped = [e for e in history.events if e["type"] == "FolderShareExpired"][:2]
    history.events = [e for e in history.events if e not in dropped]
    result = await judge(checker_url, history)
    assert result.missing_audit == result.tap_missing == 2
    assert result.lost == 0


async def test_an_expiry_published_twice_is_a_doubled_effect(checker_url: str) -> None:
    history = correct_run()
    expired = next(e for e in history.events if e["type"] == "FolderShareExpired")
    history.event("FolderShareExpired", **{k: v for k, v in expired.items()
                                           if k not in ("event_id", "type", "occurred_at")})
    result = await judge(checker_url, history)
    assert result.duplicate_effects == 1 and result.duplicate_events == 2  # audit and tap
    assert result.missing_audit == result.lost == 0


async def test_a_grant_never_swept_is_a_lost_expiry(checker_url: str) -> None:
    history = correct_run()
    expiring = history.of(EXPIRING)
    folder, user = pair(expiring)
    history.events = [e for e in history.events if not (
        e["type"] == "FolderShareExpired" and (e["folder_id"], e["user_id"]) == (folder, user))]
    history.rows[(folder, user)] = (expiring.body["role"],
                                    datetime.now(UTC) - timedelta(seconds=20))
    result = await judge(checker_url, history)
    assert result.lost == 1 and result.missing_audit == 1
    assert any("expired grant still stored" in note for note in result.notes)


async def test_lost_shares_and_unshares_are_counted(checker_url: str) -> None:
    history = correct_run()
    share, unshare = history.of("fshare"), history.of("funshare")
    made = next(c for c in history.commands if c.kind == SETUP_KIND and pair(c) == pair(unshare))
    del history.rows[pair(share)]  # never made: no row, no event
    history.rows[pair(unshare)] = (made.body["role"], None)  # never taken away
    history.events = [e for e in history.events if (e["type"], e.get("folder_id"),
                      e.get("shared_with") or e.get("user_id")) not in (
                      ("FolderShared", *pair(share)), ("FolderUnshared", *pair(unshare)))]
    result = await judge(checker_url, history)
    assert result.lost == 2
    assert result.phantom == result.missing_audit == 0


async def test_an_unshare_that_took_effect_twice_is_counted(checker_url: str) -> None:
    history = correct_run()
    folder, user = pair(history.of("funshare"))
    history.event("FolderUnshared", folder_id=folder, user_id=user, revoked_by="u0")
    result = await judge(checker_url, history)
    assert result.duplicate_effects == 1
    assert result.lost == result.missing_audit == 0


async def test_a_setup_share_whose_unshare_was_lost_counts_once(checker_url: str) -> None:
    history = correct_run()
    setup = history.of(SETUP_KIND)
    history.rows[pair(setup)] = (setup.body["role"], None)
    history.events = [e for e in history.events if e["type"] != "FolderUnshared"
                      or (e["folder_id"], e["user_id"]) != pair(setup)]
    result = await judge(checker_url, history)
    assert result.lost == 1 and result.missing_audit == 0
