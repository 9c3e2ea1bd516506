"""ListFolder: what a reader sees, in which order, a page at a time."""

from __future__ import annotations

import pytest

from docbus.core.errors import InvalidCommand
from docbus.core.values import OrgRole, Role
from tests.unit.conftest import (
    ADA,
    ALICE,
    ARCHIVE,
    BOB,
    CAROL,
    DAVE,
    MALLORY,
    NOBODY,
    REPORTS,
    World,
)


@pytest.fixture
async def five_docs(world: World) -> World:
    """d1..d5 in reports, uploaded a second apart by alice (d5 newest)."""
    for i in range(1, 6):
        await world.upload(f"d{i}")
        world.clock.advance(1)
    return world


async def test_a_reader_sees_only_the_documents_they_may_read(world: World) -> None:
    await world.upload("d1")
    await world.upload("d2")
    await world.upload("d3", by=BOB)
    await world.share("d1", CAROL, Role.VIEWER)
    assert sorted(await world.listed(ALICE)) == ["d1", "d2"]
    assert await world.listed(BOB) == ["d3"]
    assert await world.listed(CAROL) == ["d1"]
    assert await world.listed(DAVE) == []


async def test_an_admin_sees_every_document_of_the_folder(world: World) -> None:
    await world.upload("d1")
    await world.upload("d2", by=BOB)
    await world.upload("d3", folder_id=ARCHIVE)
    assert sorted(await world.listed(ADA)) == ["d1", "d2"]


async def test_documents_come_newest_updated_at_first(five_docs: World) -> None:
    assert await five_docs.listed(ALICE) == ["d5", "d4", "d3", "d2", "d1"]


async def test_a_new_version_moves_its_document_to_the_top(five_docs: World) -> None:
    await five_docs.upload("d2", name="v2.pdf")
    assert await five_docs.listed(ALICE) == ["d2", "d5", "d4", "d3", "d1"]


async def test_an_empty_listing_has_no_documents_and_no_cursor(five_docs: World) -> None:
    assert await five_docs.listing(CAROL) == {"ok": True, "data": {
        "folder_id": REPORTS, "documents": [], "next_cursor": None,
    }}


async def test_listed_documents_are_the_get_reply_without_versions(five_docs: World) -> None:
    await five_docs.share("d3", CAROL, Role.VIEWER)
    [doc] = (await five_docs.listing(CAROL))["data"]["documents"]
    got = (await five_docs.get("d3", CAROL))["data"]
    assert doc == {k: v for k, v in got.items() if k != "versions"}


async def test_pages_follow_the_cursor_and_the_last_page_has_no_cursor(five_docs: World) -> None:
    pages, cursor = [], None
    while True:
        reply = await five_docs.listing(ALICE, limit=2, cursor=cursor)
        pages.append([d["doc_id"] for d in reply["data"]["documents"]])
        cursor = reply["data"]["next_cursor"]
        if cursor is None:
            break
    assert pages == [["d5", "d4"], ["d3", "d2"], ["d1"]]


async def test_a_page_that_ends_exactly_at_the_last_document_has_no_cursor(
    five_docs: World,
) -> None:
    reply = await five_docs.listing(ALICE, limit=5)
    assert len(reply["data"]["documents"]) == 5
    assert reply["data"]["next_cursor"] is None


async def test_documents_updated_at_the_same_instant_are_paged_without_loss_or_repeat(
    world: World,
) -> None:
    for i in range(7):  # the clock stands still: every updated_at is equal
        await world.upload(f"d{i}")
    seen, cursor = [], None
    for _ in range(7):
        reply = await world.listing(ALICE, limit=3, cursor=cursor)
        seen += [d["doc_id"] for d in reply["data"]["documents"]]
        cursor = reply["data"]["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"d{i}" for i in reversed(range(7))]


async def test_the_default_page_is_50_documents(world: World) -> None:
    for i in range(51):
        await world.upload(f"d{i:02}")
    reply = await world.listing(ADA)
    assert len(reply["data"]["documents"]) == 50
    assert reply["data"]["next_cursor"] is not None


@pytest.mark.parametrize("reader", [NOBODY, MALLORY])
async def test_a_non_member_gets_exactly_the_reply_for_a_missing_folder(
    five_docs: World, reader: str
) -> None:
    no_folder = World()
    del no_folder.db.state.folders[REPORTS]
    missing = await no_folder.listing(reader)
    assert missing["ok"] is False
    assert missing["error"]["code"] == "not_found"
    assert await five_docs.listing(reader) == missing


async def test_an_admin_of_another_org_cannot_list_here(five_docs: World) -> None:
    five_docs.member("globex", MALLORY, OrgRole.ADMIN)
    assert (await five_docs.listing(MALLORY))["error"]["code"] == "not_found"


async def test_a_missing_folder_is_not_found(world: World) -> None:
    assert (await world.listing(ALICE, folder_id="f-ghost"))["error"]["code"] == "not_found"


async def test_an_empty_listing_is_a_cache_hit_the_second_time(world: World) -> None:
    first = await world.listing(ALICE)
    second = await world.listing(ALICE)
    assert first["data"]["documents"] == []
    assert second == first
    assert world.cache.hits == 1


async def test_a_full_listing_is_a_cache_hit_the_second_time(five_docs: World) -> None:
    first = await five_docs.listing(ALICE, limit=2)
    assert await five_docs.listing(ALICE, limit=2) == first
    assert await five_docs.listing(ALICE, limit=3) != first  # another page size, another entry
    assert five_docs.cache.hits == 1


@pytest.mark.parametrize("cursor", ["garbage", "eyJ", "bm90IGpzb24"])
async def test_a_cursor_we_never_issued_is_raised_as_invalid_and_not_cached(
    five_docs: World, cursor: str
) -> None:
    with pytest.raises(InvalidCommand):
        await five_docs.listing(ALICE, cursor=cursor)
    assert five_docs.cache.values == {}


async def test_a_cursor_works_only_on_the_listing_it_was_issued_for(five_docs: World) -> None:
    await five_docs.upload("b1", by=BOB)
    await five_docs.share("b1", ADA, Role.VIEWER)
    first = await five_docs.listing(ALICE, limit=2)
    cursor = first["data"]["next_cursor"]
    second = await five_docs.listing(ALICE, limit=2, cursor=cursor)
    assert [d["doc_id"] for d in second["data"]["documents"]] == ["d3", "d2"]
    assert (await five_docs.listing(ALICE, limit=4, cursor=cursor))["ok"]  # any page size
    with pytest.raises(InvalidCommand):  # another reader of the same folder
        await five_docs.listing(ADA, limit=2, cursor=cursor)
    with pytest.raises(InvalidCommand):  # the same reader, another folder
        await five_docs.listing(ALICE, folder_id=ARCHIVE, limit=2, cursor=cursor)
