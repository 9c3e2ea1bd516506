"""The access model test (tests/unit/test_access_model.py) on real PostgreSQL: the same
random histories are applied to the in-memory world and the model, the world's state is
copied into PostgreSQL after every step, and PostgreSQL's answers (get, listing,
effective capabilities, document.shares, document.search: the SQL of the access rules)
must equal the model's.

Time passes for the database as for the model: expiries are stored relative to the
database's clock (``expires_at = now() + remaining``), so that a grant whose remaining
time is zero has expired by the time it is read. A failing case prints the shrunk
sequence of steps (hypothesis' falsifying example).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from docbus.adapters.memory import InMemoryReplyCache
from docbus.adapters.postgres import PgDatabase, PgUnitOfWorkFactory
from docbus.consumers.bootstrap import SystemClock
from docbus.core.cursor import CursorCodec
from docbus.handlers.explain_access import DocumentSharesHandler, ListDocumentShares
from docbus.handlers.get_document import GetDocument, GetDocumentHandler
from docbus.handlers.list_folder import ListFolder, ListFolderHandler
from docbus.handlers.search_documents import SearchDocumentsHandler
from tests.unit import test_access_model
from tests.unit.access_reference import CAPABILITIES
from tests.unit.test_access_model import USERS, Run, check_search, step

CHECKED = {"cases": 0}
TABLES = ("shares", "folder_shares", "document_versions", "documents")
SCALE = 1000  # one model second is this many database seconds: a run takes far less


class Mirror:
    """The in-memory world's state, copied into PostgreSQL under a prefix of its own."""

    def __init__(self, db: PgDatabase, run: Run) -> None:
        self.db, self.run, self.p = db, run, f"m{secrets.token_hex(4)}-"
        uow = PgUnitOfWorkFactory(db)
        self.uow = uow
        self.cache = InMemoryReplyCache()
        encode = lambda j: json.dumps(j).encode()  # noqa: E731
        self.get = GetDocumentHandler(uow, self.cache, encode)
        self.list = ListFolderHandler(uow, self.cache, encode, CursorCodec(b"model"))
        self.shares = DocumentSharesHandler(uow, SystemClock(), encode)
        self.search = SearchDocumentsHandler(uow, encode, CursorCodec(b"model"))

    async def sync(self) -> None:
        s, p, now = self.run.db.state, self.p, self.run.clock.now()
        async with self.db.pool.acquire() as conn, conn.transaction():
            for table in TABLES:
                column = "folder_id" if table == "folder_shares" else "doc_id"
                await conn.execute(f"DELETE FROM {table} WHERE {column} LIKE $1", p + "%")
            await conn.execute("DELETE FROM folders WHERE folder_id LIKE $1", p + "%")
            await conn.execute("DELETE FROM memberships WHERE org_id LIKE $1", p + "%")
            await conn.executemany(
                "INSERT INTO memberships VALUES ($1, $2, $3)",
                [(p + o, u, r.value) for (o, u), r in s.memberships.items()])
            folders = sorted(s.folders.values(), key=lambda f: len(f.ancestors))
            await conn.executemany(
                "INSERT INTO folders (folder_id, org_id, parent_id, name, path, ancestors,"
                " trashed_at, trashed_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                [(p + f.folder_id, p + f.org_id, p + f.parent_id if f.parent_id else None,
                  f.name, f.path, [p + a for a in f.ancestors], f.trashed_at, f.trashed_by)
                 for f in folders])
            await conn.executemany(
                "INSERT INTO documents (doc_id, org_id, folder_id, owner_id, version, name,"
                " mime_type, blob_uri, tags, created_at, updated_at, trashed_at)"
                " VALUES ($1, $2, $3, 'u0', 1, 'a', 'a/b', 's3://a', '{}', $4, $4, $5)",
                [(p + d.doc_id, p + d.org_id, p + d.folder_id, d.updated_at, d.trashed_at)
                 for d in s.documents.values()])
            await conn.executemany(
                "INSERT INTO document_versions (doc_id, version, name, mime_type, blob_uri,"
                " tags, uploaded_by, uploaded_at) VALUES ($1, 1, 'a', 'a/b', 's3://a', '{}',"
                " 'u0', now())", [(p + d,) for d in s.documents])
            await conn.executemany(
                "INSERT INTO shares (doc_id, user_id, role, expires_at)"
                " VALUES ($1, $2, $3, now() + $4 * interval '1 second')",
                [(p + d, u, r.value, _remaining(s.share_grants.get((d, u)), now))
                 for (d, u), r in s.shares.items()])
            await conn.executemany(
                "INSERT INTO folder_shares (folder_id, user_id, role, shared_by, shared_at,"
                " expires_at) VALUES ($1, $2, $3, 'u0', now(), now() + $4 * interval '1 second')",
                [(p + f, u, r.value, _seconds(at, now))
                 for (f, u), (r, at) in s.folder_shares.items()])

    async def check(self) -> None:
        self.cache.values.clear()  # PostgreSQL's decisions are under test here
        model, p = self.run.model, self.p
        for user in USERS:
            for doc in self.run.docs:
                reply = json.loads(await self.get(GetDocument(p + doc, user)))
                assert reply["ok"] is model.can_get(user, doc), (user, doc, reply)
                async with self.uow(read_only=True) as uow:
                    _, access = await uow.documents.get_with_access(p + doc, user)
                held = {c.value for c in access.capabilities}
                assert held == CAPABILITIES[model.role_on_document(user, doc)], (user, doc)
                CHECKED["cases"] += 2
            for folder in self.run.folders:
                reply = json.loads(await self.list(ListFolder(p + folder, user, 500)))
                expected = model.listing(user, folder)
                if expected is None:
                    assert reply["error"]["code"] == "not_found", (user, folder, reply)
                else:
                    listed = [d["doc_id"].removeprefix(p) for d in reply["data"]["documents"]]
                    assert listed == expected, (user, folder, listed, expected)
                CHECKED["cases"] += 1
        for doc in self.run.docs:
            await self._check_share_list(doc)
        before = test_access_model.CHECKED["cases"]
        await check_search(self.search, model, self.run.folders, p)  # the search SQL
        CHECKED["cases"] += test_access_model.CHECKED["cases"] - before

    async def _check_share_list(self, doc: str) -> None:
        """document.shares asked by the org's admin: the GRANTS statement, unprefixed."""
        model, p = self.run.model, self.p
        asker = "boss" if model.folder_org[model.doc_folder[doc]] == "acme" else "stranger"
        reply = json.loads(await self.shares(ListDocumentShares(p + doc, asker)))
        if not model.can_get(asker, doc) or model.role_on_document(asker, doc) != "owner":
            assert reply["ok"] is False, (asker, doc, reply)
            return
        got = {(e["user_id"], e["source"], e["role"],
                e["folder_id"].removeprefix(p) if e["folder_id"] else None)
               for e in reply["data"]["shares"]}
        assert got == model.grants(doc), (doc, got, model.grants(doc))
        CHECKED["cases"] += 1


def _seconds(at: Any, now: Any) -> float | None:
    return None if at is None else (at - now).total_seconds() * SCALE


def _remaining(grant: Any, now: Any) -> float | None:
    return None if grant is None else _seconds(grant.expires_at, now)


def test_postgresql_answers_as_the_model_does(pg_url: str) -> None:
    loop = asyncio.new_event_loop()
    db = loop.run_until_complete(PgDatabase.connect(pg_url, min_size=1, max_size=4))

    async def history(steps: list[tuple[tuple[Any, ...], int]]) -> None:
        run = Run()
        await run.seed()
        mirror = Mirror(db, run)
        for op, seconds in steps:
            await run.apply(op)
            if seconds:
                await run.apply(("tick", seconds))
            await mirror.sync()
            await mirror.check()

    @settings(max_examples=30, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(step, min_size=1, max_size=8))
    def matches(steps: list[tuple[tuple[Any, ...], int]]) -> None:
        loop.run_until_complete(history(steps))

    try:
        before = CHECKED["cases"]
        matches()
        checked = CHECKED["cases"] - before
        print(f"access model (PostgreSQL): {checked} answers compared")
        assert checked >= 1_000
    finally:
        loop.run_until_complete(db.close())
        loop.close()
