"""Folder shares, unshares and expiries in the fault suite's load mix (contract v2,
sharing), kept apart from tests/faults/load.py so that the mixes of several issues merge
without conflicts. ``ShareMix`` adds to a Plan, the checker (tests/faults/checker.py)
reads the end state through ``ShareState``.

What it sends, each on a (folder, user) pair of its own (folders made for it in the
setup by ``plan.users[0]``, who shares; the users are the plan's members):

- ``fshare`` (load): ``folder.share``, half of them with an ``expires_at`` a week ahead
  (none expires during a run); its effect: the folder_shares row with its role;
- ``funshare`` (load): ``folder.unshare`` of a share the setup made (``fshare_setup``);
  its effect: no row for the pair;
- ``fexpiring`` (setup, answered, the last batch): ``folder.share`` expiring a few seconds
  into the load, so that the expiry sweeper removes it while workers are killed; its
  effects: the share (its event), then the expiry: the row gone and exactly one
  ``folder.share.expired`` event.

Effect keys, one per command, and the keys the checker derives from events:
``fshare:<folder>|<user>`` (FolderShared), ``funshare:<folder>|<user>`` (FolderUnshared),
``fexpire:<folder>|<user>`` (FolderShareExpired). A second event_id for one key is a
doubled effect (no share, unshare or expiry here publishes twice for its pair).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from tests.faults.load import SHARE_USERS, Command, Plan

SETUP_KIND = "fshare_setup"
EXPIRING = "fexpiring"
KINDS = ("fshare", "funshare", SETUP_KIND, EXPIRING)
SHARES = ("fshare", SETUP_KIND, EXPIRING)  # whose event is FolderShared
LATE = timedelta(seconds=10)  # the contract: an expiry is published within 10 s


def key(kind: str, folder: str, user: str) -> str:
    return f"{kind}:{folder}|{user}"


def default_count(plan_shares: int) -> int:
    """Commands of each kind (load shares, unshares, expiring shares): a quarter of the
    document shares."""
    return max(1, plan_shares // 4)


@dataclass
class ShareMix:
    """The folder share commands of one plan: its setup and load get them at once; the
    expiring ones only at setup time (``expiring``), as their expires_at is relative to
    that moment."""

    plan: Plan
    count: int
    folders: list[str] = field(default_factory=list)
    pairs: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        plan, users = self.plan, self.plan.users[1 : SHARE_USERS + 1]
        n = math.ceil(3 * self.count / len(users))
        self.folders = [f"sf{i}-{plan.run}" for i in range(n)]
        plan.setup += [self._folder(folder) for folder in self.folders]
        self.pairs = [(f, u) for f in self.folders for u in users][: 3 * self.count]
        far = (datetime.now().astimezone() + timedelta(days=7)).isoformat()
        load = [self._share("fshare", f, u, far if i % 2 else None)
                for i, (f, u) in enumerate(self.pairs[: self.count])]
        unshared = self.pairs[self.count : 2 * self.count]
        plan.setup += [self._share(SETUP_KIND, f, u, None) for f, u in unshared]
        load += [self._unshare(f, u) for f, u in unshared]
        plan.load += load
        plan.rng.shuffle(plan.load)

    def expiring(self, until: datetime) -> list[Command]:
        """The expiring shares (until ``until``), added to the plan's setup."""
        made = [self._share(EXPIRING, f, u, until.isoformat())
                for f, u in self.pairs[2 * self.count :]]
        self.plan.setup += made
        return made

    def _folder(self, folder: str) -> Command:
        body = {"folder_id": folder, "org_id": self.plan.org, "parent_id": None,
                "name": folder, "actor_id": self.plan.users[0]}
        return Command(self.plan.message_id("sf"), "folder.create", body, "folder",
                       f"folder:{folder}")

    def _share(self, kind: str, folder: str, user: str, until: str | None) -> Command:
        body: dict[str, Any] = {
            "folder_id": folder, "shared_by": self.plan.users[0], "shared_with": user,
            "role": self.plan.rng.choice(["viewer", "editor"]),
        }
        if until is not None:
            body["expires_at"] = until
        return Command(self.plan.message_id("fs"), "folder.share", body, kind,
                       key("fshare", folder, user))

    def _unshare(self, folder: str, user: str) -> Command:
        body = {"folder_id": folder, "revoked_by": self.plan.users[0], "user_id": user}
        return Command(self.plan.message_id("fu"), "folder.unshare", body, "funshare",
                       key("funshare", folder, user))


def event_key(body: Mapping[str, Any]) -> str | None:
    """The effect key a folder share event reports; None for other events."""
    kind = body.get("type")
    if kind == "FolderShared":
        return key("fshare", body["folder_id"], body["shared_with"])
    if kind == "FolderUnshared":
        return key("funshare", body["folder_id"], body["user_id"])
    if kind == "FolderShareExpired":
        return key("fexpire", body["folder_id"], body["user_id"])
    return None


def pair(cmd: Command) -> tuple[str, str]:
    return cmd.body["folder_id"], cmd.body.get("shared_with") or cmd.body["user_id"]


@dataclass
class ShareState:
    """The folder shares in the database at the end, and which pairs' events the audit
    log has (an unshare or an expiry removed the row it holds)."""

    rows: dict[tuple[str, str], str] = field(default_factory=dict)  # pair -> role
    late: set[tuple[str, str]] = field(default_factory=set)  # stored past expiry + 10 s
    audited: set[str] = field(default_factory=set)  # effect keys with an audit event

    @classmethod
    async def read(cls, conn: asyncpg.Connection[asyncpg.Record],
                   audit_keys: Iterable[str]) -> ShareState:
        state = cls(audited=set(audit_keys))
        for row in await conn.fetch(
            "SELECT folder_id, user_id, role, expires_at < now() - $1::interval AS late"
            " FROM folder_shares", LATE,
        ):
            state.rows[(row["folder_id"], row["user_id"])] = row["role"]
            if row["late"]:
                state.late.add((row["folder_id"], row["user_id"]))
        return state

    def holds(self, cmd: Command) -> bool | None:
        """Whether a folder share command's effect is there (None: not one of ours)."""
        if cmd.kind not in KINDS:
            return None
        at = pair(cmd)
        if cmd.kind == "funshare":
            return at not in self.rows
        if self.rows.get(at) == cmd.body["role"]:
            return True
        if cmd.kind == "fshare":
            return False
        # gone since (unshared, or expired): its event, or its removal's, shows it was made
        gone_by = "funshare" if cmd.kind == SETUP_KIND else "fexpire"
        return bool({key("fshare", *at), key(gone_by, *at)} & self.audited)

    def expiries(self, committed: Iterable[Command]) -> set[str]:
        """The expiry keys whose event must be in the audit log: one per expiring share
        that took effect."""
        return {key("fexpire", *pair(c)) for c in committed if c.kind == EXPIRING}

    def unswept(self) -> list[str]:
        """Expired grants still stored more than 10 s past their expiry (lost expiries)."""
        return [key("fexpire", *at) for at in sorted(self.late)]


def doubled(events: Mapping[str, set[str]]) -> dict[str, int]:
    """Folder share keys with more than one event_id: each pair belongs to one command
    (or one expiry), which then took effect twice."""
    heads = ("fshare:", "funshare:", "fexpire:")
    return {k: len(ids) for k, ids in events.items() if k.startswith(heads) and len(ids) > 1}


# Grants expired and not swept yet, or about to expire (the load's "fexpiring" ones, a
# few seconds in): a short scenario ("twice") can settle before they expire at all, and
# its check would then miss their expiry events. The week-ahead ones are not waited for.
UNSWEPT_SQL = "SELECT count(*) FROM folder_shares WHERE expires_at < now() + interval '1 hour'"
"""Grants past their expiry the sweeper has not removed yet (a drain waits for none)."""
