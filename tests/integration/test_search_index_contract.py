"""The SearchIndex port's contract (document.search), run over the in-memory index and
PostgreSQL full text alike: words, accents, case, prefixes, rank and order, filters,
paging, and the access filter (shares, folder shares inherited, expiry, trash)."""

from __future__ import annotations

import importlib
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from docbus.core.entities import Content, Document, Folder, Membership, ShareGrant
from docbus.core.search import SearchFilter, SearchHit, SearchPosition, words
from docbus.core.values import OrgRole, Role
from tests.integration.test_unit_of_work_contract import T0, Adapters, adapters  # noqa: F401

PAST = datetime(2020, 1, 1, tzinfo=UTC)  # expired for both clocks (the fake's and the database's)
FUTURE = datetime(2100, 1, 1, tzinfo=UTC)


class World:
    """An org with a small tree (root > child > grandchild, and a second root), admin,
    members, and documents committed through the ports."""

    def __init__(self, a: Adapters) -> None:
        self.a = a
        self.org = a.id("org")
        self.root = Folder.root(a.id("root"), self.org, "root")
        self.child = self.root.child(a.id("child"), "child")
        self.grandchild = self.child.child(a.id("grand"), "grand")
        self.other = Folder.root(a.id("other"), self.org, "other")
        self.admin, self.member = a.id("admin"), a.id("member")

    async def build(self) -> None:
        async with self.a.uow() as uow:
            for folder in (self.root, self.child, self.grandchild, self.other):
                await uow.folders.add(folder)
            await uow.memberships.put(Membership(self.org, self.admin, OrgRole.ADMIN))
            await uow.memberships.put(Membership(self.org, self.member, OrgRole.MEMBER))
            await uow.commit()

    async def doc(
        self, name: str, folder: Folder | None = None, *, tags: tuple[str, ...] = (),
        mime: str = "application/pdf", seconds: int = 0, doc_id: str | None = None,
    ) -> str:
        doc_id = self.a.id(doc_id or name.replace(" ", "_"))
        content = Content(name, mime, f"s3://b/{doc_id}", tags, 1, None)
        document, version = Document.create(
            doc_id, folder or self.root, self.admin, content, T0 + timedelta(seconds=seconds)
        )
        async with self.a.uow() as uow:
            assert await uow.documents.add(document, version)
            await uow.commit()
        return doc_id

    async def search(
        self, reader: str | None = None, *, limit: int = 50, after: SearchPosition | None = None,
        **filters: object,
    ) -> list[SearchHit]:
        reader = reader or self.admin
        async with self.a.uow(read_only=True) as uow:
            return await uow.search.search(
                self.org, reader,
                org_role=OrgRole.ADMIN if reader == self.admin else OrgRole.MEMBER,
                search=SearchFilter(**filters), limit=limit, after=after,  # type: ignore[arg-type]
            )

    async def ids(self, reader: str | None = None, **filters: object) -> list[str]:
        return [h.document.doc_id for h in await self.search(reader, **filters)]


@pytest.fixture
async def world(adapters: Adapters) -> World:  # noqa: F811
    w = World(adapters)
    await w.build()
    return w


def test_words_fold_accents_and_case_and_split_at_ascii_punctuation() -> None:
    assert words("Crème-Brûlée_2024.PDF  ÆRØ Straße ДОМ") == (
        "creme", "brulee", "2024", "pdf", "aero", "strasse", "дом"
    )
    assert words("!!!") == ()


async def test_the_database_splits_words_as_core_does(world: World) -> None:
    if world.a.kind != "postgres":
        pytest.skip("the database's own function")
    samples = ["Crème-Brûlée_2024.PDF  ÆRØ Straße ДОМ", "Ǆemal ŁÓDŹ œuvre ﬁle", "a\tb/c\\d'e\"f",
               "İstanbul ΆΈΉ", "x²y ½ naïve café", "日本語 テキスト"]
    async with world.a.uow(read_only=True) as uow:
        conn = uow._conn  # type: ignore[attr-defined]
        for text in samples:
            assert tuple(await conn.fetchval("SELECT docbus_words($1)", text)) == words(text)


async def test_the_plpgsql_words_are_the_words_of_migration_0008(world: World) -> None:
    """Migration 0009 rewrote docbus_words and docbus_search_vector in PL/pgSQL without
    rewriting the stored column: both must give 0008's SQL functions' values, for every
    text (random texts of letters, accents, digits, separators, spaces and the empty)."""
    if world.a.kind != "postgres":
        pytest.skip("the database's own function")
    m = importlib.import_module(
        "docbus.adapters.postgres.migrations.versions.0009_search_words_plpgsql"
    )
    old_words = m.SQL_0008[0].replace("docbus_words(", "pg_temp.docbus_words_0008(", 1)
    rng = random.Random(9)
    alphabet = "aZé Ü-_./ 9ß\tÆ'œ,ДﬁǄ!"
    texts = ["", " ", "---", "a", "Crème-Brûlée_2024.PDF", *(
        "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 24))) for _ in range(400)
    )]
    async with world.a.uow() as uow:
        conn = uow._conn  # type: ignore[attr-defined]
        await conn.execute(old_words)
        assert await conn.fetchval(
            "SELECT l.lanname FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang"
            " WHERE p.proname = 'docbus_words' AND p.pronamespace <> pg_my_temp_schema()"
        ) == "plpgsql"
        for text in texts:
            new, old = await conn.fetchrow(
                "SELECT docbus_words($1), pg_temp.docbus_words_0008($1)", text
            )
            assert new == old, text
        tags = [texts[i : i + 3] for i in range(0, len(texts), 3)]
        for name, tag in zip(texts, tags, strict=False):
            new, old = await conn.fetchrow(
                "SELECT docbus_search_vector($1, $2), array_to_tsvector("
                "pg_temp.docbus_words_0008($1)"
                " || pg_temp.docbus_words_0008(array_to_string($2, ' ')))", name, tag,
            )
            assert new == old, (name, tag)


async def test_every_word_must_match_a_word_of_the_name_or_the_tags(world: World) -> None:
    report = await world.doc("Quarterly Report", tags=("finance",))
    await world.doc("Quarterly plan", tags=("strategy",))
    assert await world.ids(text="report quarterly") == [report]
    assert await world.ids(text="quarterly finance") == [report]
    assert await world.ids(text="finance quarter") == [report]  # the last word: a prefix
    assert await world.ids(text="quarter report") == []  # not the last: whole words only
    assert await world.ids(text="repo") == [report]


async def test_case_and_accents_do_not_matter_either_way(world: World) -> None:
    cafe = await world.doc("Café Crème", tags=("Menü",))
    assert await world.ids(text="CAFE creme") == [cafe]
    assert await world.ids(text="café CRÈME menu") == [cafe]
    assert await world.ids(text="MENÜ") == [cafe]


async def test_a_text_without_a_word_filters_nothing(world: World) -> None:
    first = await world.doc("one", seconds=1)
    second = await world.doc("two", seconds=2)
    assert await world.ids(text="--- !") == [second, first]


async def test_best_match_first_then_newest(world: World) -> None:
    tag_only = await world.doc("minutes", tags=("budget", "review"), seconds=5)
    one_word = await world.doc("budget notes", tags=("review",), seconds=3)
    both = await world.doc("budget review", seconds=1)
    newer_one_word = await world.doc("review of the year", tags=("budget",), seconds=4)
    hits = await world.search(text="budget review")
    assert [h.document.doc_id for h in hits] == [both, newer_one_word, one_word, tag_only]
    assert [h.rank for h in hits] == [2, 1, 1, 0]


async def test_no_filter_lists_every_live_document_newest_first(world: World) -> None:
    old = await world.doc("a", seconds=1)
    new = await world.doc("b", world.grandchild, seconds=3)
    middle = await world.doc("c", world.other, seconds=2)
    assert await world.ids() == [new, middle, old]


async def test_folder_filter_takes_the_subtree(world: World) -> None:
    top = await world.doc("x top")
    mid = await world.doc("x mid", world.child, seconds=1)
    low = await world.doc("x low", world.grandchild, seconds=2)
    await world.doc("x elsewhere", world.other, seconds=3)
    assert await world.ids(folder_id=world.root.folder_id) == [low, mid, top]
    assert await world.ids(folder_id=world.child.folder_id, text="x") == [low, mid]


async def test_mime_type_exact_or_any_subtype(world: World) -> None:
    png = await world.doc("p", mime="image/png", seconds=1)
    jpeg = await world.doc("j", mime="Image/JPEG; q=1", seconds=2)
    await world.doc("d", mime="application/pdf", seconds=3)
    await world.doc("i", mime="imagex/png", seconds=4)
    assert await world.ids(mime_type="image/*") == [jpeg, png]
    assert await world.ids(mime_type="image/jpeg") == [jpeg]


async def test_tags_must_all_be_there_exactly(world: World) -> None:
    both = await world.doc("a", tags=("red", "blue"), seconds=1)
    await world.doc("b", tags=("red",), seconds=2)
    await world.doc("c", tags=("Red", "blue"), seconds=3)
    assert await world.ids(tags=("blue", "red")) == [both]


async def test_pages_follow_the_position(world: World) -> None:
    made = [await world.doc(f"page {n}", seconds=n % 3, doc_id=f"p{n}") for n in range(7)]
    made.append(await world.doc("page page", seconds=0, doc_id="pp"))  # rank 1 too: distinct words
    seen: list[str] = []
    after = None
    while True:
        hits = await world.search(text="page", limit=3, after=after)
        seen += [h.document.doc_id for h in hits]
        if len(hits) < 3:
            break
        after = hits[-1].position
    everything = [h.document.doc_id for h in await world.search(text="page")]
    assert seen == everything
    assert sorted(seen) == sorted(made)


async def test_trashed_documents_and_trashed_subtrees_are_not_found(world: World) -> None:
    kept = await world.doc("keep t")
    gone = await world.doc("gone t", seconds=1)
    below = await world.doc("below t", world.grandchild, seconds=2)
    async with world.a.uow() as uow:
        document = await uow.documents.get(gone)
        assert document is not None
        await uow.lifecycle.save(replace(document, trashed_at=T0, trashed_by=world.admin))
        await uow.tree.set_trashed(replace(world.child, trashed_at=T0, trashed_by=world.admin))
        await uow.commit()
    assert await world.ids(text="t") == [kept]
    assert below not in await world.ids()


async def test_a_member_finds_what_a_share_or_a_folder_share_above_gives(world: World) -> None:
    shared = await world.doc("doc shared", world.other)
    inherited = await world.doc("doc inherited", world.grandchild, seconds=1)
    await world.doc("doc hidden", world.other, seconds=2)
    await world.doc("doc hidden too", world.root, seconds=3)
    async with world.a.uow() as uow:
        await uow.shares.put(shared, world.member, Role.VIEWER, ShareGrant(world.admin, T0))
        await uow.tree.put_share(world.child.folder_id, world.member, Role.VIEWER,
                                 ShareGrant(world.admin, T0, FUTURE))
        await uow.commit()
    assert await world.ids(world.member, text="doc") == [inherited, shared]
    assert await world.ids(world.member) == [inherited, shared]


async def test_expired_grants_give_nothing_even_before_the_sweeper(world: World) -> None:
    shared = await world.doc("doc shared", world.other)
    await world.doc("doc inherited", world.grandchild, seconds=1)
    async with world.a.uow() as uow:
        await uow.shares.put(shared, world.member, Role.OWNER, ShareGrant(world.admin, T0, PAST))
        await uow.tree.put_share(world.root.folder_id, world.member, Role.OWNER,
                                 ShareGrant(world.admin, T0, PAST))
        await uow.commit()
    assert await world.ids(world.member, text="doc") == []


async def test_grants_in_another_org_give_nothing_here(world: World) -> None:
    await world.doc("doc mine")
    foreign = Folder.root(world.a.id("foreign"), world.a.id("org2"), "foreign")
    async with world.a.uow() as uow:
        await uow.folders.add(foreign)
        await uow.tree.put_share(foreign.folder_id, world.member, Role.OWNER,
                                 ShareGrant(world.admin, T0))
        await uow.commit()
    assert await world.ids(world.member) == []
