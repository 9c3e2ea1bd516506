"""document.search through the real handler (contract v2): who finds what, the filters'
errors, paging and cursors, and that every command's effect shows at once (renames,
moves, trash, restore, shares, folder shares, revokes, expiry). On the in-memory fakes;
tests/integration/test_search_postgres.py runs them again on PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from docbus.adapters.memory import (
    FixedClock,
    InMemoryDatabase,
    InMemoryUnitOfWorkFactory,
    SequentialIds,
)
from docbus.core.errors import InvalidCommand
from docbus.core.ports import Json, UnitOfWorkFactory
from docbus.core.search import SearchFilter
from docbus.core.values import Role
from docbus.handlers.move_document import MoveDocument
from docbus.handlers.rename_document import RenameDocument
from docbus.handlers.restore_document import RestoreDocument
from docbus.handlers.restore_folder import RestoreFolder
from docbus.handlers.revoke_share import RevokeShare, RevokeShareHandler
from docbus.handlers.search_documents import SearchDocuments, SearchDocumentsHandler
from docbus.handlers.share_document import ShareDocument
from docbus.handlers.share_folder import (
    ShareFolder,
    ShareFolderHandler,
    UnshareFolder,
    UnshareFolderHandler,
)
from docbus.handlers.trash_document import TrashDocument
from docbus.handlers.trash_folder import TrashFolder
from tests.lifecycle_harness import ADA, ALICE, BOB, CAROL, DAVE, MALLORY, Life, code

NOBODY = "nobody"


class Finder:
    """The search handler over a Life, and the use cases it needs beyond the harness's."""

    def __init__(self, life: Life) -> None:
        self.life = life
        ids = SequentialIds(f"{life.prefix}s-")
        life.use_cases[ShareFolder] = ShareFolderHandler(life.clock, ids)
        life.use_cases[UnshareFolder] = UnshareFolderHandler(life.clock, ids)
        life.use_cases[RevokeShare] = RevokeShareHandler(life.clock, ids)
        self.handler = SearchDocumentsHandler(life.uow, _encode, life.cursors)

    async def reply(
        self, user: str, *, org: str | None = None, limit: int = 50, cursor: str | None = None,
        **filters: Any,
    ) -> Json:
        query = SearchDocuments(org or self.life.org, user, SearchFilter(**filters), limit,
                                cursor)
        reply: Json = json.loads(await self.handler(query))
        return reply

    async def found(self, user: str, **filters: Any) -> list[str]:
        reply = await self.reply(user, **filters)
        assert reply["ok"], reply
        return [d["doc_id"] for d in reply["data"]["documents"]]

    async def upload(self, name: str, folder: str | None = None, by: str = ALICE) -> str:
        doc = self.life.id(name.replace(" ", "-"))
        assert (await self.life.upload(doc, folder, by=by, name=name)).decoded["ok"]
        return doc


def _encode(data: Json) -> bytes:
    return json.dumps(data).encode()


def memory_life() -> Life:
    clock = FixedClock()  # the database judges expiries by the same clock as the handlers
    factory: UnitOfWorkFactory = InMemoryUnitOfWorkFactory(InMemoryDatabase(clock))  # type: ignore[assignment]
    return Life(factory, clock=clock)


@pytest.fixture
async def life() -> Life:
    return await memory_life().setup()


@pytest.fixture
def finder(life: Life) -> Finder:
    return Finder(life)


async def test_each_reader_finds_what_they_may_read(finder: Finder) -> None:
    life = finder.life
    plan = await finder.upload("budget plan")  # in q3, by alice (owner of the folders)
    notes = await finder.upload("budget notes", life.archive, by=ADA)
    await life.ok(ShareDocument(plan, ALICE, BOB, Role.VIEWER))
    assert await finder.found(ADA, text="budget") == [notes, plan]  # an admin: everything
    assert await finder.found(ALICE, text="budget") == [plan]  # owner of reports' subtree
    assert await finder.found(BOB, text="budget") == [plan]  # a document share
    assert await finder.found(DAVE, text="budget") == []  # a member without a grant


async def test_a_stranger_and_another_orgs_member_get_not_found(finder: Finder) -> None:
    await finder.upload("budget plan")
    for user in (NOBODY, MALLORY):
        assert code(await finder.reply(user)) == "not_found"
        assert code(await finder.reply(user, text="budget")) == "not_found"
    unknown = await finder.reply(ADA, org=finder.life.id("no-such-org"))
    assert code(unknown) == "not_found"


async def test_the_folder_filter_needs_a_live_folder_of_the_org(finder: Finder) -> None:
    life = finder.life
    low = await finder.upload("deep doc")  # in q3, below reports
    assert await finder.found(ADA, folder_id=life.reports) == [low]
    assert await finder.found(ADA, folder_id=life.archive) == []
    for folder in (life.id("f-globex"), life.id("f-nowhere")):
        assert code(await finder.reply(ADA, folder_id=folder)) == "not_found"
    await life.ok(TrashFolder(life.y2026, ALICE))
    for folder in (life.y2026, life.q3):  # trashed, and below a trashed folder
        assert code(await finder.reply(ADA, folder_id=folder)) == "not_found"
    assert await finder.found(ADA, folder_id=life.reports) == []


async def test_a_folder_share_reaches_the_whole_subtree_and_its_revoke_too(
    finder: Finder,
) -> None:
    life = finder.life
    deep = await finder.upload("deep doc")  # q3, under 2026, under reports
    await finder.upload("archived doc", life.archive, by=ADA)
    assert await finder.found(CAROL, text="doc") == []
    await life.ok(ShareFolder(life.reports, ALICE, CAROL, Role.VIEWER))
    assert await finder.found(CAROL, text="doc") == [deep]
    await life.ok(UnshareFolder(life.reports, ALICE, CAROL))
    assert await finder.found(CAROL, text="doc") == []


async def test_renames_moves_trash_and_restore_show_at_once(finder: Finder) -> None:
    life = finder.life
    doc = await finder.upload("draft")
    await life.ok(ShareFolder(life.q3, ALICE, BOB, Role.EDITOR))
    await life.ok(RenameDocument(doc, ALICE, "Final Contract.pdf"))
    assert await finder.found(BOB, text="draft") == []
    assert await finder.found(BOB, text="contr") == [doc]
    await life.ok(MoveDocument(doc, ALICE, life.archive))  # out of bob's folder share
    assert await finder.found(BOB, text="contract") == []
    assert await finder.found(ADA, text="contract", folder_id=life.archive) == [doc]
    await life.ok(TrashDocument(doc, ADA))
    assert await finder.found(ADA, text="contract") == []
    await life.ok(RestoreDocument(doc, ADA))
    assert await finder.found(ADA, text="contract") == [doc]


async def test_a_trashed_folder_hides_its_subtree_until_restored(finder: Finder) -> None:
    life = finder.life
    doc = await finder.upload("deep doc")
    await life.ok(TrashFolder(life.reports, ALICE))
    assert await finder.found(ALICE) == []
    assert await finder.found(ADA, text="deep") == []
    await life.ok(RestoreFolder(life.reports, ALICE))
    assert await finder.found(ALICE, text="deep") == [doc]


async def test_a_revoked_document_share_shows_at_once(finder: Finder) -> None:
    life = finder.life
    doc = await finder.upload("memo")
    await life.ok(ShareDocument(doc, ALICE, DAVE, Role.VIEWER))
    assert await finder.found(DAVE) == [doc]
    await life.ok(RevokeShare(doc, ALICE, DAVE))
    assert await finder.found(DAVE) == []


async def test_pages_follow_the_cursor_bound_to_reader_and_filters(finder: Finder) -> None:
    life = finder.life
    docs = [await finder.upload(f"page {n}") for n in range(5)]
    first = await finder.reply(ALICE, text="page", limit=2)
    cursor = first["data"]["next_cursor"]
    seen = [d["doc_id"] for d in first["data"]["documents"]]
    while cursor is not None:
        page = await finder.reply(ALICE, text="page", limit=2, cursor=cursor)
        seen += [d["doc_id"] for d in page["data"]["documents"]]
        cursor = page["data"]["next_cursor"]
    assert seen == docs[::-1]  # newest first (the same rank)
    token = first["data"]["next_cursor"]
    for other in ({"user": ADA, "text": "page"}, {"user": ALICE, "text": "pag"},
                  {"user": ALICE, "text": "page", "tags": ("q3",)}):
        user = other.pop("user")
        with pytest.raises(InvalidCommand):
            await finder.reply(user, cursor=token, **other)
    with pytest.raises(InvalidCommand):
        await finder.reply(ALICE, text="page", cursor=token[:-2] + "xx")
    assert life is finder.life


async def test_the_reply_carries_whole_documents(finder: Finder) -> None:
    doc = await finder.upload("Résumé 2026.pdf")
    reply = await finder.reply(ALICE, text="resume", mime_type="application/*", tags=("q3",))
    assert reply["ok"]
    (found,) = reply["data"]["documents"]
    assert found["doc_id"] == doc
    assert found["name"] == "Résumé 2026.pdf"
    assert found["trashed_at"] is None
    assert set(found) >= {"org_id", "folder_id", "version", "tags", "updated_at", "blob_uri"}
    assert reply["data"]["next_cursor"] is None


async def test_an_expired_folder_share_gives_nothing_from_its_expiry_on(finder: Finder) -> None:
    life = finder.life
    doc = await finder.upload("deep doc")
    until = life.clock.now() + timedelta(seconds=10)
    await life.ok(ShareFolder(life.reports, ALICE, DAVE, Role.VIEWER, until))
    assert await finder.found(DAVE, text="deep") == [doc]
    life.clock.advance(10)  # not swept: the grant is still stored
    assert await finder.found(DAVE, text="deep") == []
    assert await finder.found(DAVE) == []
