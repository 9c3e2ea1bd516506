"""What the checker knows of lifecycle commands (``tests.faults.life``): the key of each
lifecycle event, the state that shows a command's effect, and what a purge takes along.

Rules:
- an effect holds when the end state shows it: a rename, the target's name; a move, its
  folder (parent); a trash, ``trashed_at`` set; a restore, the target live again (a
  folder with the document inside it); a purge, the target gone, every version and
  share of a purged document gone too (a folder's: its document as well);
- a trash made in the setup holds if the target is in the trash, or if the restore or
  purge that followed it holds;
- an upload or a folder create holds if a purge that holds took its row away;
- a rename, move, trash, restore or purge leaves nothing but its event to count, so the
  audit log is where a doubled one shows: more than one event_id for one key (each key
  belongs to one command) is a duplicate effect.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from tests.faults.life import DOC_OPS, OPS
from tests.faults.load import Command

EVENT_KEYS = {
    "DocumentRenamed": ("drename", "document_id", "name"),
    "DocumentMoved": ("dmove", "document_id", "to_folder_id"),
    "DocumentTrashed": ("dtrash", "document_id", None),
    "DocumentRestored": ("drestore", "document_id", None),
    "DocumentPurged": ("dpurge", "document_id", None),
    "FolderRenamed": ("frename", "folder_id", "name"),
    "FolderMoved": ("fmove", "folder_id", "to_parent_id"),
    "FolderTrashed": ("ftrash", "folder_id", None),
    "FolderRestored": ("frestore", "folder_id", None),
    "FolderPurged": ("fpurge", "folder_id", None),
}


def life_event_key(body: dict[str, Any]) -> str | None:
    """The effect key of a lifecycle event (None: not a lifecycle event)."""
    spec = EVENT_KEYS.get(str(body.get("type")))
    if spec is None:
        return None
    op, target, to = spec
    return f"{op}:{body[target]}" + ("" if to is None else f"|{body[to]}")


def is_life(key: str) -> bool:
    return key.split(":", 1)[0] in OPS


def doubled_life(events: Mapping[str, set[str]]) -> dict[str, int]:
    """Lifecycle keys with more than one event_id (``events``: event_ids by key), and how
    many: each key belongs to one command, so each is a command that took effect twice."""
    return {key: len(ids) for key, ids in events.items() if is_life(key) and len(ids) > 1}


@dataclass
class LifeState:
    """The end state of documents and folders, as the lifecycle checks need it."""

    docs: dict[str, tuple[str, str, bool]] = field(default_factory=dict)  # folder, name, trashed
    folders: dict[str, tuple[str | None, str, bool]] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    shares: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    purged_docs: set[str] = field(default_factory=set)  # by a purge that holds
    purged_folders: set[str] = field(default_factory=set)
    followed: set[str] = field(default_factory=set)  # targets restored or purged after

    @classmethod
    async def read(cls, conn: asyncpg.Connection[asyncpg.Record]) -> LifeState:
        state = cls()
        for row in await conn.fetch(
            "SELECT doc_id, folder_id, name, trashed_at IS NOT NULL AS t FROM documents"
        ):
            state.docs[row["doc_id"]] = (row["folder_id"], row["name"], row["t"])
        for row in await conn.fetch(
            "SELECT folder_id, parent_id, name, trashed_at IS NOT NULL AS t FROM folders"
        ):
            state.folders[row["folder_id"]] = (row["parent_id"], row["name"], row["t"])
        for row in await conn.fetch("SELECT doc_id, count(*) AS n FROM document_versions"
                                    " GROUP BY doc_id"):
            state.versions[row["doc_id"]] = row["n"]
        for row in await conn.fetch("SELECT doc_id, count(*) AS n FROM shares GROUP BY doc_id"):
            state.shares[row["doc_id"]] = row["n"]
        return state

    def settle(self, commands: list[Command]) -> None:
        """Which purges, restores and purges hold (the setup's trashes depend on them)."""
        inside = {c.body["doc_id"]: c.body["folder_id"] for c in commands if c.kind == "upload"}
        for cmd in commands:
            if cmd.kind in ("dpurge", "fpurge", "drestore", "frestore") and self.holds(cmd):
                self.followed.add(_target(cmd))
            if cmd.kind == "dpurge" and self.holds(cmd):
                self.purged_docs.add(_target(cmd))
            if cmd.kind == "fpurge" and self.holds(cmd):
                self.purged_folders.add(_target(cmd))
        self.purged_docs |= {d for d, f in inside.items() if f in self.purged_folders}

    def _doc_gone(self, doc: str) -> bool:
        return doc not in self.docs and not self.versions.get(doc) and not self.shares.get(doc)

    def holds(self, cmd: Command) -> bool:
        """Whether the end state shows the lifecycle command's effect."""
        target, kind = _target(cmd), cmd.kind
        doc = self.docs.get(target)
        folder = self.folders.get(target)
        if kind == "drename":
            return doc is not None and doc[1] == cmd.body["name"]
        if kind == "dmove":
            return doc is not None and doc[0] == cmd.body["folder_id"]
        if kind == "dtrash":
            return (doc is not None and doc[2]) or target in self.followed
        if kind == "drestore":
            return doc is not None and not doc[2]
        if kind == "dpurge":
            return self._doc_gone(target)
        if kind == "frename":
            return folder is not None and folder[1] == cmd.body["name"]
        if kind == "fmove":
            return folder is not None and folder[0] == cmd.body["parent_id"]
        if kind == "ftrash":
            return (folder is not None and folder[2]) or target in self.followed
        if kind == "frestore":
            inner = self.docs.get(f"{target}-d")
            return folder is not None and not folder[2] and inner is not None and not inner[2]
        inner_gone = self._doc_gone(f"{target}-d")
        return folder is None and inner_gone  # fpurge


def _target(cmd: Command) -> str:
    return str(cmd.body["doc_id"] if cmd.kind in DOC_OPS else cmd.body["folder_id"])


def implied_purges(commands: list[Command], state: LifeState) -> set[str]:
    """``dpurge`` keys of the documents that purged folders took along (one event each)."""
    inside = {c.body["doc_id"]: c.body["folder_id"] for c in commands if c.kind == "upload"}
    return {f"dpurge:{d}" for d, f in inside.items() if f in state.purged_folders}
