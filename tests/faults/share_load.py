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


def folder_shares(plan: Plan, count: int) -> list[Command]:
    """Up to ``count`` folder.share commands (distinct pairs), shuffled into plan.load."""
    until = (datetime.now(UTC) + timedelta(days=7)).isoformat().replace("+00:00", "Z")
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
    """The effect a FolderShared event reports (None for other events)."""
    if body.get("type") != "FolderShared":
        return None
    return effect(body["folder_id"], body["shared_with"])


async def effects(conn: asyncpg.Connection) -> dict[str, str]:
    """effect -> role of every folder share in the database."""
    rows = await conn.fetch("SELECT folder_id, user_id, role FROM folder_shares")
    return {effect(r["folder_id"], r["user_id"]): r["role"] for r in rows}


def present(cmd: Command, shares: dict[str, str]) -> bool | None:
    """Whether a folder.share command's effect is there (None: not one of ours)."""
    if cmd.kind != KIND:
        return None
    return bool(shares.get(cmd.effect) == cmd.body["role"])
