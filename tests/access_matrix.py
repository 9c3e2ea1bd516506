"""The cross-tenant / broken-object-level-authorization matrix (issue 11, item 6): every
message type of contract v1 and v2, each sent by every kind of actor, with the answer the
contract gives that actor. Run on PostgreSQL with the real cache
(tests/integration/test_access_matrix.py) and, for a representative subset, through a
real worker (tests/e2e/test_access_matrix.py).

Each case acts on a *site* of its own, built by its owner (alice) in one org:

    R (folder, alice)            vera: viewer share on R; exa: owner share on R, expired
    └── S (folder, alice)
        └── D (document, alice)  bob: editor share; carol: viewer share; exa: owner, expired

and a move target T (a root folder of the org). The actors:

| actor | on D | on R and S |
| --- | --- | --- |
| admin (ada, org admin) | owner | owner |
| owner (alice, creator) | owner | owner |
| editor (bob) | editor | nothing |
| viewer (carol) | viewer | nothing |
| inherited (vera) | viewer, from R | viewer |
| expired (exa) | nothing: both owner grants expired (not yet swept) | nothing |
| nonmember (nobody, member of no org) | nothing | nothing |
| other_org (mallory, admin of another org) | nothing | nothing |

The expected answer follows contract v2, section 1: whoever cannot read a document gets
``not_found``; a member lacking a capability on a folder gets ``forbidden``; a non-member
gets ``not_found`` for anything of the org; "needs: member" queries answer members.
``forbidden`` is expected only where the actor may read the thing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from docbus.consumers.topology import ROUTES
from docbus.core.values import Capability, Role

Body = dict[str, Any]
Send = Callable[[str, Body], Awaitable[Any]]
"""Sends a message and returns the data of its reply (asserting ``ok``)."""

ACTORS = ("admin", "owner", "editor", "viewer", "inherited", "expired", "nonmember",
          "other_org")
USER = {"admin": "ada", "owner": "alice", "editor": "bob", "viewer": "carol",
        "inherited": "vera", "expired": "exa", "nonmember": "nobody", "other_org": "mallory"}
MEMBERS = frozenset(ACTORS) - {"nonmember", "other_org"}
ON_DOCUMENT: dict[str, Role | None] = {
    "admin": Role.OWNER, "owner": Role.OWNER, "editor": Role.EDITOR, "viewer": Role.VIEWER,
    "inherited": Role.VIEWER, "expired": None, "nonmember": None, "other_org": None,
}
ON_FOLDER: dict[str, Role | None] = {
    "admin": Role.OWNER, "owner": Role.OWNER, "editor": None, "viewer": None,
    "inherited": Role.VIEWER, "expired": None, "nonmember": None, "other_org": None,
}
OK = "ok"

SNAPSHOT = """  -- every row of the org(s) under a prefix; $1: the prefix with %
SELECT 'membership', row_to_json(m)::text FROM memberships m WHERE org_id LIKE $1
UNION ALL SELECT 'folder', row_to_json(f)::text FROM folders f WHERE folder_id LIKE $1
UNION ALL SELECT 'document', row_to_json(d)::text FROM documents d WHERE doc_id LIKE $1
UNION ALL SELECT 'version', row_to_json(v)::text FROM document_versions v WHERE doc_id LIKE $1
UNION ALL SELECT 'share', row_to_json(s)::text FROM shares s WHERE doc_id LIKE $1
UNION ALL SELECT 'folder_share', row_to_json(s)::text FROM folder_shares s
    WHERE folder_id LIKE $1
ORDER BY 1, 2
"""


CAPABILITIES = {  # contract v1's table, written out here (not the implementation's)
    None: set(), Role.VIEWER: {Capability.READ},
    Role.EDITOR: {Capability.READ, Capability.WRITE},
    Role.OWNER: {Capability.READ, Capability.WRITE, Capability.SHARE},
}


def can(role: Role | None, capability: Capability) -> bool:
    return capability in CAPABILITIES[role]


def on_document(capability: Capability) -> Callable[[str], str]:
    def expect(actor: str) -> str:
        role = ON_DOCUMENT[actor]
        if actor in MEMBERS and can(role, capability):
            return OK
        return "forbidden" if actor in MEMBERS and can(role, Capability.READ) else "not_found"
    return expect


def on_folder(capability: Capability) -> Callable[[str], str]:
    def expect(actor: str) -> str:
        if actor not in MEMBERS:
            return "not_found"
        return OK if can(ON_FOLDER[actor], capability) else "forbidden"
    return expect


def member(actor: str) -> str:
    return OK if actor in MEMBERS else "not_found"


@dataclass(frozen=True)
class Site:
    """One case's objects; ids carry the case's prefix."""

    prefix: str
    org: str
    other_org: str
    target: str
    users: dict[str, str]

    @property
    def root(self) -> str:
        return f"{self.prefix}R"

    @property
    def sub(self) -> str:
        return f"{self.prefix}S"

    @property
    def doc(self) -> str:
        return f"{self.prefix}D"

    def user(self, actor: str) -> str:
        return self.users[actor]


def upload(site: Site, doc_id: str, by: str, name: str = "plan.pdf") -> Body:
    return {"doc_id": doc_id, "org_id": site.org, "folder_id": site.sub, "owner_id": by,
            "name": name, "mime_type": "application/pdf",
            "blob_uri": f"s3://b/{doc_id}/{name}", "tags": ["q3"]}


async def build_base(send: Send, site: Site) -> None:
    """R, S and D by alice; bob editor and carol viewer on D; vera viewer on R."""
    alice = site.user("owner")
    await send("folder.create", {"folder_id": site.root, "org_id": site.org,
                                 "parent_id": None, "name": site.root, "actor_id": alice})
    await send("folder.create", {"folder_id": site.sub, "org_id": site.org,
                                 "parent_id": site.root, "name": site.sub, "actor_id": alice})
    await send("document.upload", upload(site, site.doc, alice))
    for actor, role in (("editor", "editor"), ("viewer", "viewer")):
        await send("document.share", {"doc_id": site.doc, "shared_by": alice,
                                      "shared_with": site.user(actor), "role": role})
    await send("folder.share", {"folder_id": site.root, "shared_by": alice,
                                "shared_with": site.user("inherited"), "role": "viewer"})


async def build_expiring(send: Send, site: Site, until: datetime) -> None:
    """exa: owner on D and on R, until ``until``."""
    alice, exa, at = site.user("owner"), site.user("expired"), until.isoformat()
    await send("document.share", {"doc_id": site.doc, "shared_by": alice,
                                  "shared_with": exa, "role": "owner", "expires_at": at})
    await send("folder.share", {"folder_id": site.root, "shared_by": alice,
                                "shared_with": exa, "role": "owner", "expires_at": at})


async def build_extras(send: Send, site: Site, steps: tuple[str, ...]) -> None:
    alice = site.user("owner")
    for step in steps:
        if step == "second_version":
            await send("document.upload", upload(site, site.doc, alice, "v2.pdf"))
        elif step == "trash_doc":
            await send("document.trash", {"doc_id": site.doc, "user_id": alice})
        elif step == "trash_folder":
            await send("folder.trash", {"folder_id": site.sub, "user_id": alice})


def members(site: Site) -> list[tuple[str, str, str]]:
    """(org, user, role) of every actor who is a member somewhere, and dave."""
    rows = [(site.org, site.users["dave"], "member")]
    for actor, user in site.users.items():
        if actor in MEMBERS:
            rows.append((site.org, user, "admin" if actor == "admin" else "member"))
    return [*rows, (site.other_org, site.user("other_org"), "admin")]


@dataclass(frozen=True)
class Spec:
    """One message type (or one variant of it) in the matrix."""

    routing_key: str
    variant: str
    body: Callable[[Site, str], Body]
    expect: Callable[[str], str]
    ghost: str | None
    """The field naming the object a denial must not reveal: the same message about an
    object that does not exist must get the same answer. None: no such object."""
    setup: tuple[str, ...] = ()
    """Extra steps before the case: ``trash_doc``, ``trash_folder``, ``second_version``."""
    query: bool = False
    shows: Callable[[Site, str, Body], None] | None = field(default=None, compare=False)
    """For an allowed query: what the answer may show this actor (reveals nothing more)."""

    @property
    def name(self) -> str:
        return self.routing_key + (f"[{self.variant}]" if self.variant else "")


def listed_documents(site: Site, actor: str, data: Body) -> None:
    ids = [d["doc_id"] for d in data["documents"]]
    readable = can(ON_DOCUMENT[actor], Capability.READ)
    assert ids == ([site.doc] if readable else []), (actor, ids)


def listed_children(site: Site, actor: str, data: Body) -> None:
    assert [f["folder_id"] for f in data["folders"]] == [site.sub], data


def listed_trash(site: Site, actor: str, data: Body) -> None:
    mine = [i["document"]["doc_id"] for i in data["items"]
            if i["kind"] == "document" and i["document"]["doc_id"].startswith(site.prefix)]
    may_restore = can(ON_DOCUMENT[actor], Capability.SHARE)
    assert mine == ([site.doc] if may_restore else []), (actor, mine)


def listed_shared(site: Site, actor: str, data: Body) -> None:
    """Org-wide: every site gave the same grants, so the kinds listed say it all."""
    kinds = {i["kind"] for i in data["items"]}
    expected = {"editor": {"document"}, "viewer": {"document"}, "inherited": {"folder"}}
    assert kinds == expected.get(actor, set()), (actor, data["items"])
    assert all(i["expires_at"] is None for i in data["items"])  # never an expired grant


def explained(site: Site, actor: str, data: Body) -> None:
    assert data["role"] == ON_DOCUMENT[actor].value  # type: ignore[union-attr]


def got(site: Site, actor: str, data: Body) -> None:
    assert data["doc_id"] == site.doc


def d(site: Site, actor: str, **more: Any) -> Body:
    return {"doc_id": site.doc, "user_id": site.user(actor), **more}


def f(site: Site, actor: str, **more: Any) -> Body:
    return {"folder_id": site.sub, "user_id": site.user(actor), **more}


READ, WRITE, SHARE = Capability.READ, Capability.WRITE, Capability.SHARE

SPECS: tuple[Spec, ...] = (
    # v1
    Spec("folder.create", "", lambda s, a: {
        "folder_id": f"{s.prefix}new", "org_id": s.org, "parent_id": s.sub, "name": "new",
        "actor_id": s.user(a)}, member, "parent_id"),
    Spec("document.upload", "new document", lambda s, a: upload(s, f"{s.prefix}N", s.user(a)),
         member, "folder_id"),
    Spec("document.upload", "next version", lambda s, a: upload(s, s.doc, s.user(a), "v2.pdf"),
         on_document(WRITE), None),
    Spec("document.share", "", lambda s, a: {
        "doc_id": s.doc, "shared_by": s.user(a), "shared_with": s.users["dave"],
        "role": "viewer"}, on_document(SHARE), "doc_id"),
    Spec("document.unshare", "", lambda s, a: {
        "doc_id": s.doc, "revoked_by": s.user(a), "user_id": s.user("viewer")},
         on_document(SHARE), "doc_id"),
    Spec("document.get", "", d, on_document(READ), "doc_id", query=True, shows=got),
    Spec("folder.list", "", f, member, "folder_id", query=True, shows=listed_documents),
    # v2: lives of documents and folders
    Spec("document.rename", "", lambda s, a: d(s, a, name="renamed.pdf"), on_document(WRITE),
         "doc_id"),
    Spec("document.move", "", lambda s, a: d(s, a, folder_id=s.target), on_document(WRITE),
         "doc_id"),
    Spec("document.revert", "", lambda s, a: d(s, a, version=1), on_document(WRITE), "doc_id",
         setup=("second_version",)),
    Spec("document.trash", "", d, on_document(SHARE), "doc_id"),
    Spec("document.restore", "", d, on_document(SHARE), "doc_id", setup=("trash_doc",)),
    Spec("document.purge", "", d, on_document(SHARE), "doc_id", setup=("trash_doc",)),
    Spec("folder.rename", "", lambda s, a: f(s, a, name="renamed"), on_folder(WRITE),
         "folder_id"),
    Spec("folder.move", "", lambda s, a: f(s, a, parent_id=s.target), on_folder(WRITE),
         "folder_id"),
    Spec("folder.trash", "", f, on_folder(SHARE), "folder_id"),
    Spec("folder.restore", "", f, on_folder(SHARE), "folder_id", setup=("trash_folder",)),
    Spec("folder.purge", "", f, on_folder(SHARE), "folder_id", setup=("trash_folder",)),
    Spec("folder.children", "", lambda s, a: {
        "org_id": s.org, "folder_id": s.root, "user_id": s.user(a)}, member, "org_id",
         query=True, shows=listed_children),
    Spec("trash.list", "", lambda s, a: {"org_id": s.org, "user_id": s.user(a), "limit": 500},
         member, "org_id", setup=("trash_doc",), query=True, shows=listed_trash),
    # v2: sharing
    Spec("folder.share", "", lambda s, a: {
        "folder_id": s.sub, "shared_by": s.user(a), "shared_with": s.users["dave"],
        "role": "viewer"}, on_folder(SHARE), "folder_id"),
    Spec("folder.unshare", "", lambda s, a: {
        "folder_id": s.root, "revoked_by": s.user(a), "user_id": s.user("inherited")},
         on_folder(SHARE), "folder_id"),
    Spec("document.shares", "", d, on_document(SHARE), "doc_id", query=True),
    Spec("access.explain", "self", d, on_document(READ), "doc_id", query=True,
         shows=explained),
    Spec("access.explain", "about another", lambda s, a: d(s, a, about=s.users["dave"]),
         on_document(SHARE), "doc_id", query=True),
    Spec("shared.with_me", "", lambda s, a: {"org_id": s.org, "user_id": s.user(a)}, member,
         "org_id", query=True, shows=listed_shared),
)

if any(route.routing_key == "document.search" for route in ROUTES):  # (search: its own branch)
    SPECS += (Spec("document.search", "", lambda s, a: {
        "org_id": s.org, "user_id": s.user(a), "folder_id": s.root}, member, "org_id",
        query=True, shows=listed_documents),)

MEMBERSHIP_ROUTES = ("org.member.set", "org.member.remove")
"""No actor in the body: who may send these is a broker permission (contract v1). The
matrix checks that they never cross organisations (a change in another org gives nothing
here) instead of an actor's answer."""


@dataclass(frozen=True)
class Case:
    spec: Spec
    actor: str

    @property
    def expected(self) -> str:
        return self.spec.expect(self.actor)

    @property
    def id(self) -> str:
        return f"{self.spec.name}-{self.actor}-{self.expected}"


CASES = tuple(Case(spec, actor) for spec in SPECS for actor in ACTORS)
ALLOWED = sum(case.expected == OK for case in CASES)
DENIED = len(CASES) - ALLOWED
