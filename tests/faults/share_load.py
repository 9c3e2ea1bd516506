"""Folder shares in the fault suite's load mix (contract v2, sharing), kept apart from
tests/faults/load.py so that the mixes of several issues merge without conflicts.

``folder_shares`` adds ``folder.share`` commands to a Plan's load: each a distinct
(folder, user) pair shared by the folders' creator, so that each changes something and
has exactly one event (``folder.shared.<role>``); half of them carry an ``expires_at``
far enough ahead that no grant expires during a run. The checker needs three lines to
count them (see ``present``, ``effects`` and ``event_key`` below): the effect is the
folder_shares row with the command's role, the event key is the same string.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from tests.faults.load import Command, Plan

KIND = "folder_share"


def folder_shares(plan: Plan, count: int, expire_after: float | None = None) -> list[Command]:
    """Up to ``count`` folder.share commands (distinct pairs), shuffled into plan.load;
    half carry an expires_at ``expire_after`` seconds from now (default: a week, so that
    none expires during a run; a short one makes the expiry sweeper work under the
    faults: check it with ``expiries``)."""
    ahead = timedelta(days=7) if expire_after is None else timedelta(seconds=expire_after)
    until = (datetime.now(UTC) + ahead).isoformat().replace("+00:00", "Z")
    pairs = [(f, u) for f in plan.folders for u in plan.users[1:]][:count]
    made = [_share(plan, folder, user, until if i % 2 else None)
            for i, (folder, user) in enumerate(pairs)]
    plan.load += made
    plan.rng.shuffle(plan.load)
    return made


def _share(plan: Plan, folder: str, user: str, until: str | None) -> Command:
    body: dict[str, Any] = {
        "folder_id": folder, "shared_by": plan.users[0], "shared_with": user,
        "role": plan.rng.choice(["viewer", "editor"]),
    }
    if until is not None:
        body["expires_at"] = until
    return Command(plan.message_id("fs"), "folder.share", body, KIND, effect(folder, user))


def effect(folder_id: str, user_id: str) -> str:
    return f"{KIND}:{folder_id}|{user_id}"


def event_key(body: dict[str, Any]) -> str | None:
    """The effect a FolderShared (or FolderShareExpired) event reports; None for others."""
    if body.get("type") == "FolderShared":
        return effect(body["folder_id"], body["shared_with"])
    if body.get("type") == "FolderShareExpired":
        return f"{KIND}_expired:{body['folder_id']}|{body['user_id']}"
    return None


async def expiries(conn: asyncpg.Connection, audit: list[dict[str, Any]]) -> dict[str, int]:
    """After a run whose expiring grants are all past: grants still stored past their
    expiry for more than 10 s (``late``), and expiries published more or less than once
    per expiring folder.share command that took effect (``wrong_count``)."""
    late = await conn.fetchval(
        "SELECT count(*) FROM folder_shares WHERE expires_at < now() - interval '10 seconds'"
    )
    seen: dict[str, int] = {}
    for body in audit:
        key = event_key(body)
        if key is not None and key.startswith(f"{KIND}_expired:"):
            seen[key] = seen.get(key, 0) + 1
    shared = {
        f"{KIND}_expired:{b['folder_id']}|{b['shared_with']}"
        for b in audit if b.get("type") == "FolderShared" and b["expires_at"]
    }
    wrong = len([key for key in shared if seen.get(key) != 1])
    return {"late": int(late), "wrong_count": wrong}


async def effects(conn: asyncpg.Connection) -> dict[str, str]:
    """effect -> role of every folder share in the database."""
    rows = await conn.fetch("SELECT folder_id, user_id, role FROM folder_shares")
    return {effect(r["folder_id"], r["user_id"]): r["role"] for r in rows}


def present(cmd: Command, shares: dict[str, str]) -> bool | None:
    """Whether a folder.share command's effect is there (None: not one of ours)."""
    if cmd.kind != KIND:
        return None
    return bool(shares.get(cmd.effect) == cmd.body["role"])
