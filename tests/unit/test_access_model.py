"""Model-based test of the access rules on the in-memory adapters: random org trees,
memberships, document and folder shares with and without expiry, moves, trashes and
revokes; after each step (and as time passes, the reply cache in use), docbus's get,
listing, effective capabilities, access.explain and document.shares equal the reference
model's (tests/unit/access_reference.py).

A failing case prints the shrunk sequence of operations (hypothesis' falsifying example).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from docbus.adapters.memory import (
    FixedClock,
    InMemoryDatabase,
    InMemoryReplyCache,
    InMemoryUnitOfWorkFactory,
)
from docbus.adapters.memory_tree import InMemoryFolderTree
from docbus.core.cursor import CursorCodec
from docbus.core.entities import Content, Document, Folder, ShareGrant
from docbus.core.search import SearchFilter
from docbus.core.values import OrgRole, Role
from docbus.handlers.explain_access import (
    DocumentSharesHandler,
    ExplainAccess,
    ExplainAccessHandler,
    ListDocumentShares,
)
from docbus.handlers.get_document import GetDocument, GetDocumentHandler
from docbus.handlers.list_folder import ListFolder, ListFolderHandler
from docbus.handlers.search_documents import SearchDocuments, SearchDocumentsHandler
from tests.unit.access_reference import CAPABILITIES, Model

ORGS = ("acme", "globex")
USERS = ("u0", "u1", "u2", "boss", "stranger")
GRANTEES = ("u0", "u1", "u1", "u0", "u2", "stranger")  # members drawn more often
ROLES = ("viewer", "editor", "owner")
CONTENT = Content("a.pdf", "application/pdf", "s3://b/a", (), 1, None)
CHECKED = {"cases": 0}

index = st.integers(0, 7)
expiry = st.one_of(st.none(), st.integers(1, 3))
maybe_role = st.one_of(st.none(), st.sampled_from(ROLES))
operation = st.one_of(
    st.tuples(st.just("folder"), st.one_of(st.none(), index), st.sampled_from(ORGS)),
    st.tuples(st.just("doc"), index),
    st.tuples(st.just("member"), st.sampled_from(ORGS), st.sampled_from(USERS),
              st.sampled_from([None, "member", "admin"])),
    st.tuples(st.just("doc_share"), index, st.sampled_from(GRANTEES), maybe_role, expiry),
    st.tuples(st.just("folder_share"), index, st.sampled_from(GRANTEES), maybe_role, expiry),
    st.tuples(st.just("move"), index, st.one_of(st.none(), index)),
    st.tuples(st.just("move_doc"), index, index),
    st.tuples(st.just("trash_folder"), index, st.booleans()),
    st.tuples(st.just("trash_doc"), index, st.booleans()),
    st.tuples(st.just("tick"), st.integers(1, 2)),
)
# Grants are what the rules are about: drawn more often, and time passes after most steps.
step = st.tuples(
    st.one_of(
        operation,
        st.tuples(st.just("folder_share"), index, st.sampled_from(GRANTEES), maybe_role, expiry),
        st.tuples(st.just("doc_share"), index, st.sampled_from(GRANTEES), maybe_role, expiry),
    ),
    st.sampled_from([0, 1, 1, 2]),
)


class Run:
    """docbus on the in-memory adapters beside the model, driven by the same operations."""

    def __init__(self) -> None:
        self.clock = FixedClock()
        self.start = self.clock.now()
        self.db = InMemoryDatabase(self.clock)
        self.cache = InMemoryReplyCache(self.clock.now)
        uow = InMemoryUnitOfWorkFactory(self.db)
        self.uow = uow
        self.get = GetDocumentHandler(uow, self.cache, lambda j: json.dumps(j).encode())
        self.list = ListFolderHandler(uow, self.cache, lambda j: json.dumps(j).encode(),
                                      CursorCodec(b"model"))
        encode = lambda j: json.dumps(j).encode()  # noqa: E731
        self.shares = DocumentSharesHandler(uow, self.clock, encode)
        self.explain = ExplainAccessHandler(uow, self.clock, encode)
        self.search = SearchDocumentsHandler(uow, encode, CursorCodec(b"model"))
        self.model = Model()
        self.folders: list[str] = []
        self.docs: list[str] = []
        self.db.state.memberships[("acme", "boss")] = OrgRole.ADMIN
        self.db.state.memberships[("acme", "u0")] = OrgRole.MEMBER
        self.db.state.memberships[("globex", "stranger")] = OrgRole.MEMBER
        self.model.members.update({("acme", "boss"): "admin", ("acme", "u0"): "member",
                                   ("globex", "stranger"): "member"})
        self.db.state.memberships[("acme", "u1")] = OrgRole.MEMBER
        self.model.members["acme", "u1"] = "member"

    async def seed(self) -> None:
        """A small tree to start from: acme f0 > f1 > f2, globex f3; a document in each."""
        for parent, org in ((None, "acme"), (0, "acme"), (1, "acme"), (None, "globex")):
            await self.folder(parent, org)
        for folder in (2, 0, 3):
            await self.doc(folder)

    async def apply(self, op: tuple[Any, ...]) -> None:
        kind, *args = op
        if kind == "tick":
            self.clock.advance(args[0])
            self.model.now += args[0]
            return
        await getattr(self, kind)(*args)
        self.cache.values.clear()  # arrangement bypasses the bus, and so its invalidations

    def _folder(self, i: int | None) -> str | None:
        return self.folders[i % len(self.folders)] if i is not None and self.folders else None

    def _doc(self, i: int) -> str | None:
        return self.docs[i % len(self.docs)] if self.docs else None

    def _expires(self, offset: int | None) -> tuple[datetime | None, int | None]:
        if offset is None:
            return None, None
        return self.clock.now() + timedelta(seconds=offset), self.model.now + offset

    async def folder(self, parent_index: int | None, org: str) -> None:
        folder_id = f"f{len(self.folders)}"
        parent = self._folder(parent_index)
        state = self.db.state
        if parent is None:
            folder = Folder.root(folder_id, org, folder_id)
        else:
            folder = state.folders[parent].child(folder_id, folder_id)
        state.folders[folder_id] = folder
        self.folders.append(folder_id)
        self.model.folder_org[folder_id] = folder.org_id
        self.model.folder_parent[folder_id] = parent
        self.model.folder_trashed[folder_id] = False

    async def doc(self, folder_index: int) -> None:
        folder_id = self._folder(folder_index)
        if folder_id is None:
            return
        doc_id = f"d{len(self.docs)}"
        folder = self.db.state.folders[folder_id]
        document, version = Document.create(doc_id, folder, "u0", CONTENT, self.clock.now())
        self.db.state.documents[doc_id] = document
        self.db.state.versions[doc_id] = [version]
        self.docs.append(doc_id)
        self.model.doc_folder[doc_id] = folder_id
        self.model.doc_trashed[doc_id] = False
        self.model.doc_updated[doc_id] = self.model.now

    async def member(self, org: str, user: str, role: str | None) -> None:
        if role is None:
            self.db.state.memberships.pop((org, user), None)
            self.model.members.pop((org, user), None)
        else:
            self.db.state.memberships[org, user] = OrgRole(role)
            self.model.members[org, user] = role

    async def doc_share(self, i: int, user: str, role: str | None, offset: int | None) -> None:
        doc_id = self._doc(i)
        if doc_id is None:
            return
        at, model_at = self._expires(offset)
        async with self.uow() as uow:
            grant = ShareGrant("u0", self.clock.now(), at)
            await uow.shares.put(doc_id, user, Role(role) if role else None, grant)
            await uow.commit()
        if role is None:
            self.model.doc_shares.pop((doc_id, user), None)
        else:
            self.model.doc_shares[doc_id, user] = (role, model_at)

    async def folder_share(self, i: int, user: str, role: str | None, offset: int | None) -> None:
        folder_id = self._folder(i)
        if folder_id is None:
            return
        at, model_at = self._expires(offset)
        if role is None:
            self.db.state.folder_shares.pop((folder_id, user), None)
            self.model.folder_shares.pop((folder_id, user), None)
        else:
            self.db.state.folder_shares[folder_id, user] = (Role(role), at)
            self.model.folder_shares[folder_id, user] = (role, model_at)

    async def move(self, i: int, to: int | None) -> None:
        folder_id, parent_id = self._folder(i), self._folder(to)
        if folder_id is None:
            return
        state = self.db.state
        folder = state.folders[folder_id]
        parent = state.folders[parent_id] if parent_id else None
        if parent is not None and (parent.org_id != folder.org_id or folder.contains(parent)):
            return
        await InMemoryFolderTree(state).move(folder, parent)
        self.model.folder_parent[folder_id] = parent_id

    async def move_doc(self, i: int, to: int) -> None:
        doc_id, folder_id = self._doc(i), self._folder(to)
        if doc_id is None or folder_id is None:
            return
        document = self.db.state.documents[doc_id]
        if self.db.state.folders[folder_id].org_id != document.org_id:
            return
        self.db.state.documents[doc_id] = replace(document, folder_id=folder_id)
        self.model.doc_folder[doc_id] = folder_id

    async def trash_folder(self, i: int, trashed: bool) -> None:
        folder_id = self._folder(i)
        if folder_id is None:
            return
        folder = self.db.state.folders[folder_id]
        at = self.clock.now() if trashed else None
        by = "u0" if trashed else None
        self.db.state.folders[folder_id] = replace(folder, trashed_at=at, trashed_by=by)
        self.model.folder_trashed[folder_id] = trashed

    async def trash_doc(self, i: int, trashed: bool) -> None:
        doc_id = self._doc(i)
        if doc_id is None:
            return
        document = self.db.state.documents[doc_id]
        at = self.clock.now() if trashed else None
        self.db.state.documents[doc_id] = replace(document, trashed_at=at)
        self.model.doc_trashed[doc_id] = trashed

    async def check(self) -> None:
        for user in USERS:
            for doc_id in self.docs:
                await self._check_document(user, doc_id)
                await self._check_explanation(user, doc_id)
            for folder_id in self.folders:
                await self._check_listing(user, folder_id)
        for doc_id in self.docs:
            await self._check_share_list(doc_id)
        await check_search(self.search, self.model, self.folders)

    async def _check_explanation(self, user: str, doc_id: str) -> None:
        """access.explain about ``user``, asked by the org's admin (who may always ask)."""
        org = self.model.folder_org[self.model.doc_folder[doc_id]]
        asker = "boss" if org == "acme" else "stranger"
        if not self.model.can_get(asker, doc_id):
            return
        reply = json.loads(await self.explain(ExplainAccess(doc_id, asker, user)))
        if reply["ok"] is False:  # a member asker who cannot share may not ask about others
            assert asker != user and reply["error"]["code"] == "forbidden", reply
            return
        data = reply["data"]
        assert data["role"] == self.model.role_on_document(user, doc_id), (user, doc_id, data)
        expected = {(s, r, f) for u, s, r, f in self.model.grants(doc_id) if u == user}
        got = {(g["source"], g["role"], g["folder_id"]) for g in data["grants"]}
        assert got == expected, (user, doc_id, got, expected)
        CHECKED["cases"] += 1

    async def _check_share_list(self, doc_id: str) -> None:
        org = self.model.folder_org[self.model.doc_folder[doc_id]]
        asker = "boss" if org == "acme" else "stranger"
        reply = json.loads(await self.shares(ListDocumentShares(doc_id, asker)))
        if not self.model.can_get(asker, doc_id) or self.model.role_on_document(
            asker, doc_id
        ) != "owner":
            assert reply["ok"] is False, (asker, doc_id, reply)
            return
        got = {(s["user_id"], s["source"], s["role"], s["folder_id"])
               for s in reply["data"]["shares"]}
        assert got == self.model.grants(doc_id), (doc_id, got, self.model.grants(doc_id))
        CHECKED["cases"] += 1

    async def _check_document(self, user: str, doc_id: str) -> None:
        reply = json.loads(await self.get(GetDocument(doc_id, user)))
        expected = self.model.can_get(user, doc_id)
        assert reply["ok"] is expected, (user, doc_id, reply)
        async with self.uow(read_only=True) as uow:
            _, access = await uow.documents.get_with_access(doc_id, user)
        capabilities = {c.value for c in access.capabilities}
        assert capabilities == CAPABILITIES[self.model.role_on_document(user, doc_id)], (
            user, doc_id, capabilities)
        CHECKED["cases"] += 2

    async def _check_listing(self, user: str, folder_id: str) -> None:
        reply = json.loads(await self.list(ListFolder(folder_id, user, 500)))
        expected = self.model.listing(user, folder_id)
        if expected is None:
            assert not reply["ok"] and reply["error"]["code"] == "not_found", (user, folder_id)
        else:
            assert reply["ok"], (user, folder_id, reply)
            listed = [d["doc_id"] for d in reply["data"]["documents"]]
            assert listed == expected, (user, folder_id, listed, expected)
        CHECKED["cases"] += 1


SEARCH_TEXTS = (None, "A")  # no text; a word every document's name has, as a prefix


async def check_search(
    search: Any, model: Model, folders: list[str], prefix: str = ""
) -> None:
    """document.search (without text, and with a text every name matches) for every user
    in both orgs, and in every folder's subtree, against the model's readable documents
    (``prefix``: the ids' prefix in the database under test)."""
    queries = [(org, None) for org in ORGS]
    queries += [(model.folder_org[f], f) for f in folders]
    for user in USERS:
        for org, folder in queries:
            expected = model.search(user, org, folder)
            for text in SEARCH_TEXTS:
                found = SearchFilter(text, prefix + folder if folder else None)
                query = SearchDocuments(prefix + org, user, found, 500)
                reply = json.loads(await search(query))
                if expected is None:
                    assert reply["error"]["code"] == "not_found", (user, org, folder, reply)
                else:
                    got = [d["doc_id"].removeprefix(prefix) for d in reply["data"]["documents"]]
                    assert got == expected, (user, org, folder, text, got, expected)
                CHECKED["cases"] += 1


def _run(steps: list[tuple[tuple[Any, ...], int]]) -> None:
    async def go() -> None:
        run = Run()
        await run.seed()
        for op, seconds in steps:  # every answer is checked after every step
            await run.apply(op)
            await run.check()
            if seconds:
                await run.apply(("tick", seconds))
                await run.check()
    asyncio.run(go())


@settings(max_examples=100, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, min_size=1, max_size=20))
def _matches_model(steps: list[tuple[tuple[Any, ...], int]]) -> None:
    _run(steps)


def test_docbus_answers_as_the_model_does() -> None:
    before = CHECKED["cases"]
    _matches_model()
    checked = CHECKED["cases"] - before
    print(f"access model (in-memory adapters): {checked} answers compared")
    assert checked >= 10_000
