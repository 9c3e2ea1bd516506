"""Lives of documents and folders (contract v2, sections 2-5), rule by rule, through the
bus and the query handlers. The same tests run on PostgreSQL in
tests/integration/test_lifecycle_postgres.py (they take the ``life`` fixture)."""

from __future__ import annotations

import json

import pytest

from docbus.adapters.memory import InMemoryDatabase, InMemoryUnitOfWorkFactory
from docbus.core.cursor import Listing
from docbus.core.errors import InvalidCommand
from docbus.core.keyset import encode_key
from docbus.core.ports import Json, UnitOfWorkFactory
from docbus.core.values import Role
from docbus.handlers.create_folder import CreateFolder
from docbus.handlers.move_document import MoveDocument
from docbus.handlers.move_folder import MoveFolder
from docbus.handlers.purge import PurgeDocument, PurgeFolder
from docbus.handlers.rename_document import RenameDocument
from docbus.handlers.rename_folder import RenameFolder
from docbus.handlers.restore_document import RestoreDocument
from docbus.handlers.restore_folder import RestoreFolder
from docbus.handlers.revert_document import RevertDocument
from docbus.handlers.share_document import ShareDocument
from docbus.handlers.trash_document import TrashDocument
from docbus.handlers.trash_folder import TrashFolder
from tests.lifecycle_harness import ADA, ALICE, BOB, CAROL, DAVE, MALLORY, Life, code


@pytest.fixture
async def life() -> Life:
    factory: UnitOfWorkFactory = InMemoryUnitOfWorkFactory(InMemoryDatabase())  # type: ignore[assignment]
    return await Life(factory).setup()


async def outbox(life: Life) -> list[Json]:
    """The org's events in the outbox, in commit order (no relay runs in these tiers)."""
    db = life.uow.db  # type: ignore[attr-defined]
    if isinstance(db, InMemoryDatabase):
        bodies = [m.body for m in db.state.outbox]
    else:
        bodies = [r[0] for r in await db.fetch("SELECT body FROM outbox ORDER BY id")]
    events = [json.loads(body) for body in bodies]
    return [e for e in events if e["org_id"] in (life.org, life.other_org)]


# document.rename


async def test_a_writer_renames_a_document_and_its_versions_keep_their_names(life: Life) -> None:
    doc = await life.document("d1")
    renamed = await life.ok(RenameDocument(doc, BOB, "final.pdf"))
    assert renamed["name"] == "final.pdf"
    got = (await life.get(doc))["data"]
    assert got["name"] == "final.pdf"
    assert [v["name"] for v in got["versions"]] == ["report.pdf"]


async def test_renaming_needs_write_and_hides_the_document_from_non_readers(life: Life) -> None:
    doc = await life.document("d1")
    assert code(await life.run(RenameDocument(doc, CAROL, "x"))) == "forbidden"
    assert code(await life.run(RenameDocument(doc, DAVE, "x"))) == "not_found"
    assert code(await life.run(RenameDocument(doc, MALLORY, "x"))) == "not_found"
    assert (await life.ok(RenameDocument(doc, ADA, "by-admin")))["name"] == "by-admin"


async def test_renaming_to_the_same_name_changes_nothing(life: Life) -> None:
    doc = await life.document("d1")
    outcome = await life.run(RenameDocument(doc, ALICE, "report.pdf"))
    assert outcome.decoded["ok"]
    assert outcome.scopes == ()


# document.move


async def test_a_writer_moves_a_document_and_both_listings_follow(life: Life) -> None:
    doc = await life.document("d1")
    assert await life.listed(life.q3) == [doc]  # cached now
    moved = await life.ok(MoveDocument(doc, BOB, life.archive))
    assert moved["folder_id"] == life.archive
    assert await life.listed(life.q3) == []
    assert await life.listed(life.archive) == [doc]


async def test_a_move_target_must_be_a_live_folder_of_the_same_org(life: Life) -> None:
    doc = await life.document("d1")
    other = life.id("f-globex")
    assert code(await life.run(MoveDocument(doc, ALICE, other))) == "not_found"
    assert code(await life.run(MoveDocument(doc, ALICE, life.id("nope")))) == "not_found"
    await life.ok(TrashFolder(life.archive, ADA))
    assert code(await life.run(MoveDocument(doc, ALICE, life.archive))) == "not_found"
    assert code(await life.run(MoveDocument(doc, CAROL, life.reports))) == "forbidden"


async def test_moving_into_its_own_folder_changes_nothing(life: Life) -> None:
    doc = await life.document("d1")
    outcome = await life.run(MoveDocument(doc, ALICE, life.q3))
    assert outcome.decoded["ok"] and outcome.scopes == ()


# document.trash


async def test_trash_needs_share_and_the_reply_shows_trashed_at(life: Life) -> None:
    doc = await life.document("d1")
    assert code(await life.run(TrashDocument(doc, BOB))) == "forbidden"
    assert code(await life.run(TrashDocument(doc, DAVE))) == "not_found"
    trashed = await life.ok(TrashDocument(doc, ALICE))
    assert trashed["trashed_at"] is not None


async def test_a_trashed_document_disappears_and_refuses_everything_but_restore_and_purge(
    life: Life,
) -> None:
    doc = await life.document("d1")
    assert (await life.get(doc))["ok"] and await life.listed(life.q3) == [doc]  # cached
    await life.ok(TrashDocument(doc, ALICE))
    assert code(await life.get(doc)) == "not_found"
    assert await life.listed(life.q3) == []
    for command in (
        RenameDocument(doc, ALICE, "x"), MoveDocument(doc, ALICE, life.archive),
        TrashDocument(doc, ALICE), RevertDocument(doc, ALICE, 1),
        ShareDocument(doc, ALICE, DAVE, Role.VIEWER),
    ):
        assert code(await life.run(command)) == "not_found", command


async def test_an_upload_reusing_a_trashed_doc_id_conflicts_for_readers_only(life: Life) -> None:
    doc = await life.document("d1")
    await life.ok(TrashDocument(doc, ALICE))
    assert code(await life.upload(doc, by=CAROL)) == "conflict"
    assert code(await life.upload(doc, by=DAVE)) == "not_found"


async def test_trash_emits_document_trashed_with_exactly_its_fields(life: Life) -> None:
    doc = await life.document("d1")
    before = len(await outbox(life))
    await life.ok(TrashDocument(doc, ALICE))
    [event] = (await outbox(life))[before:]
    assert set(event) == {"event_id", "type", "org_id", "occurred_at", "document_id",
                          "trashed_by"}
    assert (event["type"], event["document_id"], event["trashed_by"]) == (
        "DocumentTrashed", doc, ALICE)


# document.restore


async def test_restore_judges_access_as_if_not_trashed(life: Life) -> None:
    doc = await life.document("d1")
    await life.ok(TrashDocument(doc, ALICE))
    assert code(await life.run(RestoreDocument(doc, CAROL))) == "forbidden"
    assert code(await life.run(RestoreDocument(doc, DAVE))) == "not_found"
    restored = await life.ok(RestoreDocument(doc, ALICE))
    assert restored["trashed_at"] is None
    assert (await life.get(doc))["ok"]
    assert await life.listed(life.q3) == [doc]


async def test_restoring_a_live_document_changes_nothing(life: Life) -> None:
    doc = await life.document("d1")
    outcome = await life.run(RestoreDocument(doc, ALICE))
    assert outcome.decoded["ok"] and outcome.scopes == ()


async def test_a_document_cannot_come_back_while_its_folder_is_in_the_trash(life: Life) -> None:
    doc = await life.document("d1")
    await life.ok(TrashDocument(doc, ALICE))
    await life.ok(TrashFolder(life.y2026, ALICE))
    assert code(await life.run(RestoreDocument(doc, ALICE))) == "conflict"


# document.purge


async def test_purge_works_only_in_the_trash_and_returns_every_blob(life: Life) -> None:
    doc = await life.document("d1")
    await life.upload(doc, name="v2.pdf")
    assert code(await life.run(PurgeDocument(doc, ALICE))) == "conflict"
    await life.ok(TrashDocument(doc, ALICE))
    assert code(await life.run(PurgeDocument(doc, CAROL))) == "forbidden"
    purged = await life.ok(PurgeDocument(doc, ALICE))
    assert purged == {"doc_id": doc, "documents": 1,
                      "blob_uris": [f"s3://b/{doc}/report.pdf", f"s3://b/{doc}/v2.pdf"]}
    assert code(await life.get(doc)) == "not_found"
    assert await life.trashed() == []
    # the doc_id is free again: a new document, version 1
    assert (await life.upload(doc, by=DAVE)).decoded["data"]["version"] == 1


# document.revert


async def test_revert_stores_the_next_version_with_the_old_content(life: Life) -> None:
    doc = await life.document("d1")
    await life.upload(doc, name="v2.pdf")
    reverted = await life.ok(RevertDocument(doc, BOB, 1))
    assert (reverted["version"], reverted["name"]) == (3, "report.pdf")
    assert reverted["blob_uri"] == f"s3://b/{doc}/report.pdf"
    versions = (await life.get(doc))["data"]["versions"]
    assert [(v["version"], v["uploaded_by"]) for v in versions][-1] == (3, BOB)


async def test_revert_to_an_unknown_version_is_not_found(life: Life) -> None:
    doc = await life.document("d1")
    assert code(await life.run(RevertDocument(doc, ALICE, 7))) == "not_found"
    assert code(await life.run(RevertDocument(doc, CAROL, 1))) == "forbidden"


# folder.rename


async def test_renaming_a_folder_fixes_the_paths_of_its_subtree(life: Life) -> None:
    assert await life.names(life.y2026) == ["q3"]  # cached
    renamed = await life.ok(RenameFolder(life.reports, ALICE, "finance"))
    assert renamed["path"] == "/finance"
    [q3] = (await life.children(life.y2026))["data"]["folders"]
    assert q3["path"] == "/finance/2026/q3"
    assert await life.names(None) == ["archive", "finance"]


async def test_folder_rename_needs_write_on_the_folder(life: Life) -> None:
    assert code(await life.run(RenameFolder(life.reports, BOB, "x"))) == "forbidden"
    assert code(await life.run(RenameFolder(life.reports, MALLORY, "x"))) == "not_found"
    assert code(await life.run(RenameFolder(life.archive, ALICE, "x"))) == "forbidden"
    assert (await life.ok(RenameFolder(life.q3, ADA, "Q3")))["name"] == "Q3"
    assert (await life.ok(RenameFolder(life.q3, ALICE, "q3-inherited")))["name"] == "q3-inherited"


async def test_folder_names_stay_unique_among_live_siblings(life: Life) -> None:
    assert code(await life.run(RenameFolder(life.archive, ADA, "reports"))) == "conflict"
    outcome = await life.run(RenameFolder(life.archive, ADA, "archive"))
    assert outcome.decoded["ok"] and outcome.scopes == ()


# folder.move


async def test_moving_a_folder_carries_its_subtree(life: Life) -> None:
    doc = await life.document("d1")
    moved = await life.ok(MoveFolder(life.y2026, ALICE, life.archive))
    assert (moved["parent_id"], moved["path"]) == (life.archive, "/archive/2026")
    [q3] = (await life.children(life.y2026))["data"]["folders"]
    assert q3["path"] == "/archive/2026/q3"
    assert await life.names(life.reports) == []
    assert (await life.get(doc))["data"]["folder_id"] == life.q3
    root = await life.ok(MoveFolder(life.q3, ALICE, None))
    assert (root["parent_id"], root["path"]) == (None, "/q3")


async def test_a_folder_cannot_move_into_itself_or_below_itself(life: Life) -> None:
    assert code(await life.run(MoveFolder(life.reports, ALICE, life.reports))) == "conflict"
    assert code(await life.run(MoveFolder(life.reports, ALICE, life.q3))) == "conflict"
    assert code(await life.run(MoveFolder(life.reports, ALICE, life.id("f-globex")))) == (
        "not_found")
    assert code(await life.run(MoveFolder(life.y2026, BOB, None))) == "forbidden"


async def test_a_move_onto_a_taken_name_conflicts_and_a_stay_changes_nothing(life: Life) -> None:
    await life.ok(CreateFolder(life.id("f-other-2026"), life.org, life.archive, "2026", ADA))
    assert code(await life.run(MoveFolder(life.y2026, ALICE, life.archive))) == "conflict"
    outcome = await life.run(MoveFolder(life.y2026, ALICE, life.reports))
    assert outcome.decoded["ok"] and outcome.scopes == ()


# folder.trash and folder.restore


async def test_trashing_a_folder_hides_its_whole_subtree_cached_replies_included(
    life: Life,
) -> None:
    doc = await life.document("d1")
    assert (await life.get(doc))["ok"]
    assert await life.listed(life.q3) == [doc]
    assert await life.names(life.y2026) == ["q3"]
    trashed = await life.ok(TrashFolder(life.reports, ALICE))
    assert trashed["trashed_at"] is not None
    assert code(await life.get(doc)) == "not_found"
    assert code(await life.listing(life.q3)) == "not_found"
    assert code(await life.children(life.y2026)) == "not_found"
    assert await life.names(None) == ["archive"]
    assert code(await life.upload(life.id("new"), life.q3)) == "not_found"
    assert code(await life.run(TrashFolder(life.q3, ALICE))) == "not_found"
    assert code(await life.run(CreateFolder(life.id("x"), life.org, life.q3, "x", ALICE))) == (
        "not_found")


async def test_a_trashed_folder_gives_its_name_up(life: Life) -> None:
    await life.ok(TrashFolder(life.reports, ALICE))
    await life.ok(CreateFolder(life.id("f-new-reports"), life.org, None, "reports", BOB))
    assert code(await life.run(RestoreFolder(life.reports, ALICE))) == "conflict"


async def test_restoring_a_folder_brings_its_subtree_back_as_it_was_trashed(life: Life) -> None:
    alone = await life.document("alone")
    kept = await life.document("kept")
    await life.ok(TrashDocument(alone, ALICE))
    await life.ok(TrashFolder(life.reports, ALICE))
    assert code(await life.run(RestoreFolder(life.q3, ALICE))) == "conflict"
    assert code(await life.run(RestoreFolder(life.reports, BOB))) == "forbidden"
    restored = await life.ok(RestoreFolder(life.reports, ALICE))
    assert restored["trashed_at"] is None
    assert await life.listed(life.q3) == [kept]
    assert code(await life.get(alone)) == "not_found"
    assert await life.names(life.y2026) == ["q3"]


async def test_restoring_a_live_folder_changes_nothing(life: Life) -> None:
    outcome = await life.run(RestoreFolder(life.reports, ALICE))
    assert outcome.decoded["ok"] and outcome.scopes == ()


# folder.purge


async def test_purging_a_folder_removes_its_subtree_and_reports_each_document(
    life: Life,
) -> None:
    first = await life.document("p1")
    second = await life.document("p2", life.y2026)
    assert code(await life.run(PurgeFolder(life.reports, ALICE))) == "conflict"
    await life.ok(TrashFolder(life.reports, ALICE))
    purged = await life.ok(PurgeFolder(life.reports, ALICE))
    assert purged == {"folder_id": life.reports, "documents": 2, "blob_uris": []}
    assert await life.names(None) == ["archive"]
    assert await life.trashed() == []
    for doc in (first, second):
        assert code(await life.run(RestoreDocument(doc, ALICE))) == "not_found"
    assert code(await life.run(RestoreFolder(life.q3, ALICE))) == "not_found"


async def test_a_folder_purge_emits_one_document_purged_each_then_folder_purged(
    life: Life,
) -> None:
    doc = await life.document("p1")
    await life.ok(TrashFolder(life.y2026, ALICE))
    before = len(await outbox(life))
    await life.ok(PurgeFolder(life.y2026, ADA))
    events = (await outbox(life))[before:]
    assert [e["type"] for e in events] == ["DocumentPurged", "FolderPurged"]
    assert events[0]["document_id"] == doc and events[0]["purged_by"] == ADA
    assert events[0]["blob_uris"] == [f"s3://b/{doc}/report.pdf"]
    assert set(events[1]) == {"event_id", "type", "org_id", "occurred_at", "folder_id",
                              "documents", "purged_by"}


# folder.children


async def test_children_lists_live_folders_by_name_in_pages(life: Life) -> None:
    for name in ("b", "a", "c"):
        await life.ok(CreateFolder(life.id(f"f-{name}"), life.org, life.archive, name, ADA))
    first = await life.children(life.archive, DAVE, limit=2)
    assert [f["name"] for f in first["data"]["folders"]] == ["a", "b"]
    second = await life.children(life.archive, DAVE, limit=2,
                                 cursor=first["data"]["next_cursor"])
    assert [f["name"] for f in second["data"]["folders"]] == ["c"]
    assert second["data"]["next_cursor"] is None


async def test_children_is_for_members_of_the_org_only(life: Life) -> None:
    assert code(await life.children(None, MALLORY)) == "not_found"
    assert code(await life.children(life.id("f-globex"), ALICE)) == "not_found"
    assert code(await life.children(life.id("nope"), ALICE)) == "not_found"


# trash.list


async def test_trash_lists_what_the_reader_could_restore_newest_first(life: Life) -> None:
    alone = await life.document("alone")
    await life.ok(TrashDocument(alone, ALICE))
    await life.document("inside")
    await life.ok(TrashFolder(life.y2026, ALICE))
    expected = [("folder", life.y2026), ("document", alone)]
    assert await life.trashed(ALICE) == expected
    assert await life.trashed(ADA) == expected
    assert await life.trashed(BOB) == []
    item = (await life.trash(ALICE))["data"]["items"][1]
    assert item["trashed_by"] == ALICE and item["document"]["trashed_at"] == item["trashed_at"]
    assert code(await life.trash(MALLORY)) == "not_found"


async def test_trash_pages_with_a_cursor(life: Life) -> None:
    docs = [await life.document(f"t{i}") for i in range(3)]
    for doc in docs:
        await life.ok(TrashDocument(doc, ALICE))
    first = await life.trash(ALICE, limit=2)
    second = await life.trash(ALICE, limit=2, cursor=first["data"]["next_cursor"])
    listed = [i["document"]["doc_id"] for i in first["data"]["items"] + second["data"]["items"]]
    assert listed == docs[::-1]
    assert second["data"]["next_cursor"] is None
    with pytest.raises(InvalidCommand):
        await life.trash(ALICE, cursor=first["data"]["next_cursor"][:-3])
    children = Listing(f"children:{life.org}:", ALICE)
    with pytest.raises(InvalidCommand):  # a children cursor is no trash cursor
        await life.trash(ALICE, cursor=encode_key(life.cursors, children, "children", ["a", "b"]))
    mine = Listing(f"trash:{life.org}", ALICE)
    for forged in (  # signed with the right key, yet nothing docbus would ever issue
        ["9999-12-31T23:59:59-14:00", "document", "d1"],
        ["0001-01-01T00:00:00+14:00", "document", "d1"],
        ["2026-01-01T00:00:00", "document", "d1"],
        ["2026-01-01T00:00:00+00:00", "document", "d\x00"],
        ["2026-01-01T00:00:00+00:00", "share", "d1"],
    ):
        with pytest.raises(InvalidCommand):
            await life.trash(ALICE, cursor=encode_key(life.cursors, mine, "trash", forged))
    with pytest.raises(InvalidCommand):  # another reader's cursor
        await life.trash(BOB, cursor=first["data"]["next_cursor"])


# retention sweeper


async def sweep_what_others_left(life: Life) -> None:
    """The sweeper is global: on PostgreSQL, first purge what other tests left in the
    trash. Ten years ahead: their trash times come from their own clocks or from today's
    date (31 days from this clock's start stopped covering today's on 2026-11-25)."""
    life.clock.advance(3650 * 86400)
    await life.sweeper().until_done()


async def test_the_sweeper_purges_what_stayed_past_the_retention_with_events(
    life: Life,
) -> None:
    await sweep_what_others_left(life)
    old = await life.document("old")
    inside = await life.document("inside", life.y2026)
    await life.ok(TrashDocument(old, ALICE))
    await life.ok(TrashFolder(life.y2026, ALICE))
    life.clock.advance(29 * 86400)
    young = await life.document("young", life.archive)
    await life.ok(TrashDocument(young, ALICE))
    before = len(await outbox(life))
    life.clock.advance(86400)  # old and the folder: 30 days and more; young: one day
    assert await life.sweeper().until_done() == 2
    events = (await outbox(life))[before:]
    assert [(e["type"], e.get("document_id") or e.get("folder_id")) for e in events] == [
        ("DocumentPurged", old), ("DocumentPurged", inside), ("FolderPurged", life.y2026)]
    assert all(e["purged_by"] is None for e in events)
    assert await life.trashed(ADA) == [("document", young)]
    assert await life.sweeper().until_done() == 0


async def test_the_sweeper_works_in_bounded_batches(life: Life) -> None:
    await sweep_what_others_left(life)
    docs = [await life.document(f"b{i}") for i in range(3)]
    for doc in docs:
        await life.ok(TrashDocument(doc, ALICE))
    life.clock.advance(31 * 86400)
    sweeper = life.sweeper(batch=2)
    assert await sweeper() == 2
    assert len(await life.trashed(ADA)) == 1
    assert await sweeper() == 1
