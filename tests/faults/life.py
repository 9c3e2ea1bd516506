"""The lifecycle part of the fault suite's load: renames, moves, trashes, restores and
purges of documents and folders (contract v2).

The load is published in bulk, concurrently, so no command of it may depend on another
command of it. Rules:

- every lifecycle command has a target of its own, made in the setup (answered): a
  document uploaded by ``OWNER`` into one of the plan's upload folders, or a root folder
  of its own with one document inside (its subtree);
- a restore or a purge needs its target in the trash: the setup trashes it (answered),
  so the load holds only the restore or the purge;
- targets are never shared, re-uploaded or uploaded into by the load (they are not in the
  plan's documents), and folder targets are never upload folders: no upload, share or
  other lifecycle command can be refused because of a lifecycle command;
- each command has one effect key of its own (``<op>:<id>`` or ``<op>:<id>|<to>``) that
  no other command has, and it is the key the checker derives from its event: so events
  counted per effect are events counted per message_id, and a doubled rename, move,
  trash, restore or purge shows as two event_ids for one key.

A folder purge also purges the document inside: its ``document.purged`` event is an
effect the plan expects (``implied``) although no command of its own asks for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DOC_OPS = ("drename", "dmove", "dtrash", "drestore", "dpurge")
FOLDER_OPS = ("frename", "fmove", "ftrash", "frestore", "fpurge")
OPS = DOC_OPS + FOLDER_OPS
NEEDS_TRASH = ("drestore", "dpurge", "frestore", "fpurge")
SETUP_KINDS = ("member", "folder", "upload", "dtrash", "ftrash")
"""The setup's batches, in order (each batch concurrent, answered before the next)."""

ROUTES = {
    "drename": "document.rename", "dmove": "document.move", "dtrash": "document.trash",
    "drestore": "document.restore", "dpurge": "document.purge",
    "frename": "folder.rename", "fmove": "folder.move", "ftrash": "folder.trash",
    "frestore": "folder.restore", "fpurge": "folder.purge",
}


@dataclass(frozen=True, slots=True)
class Op:
    """One lifecycle command to be: its kind, its target, where it goes (move, rename)."""

    kind: str
    target: str
    to: str | None = None

    @property
    def effect(self) -> str:
        return f"{self.kind}:{self.target}" + ("" if self.to is None else f"|{self.to}")

    def body(self, actor: str) -> dict[str, Any]:
        key = "doc_id" if self.kind in DOC_OPS else "folder_id"
        body: dict[str, Any] = {key: self.target, "user_id": actor}
        if self.kind.endswith("rename"):
            body["name"] = self.to
        elif self.kind == "dmove":
            body["folder_id"] = self.to
        elif self.kind == "fmove":
            body["parent_id"] = self.to
        return body


def counts(total: int) -> dict[str, int]:
    """``total`` commands spread over the ten kinds, as evenly as can be."""
    return {kind: total // len(OPS) + (1 if i < total % len(OPS) else 0)
            for i, kind in enumerate(OPS)}


@dataclass
class LifePlan:
    """The targets to set up and the lifecycle ops of the load; ``Plan`` turns them into
    ``Command``s (it owns the message_ids)."""

    run: str
    folders: list[str]  # the plan's upload folders: documents live and move there
    total: int
    ops: list[Op] = field(default_factory=list)
    target_folders: list[str] = field(default_factory=list)  # created in the setup
    target_docs: list[tuple[str, str]] = field(default_factory=list)  # (doc, folder)
    implied: dict[str, str] = field(default_factory=dict)  # effect -> the op's effect

    def __post_init__(self) -> None:
        for kind, n in counts(self.total).items():
            for i in range(n):
                self.ops.append(self._op(kind, i))

    def _op(self, kind: str, i: int) -> Op:
        name = f"l{kind}{i}-{self.run}"
        home = self.folders[i % len(self.folders)]
        if kind in DOC_OPS:
            self.target_docs.append((name, home))
            if kind == "drename":
                return Op(kind, name, f"{name}-renamed.pdf")
            if kind == "dmove":
                return Op(kind, name, self.folders[(i + 1) % len(self.folders)])
            return Op(kind, name)
        self.target_folders.append(name)
        self.target_docs.append((f"{name}-d", name))
        if kind == "fpurge":
            self.implied[f"dpurge:{name}-d"] = f"fpurge:{name}"
        if kind == "frename":
            return Op(kind, name, f"{name}-renamed")
        if kind == "fmove":
            return Op(kind, name, home)
        return Op(kind, name)

    def prep(self) -> list[Op]:
        """The trashes the setup makes, so that restores and purges find their target."""
        return [Op("dtrash" if op.kind in DOC_OPS else "ftrash", op.target)
                for op in self.ops if op.kind in NEEDS_TRASH]
