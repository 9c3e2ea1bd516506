"""The state every fuzzed message runs against: two organisations whose memberships
never change during a run (so the existence-leak oracle knows who is a stranger where),
a churn organisation for generated membership commands, folders, documents, a share,
and a cursor that docbus issued."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.fuzz.harness import Harness


@dataclass(frozen=True)
class IssuedCursor:
    folder_id: str
    user_id: str
    limit: int
    token: str


@dataclass(frozen=True)
class World:
    tag: str
    members: dict[str, dict[str, str]]
    """org -> user -> role, for the fixed orgs (generated commands never change them)."""
    churn_org: str
    folders: dict[str, str]
    """folder_id -> org_id"""
    docs: dict[str, str]
    """doc_id -> org_id"""
    users: tuple[str, ...]
    cursor: IssuedCursor

    def id(self, name: str) -> str:
        return f"{name}-{self.tag}"

    @property
    def orgs(self) -> tuple[str, ...]:
        return (*self.members, self.churn_org)

    def stranger(self, user_id: str, org_id: str) -> bool:
        """True if ``user_id`` is known not to be a member of the fixed org ``org_id``."""
        return org_id in self.members and user_id not in self.members[org_id]


MEMBERS = {"A": {"alice": "admin", "amy": "member"}, "B": {"bob": "admin", "bea": "member"}}
FOLDERS = (("fa", "A", None, "alice"), ("fa2", "A", "fa", "amy"), ("fb", "B", None, "bob"))
DOCS = (("da1", "fa", "A", "alice"), ("da2", "fa", "A", "alice"), ("da3", "fa2", "A", "amy"),
        ("db1", "fb", "B", "bob"))


async def build_world(harness: Harness) -> World:
    tag = uuid.uuid4().hex[:6]

    def i(name: str) -> str:
        return f"{name}-{tag}"

    async def ok(route: str, body: dict[str, Any]) -> dict[str, Any]:
        reply = await harness.request(route, body)
        assert reply["ok"], (route, body, reply)
        return reply["data"]  # type: ignore[no-any-return]

    for org, users in MEMBERS.items():
        for user, role in users.items():
            await ok("org.member.set", {"org_id": i(org), "user_id": i(user), "role": role})
    await ok("org.member.set", {"org_id": i("C"), "user_id": i("carl"), "role": "member"})
    for folder, org, parent, actor in FOLDERS:
        await ok("folder.create", {"folder_id": i(folder), "org_id": i(org),
                                   "parent_id": i(parent) if parent else None,
                                   "name": folder, "actor_id": i(actor)})
    for doc, folder, org, owner in DOCS:
        await ok("document.upload", {"doc_id": i(doc), "org_id": i(org), "folder_id": i(folder),
                                     "owner_id": i(owner), "name": f"{doc}.pdf",
                                     "mime_type": "application/pdf", "blob_uri": f"s3://b/{doc}",
                                     "tags": ["seed"]})
    await ok("document.share", {"doc_id": i("da1"), "shared_by": i("alice"),
                                "shared_with": i("amy"), "role": "viewer"})
    page = await ok("folder.list", {"folder_id": i("fa"), "user_id": i("alice"), "limit": 1})
    assert page["next_cursor"], page
    return World(
        tag=tag,
        members={i(o): {i(u): r for u, r in us.items()} for o, us in MEMBERS.items()},
        churn_org=i("C"),
        folders={i(f): i(o) for f, o, _, _ in FOLDERS},
        docs={i(d): i(o) for d, _, o, _ in DOCS},
        users=tuple(i(u) for u in ("alice", "amy", "bob", "bea", "carl", "mallory")),
        cursor=IssuedCursor(i("fa"), i("alice"), 1, page["next_cursor"]),
    )


async def fresh_document(harness: Harness, world: World, org: str = "A", owner: str = "alice",
                         ) -> tuple[str, str]:
    """(folder_id, doc_id) of a new folder and document of ``org``, which no fuzzed message
    has touched yet (generated commands may trash, move or purge the world's own)."""
    folder, doc = f"f-{uuid.uuid4().hex[:10]}", f"d-{uuid.uuid4().hex[:10]}"
    made = await harness.request("folder.create", {
        "folder_id": folder, "org_id": world.id(org), "parent_id": None, "name": folder,
        "actor_id": world.id(owner)})
    assert made["ok"], made
    up = await harness.request("document.upload", {
        "doc_id": doc, "org_id": world.id(org), "folder_id": folder, "owner_id": world.id(owner),
        "name": "fresh.pdf", "mime_type": "application/pdf", "blob_uri": "s3://b/fresh",
        "tags": []})
    assert up["ok"], up
    world.folders[folder] = world.docs[doc] = world.id(org)  # known to the existence oracle
    return folder, doc
