"""The access model test on PostgreSQL (tests/integration/test_access_model_postgres.py)
with Cerbos deciding: random histories mirrored into PostgreSQL, and docbus's gets,
effective capabilities and listings must equal the reference model's. Listings go
through Cerbos's query plan turned into SQL (adapters/postgres/access_filter.py): the
test counts the conditional plans it ran, and no listing asks Cerbos document by
document."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from cerbos.engine.v1 import engine_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from docbus.adapters.cerbos_decider import CerbosDecider, _value, connect, readable_of
from docbus.adapters.memory import InMemoryReplyCache
from docbus.adapters.postgres import PgDatabase, PgUnitOfWorkFactory
from docbus.adapters.postgres.access_filter import readable_sql
from docbus.consumers.bootstrap import SystemClock
from docbus.core.cursor import CursorCodec
from docbus.core.decisions import Kind, Question, ReadableFilter
from docbus.core.search import SearchFilter
from docbus.core.values import Capability, OrgRole
from docbus.devtools.embedded_cerbos import EmbeddedCerbos
from docbus.handlers.explain_access import DocumentSharesHandler
from docbus.handlers.get_document import GetDocumentHandler
from docbus.handlers.list_folder import ListFolderHandler
from tests.integration.test_access_model_postgres import CHECKED, Mirror
from tests.unit.test_access_model import USERS, Run, step


class Counting:
    """The decider, counting what it decided: listing filters by kind, questions."""

    def __init__(self, decider: CerbosDecider) -> None:
        self.decider = decider
        self.filters: Counter[str] = Counter()
        self.questions = 0

    async def decide(self, questions: Sequence[Question]) -> list[frozenset[Capability]]:
        self.questions += len(questions)
        return await self.decider.decide(questions)

    async def readable(self, folder: Question) -> ReadableFilter:
        found = await self.decider.readable(folder)
        self.filters[found.kind] += 1
        return found

    async def anywhere(
        self, user_id: str, org_role: OrgRole | None, kind: Kind, capability: Capability
    ) -> ReadableFilter:
        found = await self.decider.anywhere(user_id, org_role, kind, capability)
        self.filters[f"anywhere {found.kind}"] += 1
        return found


async def _connect(address: str) -> Any:
    return connect(address)  # on the loop that will use it (gRPC binds to it)


ORG_WIDE = {"checked": 0, "trash": 0, "search": 0}


async def org_wide(mirror: Mirror, client: Any, decider: CerbosDecider) -> None:
    """An org-wide listing's filter (what document.search needs): a plan with the folder
    grants unknown (the policies' ``folder_grants.exists(...)`` in SQL) selects exactly
    the documents Cerbos allows one by one, for ``read`` and for ``share``."""
    p, run = mirror.p, mirror.run
    async with mirror.uow(read_only=True) as uow:
        for org in ("acme", "globex"):
            docs = [d for d in run.docs if run.model.folder_org[run.model.doc_folder[d]] == org]
            for user in USERS:
                role = run.db.state.memberships.get((org, user))
                principal = engine_pb2.Principal(
                    id=user, roles=[role.value if role else "nonmember"],
                    attr={"now": _value(datetime.now(UTC).isoformat())})
                allowed = {d: (await uow.documents.get_with_access(p + d, user))[1].capabilities
                           for d in docs}
                for action in (Capability.READ, Capability.SHARE):
                    plan = await client.plan_resources(
                        action.value, principal, engine_pb2.PlanResourcesInput.Resource(
                            kind="document"))
                    readable = readable_of(plan)
                    sql = readable_sql(readable, reader=2, first=3)
                    reader = [user] if readable.kind == "plan" else []
                    rows = await mirror.db.fetch(
                        f"SELECT d.doc_id FROM documents d{sql.joins}"
                        f" WHERE d.org_id = $1 AND ({sql.where})", p + org, *reader, *sql.args)
                    got = {r["doc_id"].removeprefix(p) for r in rows}
                    assert got == {d for d in docs if action in allowed[d]}, (user, action)
                    ORG_WIDE["checked"] += 1
                if role is not None:
                    await _same_trash(mirror, p + org, user, role)


async def _same_trash(mirror: Mirror, org_id: str, user: str, role: OrgRole) -> None:
    """trash.list's page: Cerbos's plans in SQL give the built-in rule's items."""
    pages = []
    for uow in (mirror.uow, PgUnitOfWorkFactory(mirror.db)):
        async with uow(read_only=True) as unit:
            items = await unit.tree.trash_page(org_id, user, org_role=role, limit=500,
                                               after=None)
        pages.append([(i.kind, i.item_id) for i in items])
    assert pages[0] == pages[1], (org_id, user, pages)
    ORG_WIDE["trash"] += len(pages[0])
    found = []
    for uow in (mirror.uow, PgUnitOfWorkFactory(mirror.db)):
        async with uow(read_only=True) as unit:
            hits = await unit.search.search(org_id, user, org_role=role, search=SearchFilter(),
                                            limit=500, after=None)
        found.append([h.document.doc_id for h in hits])
    assert found[0] == found[1], (org_id, user, found)  # document.search: the same hits
    ORG_WIDE["search"] += len(found[0])


class CerbosMirror(Mirror):
    def __init__(self, db: PgDatabase, run: Run, decider: Counting) -> None:
        super().__init__(db, run)
        uow = PgUnitOfWorkFactory(db, decider)
        encode = lambda j: json.dumps(j).encode()  # noqa: E731
        self.uow, self.cache = uow, InMemoryReplyCache()
        self.get = GetDocumentHandler(uow, self.cache, encode)
        self.list = ListFolderHandler(uow, self.cache, encode, CursorCodec(b"model"))
        self.shares = DocumentSharesHandler(uow, SystemClock(), encode)


def test_postgresql_on_cerbos_answers_as_the_model_does(
    pg_url: str, cerbos_server: EmbeddedCerbos
) -> None:
    loop = asyncio.new_event_loop()
    db = loop.run_until_complete(PgDatabase.connect(pg_url, min_size=1, max_size=4))
    client = loop.run_until_complete(_connect(cerbos_server.address))
    counting = Counting(CerbosDecider(client, SystemClock().now, timeout=5.0))

    async def history(steps: list[tuple[tuple[Any, ...], int]]) -> None:
        run = Run()
        await run.seed()
        mirror = CerbosMirror(db, run, counting)
        for op, seconds in steps:
            await run.apply(op)
            if seconds:
                await run.apply(("tick", seconds))
            await mirror.sync()
            asked = counting.questions
            listings = sum(counting.filters.values())
            await mirror.check()
            # gets and share lists ask one question each; listings none at all
            listed = sum(counting.filters.values()) - listings
            assert listed > 0 and counting.questions - asked <= 6 * len(run.docs) * 5
            await org_wide(mirror, client, counting.decider)

    @settings(max_examples=25, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(step, min_size=1, max_size=8))
    def matches(steps: list[tuple[tuple[Any, ...], int]]) -> None:
        loop.run_until_complete(history(steps))

    try:
        before = CHECKED["cases"]
        matches()
        checked = CHECKED["cases"] - before
        print(f"access model (PostgreSQL on Cerbos): {checked} answers compared;"
              f" listing filters {dict(counting.filters)}; org-wide plans in SQL:"
              f" {ORG_WIDE['checked']} (user, action) sets compared; trash.list items:"
              f" {ORG_WIDE['trash']}; search hits: {ORG_WIDE['search']}")
        assert ORG_WIDE["checked"] >= 200
        assert ORG_WIDE["trash"] > 0 and counting.filters["anywhere plan"] > 0
        assert ORG_WIDE["search"] >= 100
        assert checked >= 1_000
        assert counting.filters["plan"] >= 100  # the query plan's SQL was exercised
    finally:
        loop.run_until_complete(client.close())
        loop.run_until_complete(db.close())
        loop.close()
