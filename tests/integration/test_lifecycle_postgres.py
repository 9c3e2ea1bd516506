"""The lifecycle rules of tests/unit/test_lifecycle.py, run again on PostgreSQL (the
folder tree's SQL: ancestor arrays, subtree updates, trash seen through ancestors), plus
what only the database can show: subtree operations touch folder rows only, and
crossing moves never make a cycle."""

from __future__ import annotations

import asyncio

import pytest

from docbus.adapters.postgres import PgDatabase, PgGroupedUnitFactory, PgUnitOfWorkFactory
from docbus.adapters.postgres.tree_sql import SWEEPER_LOCK
from docbus.core.values import Role
from docbus.handlers.bus import CommandBus
from docbus.handlers.create_folder import CreateFolder
from docbus.handlers.group_commit import GroupCommit
from docbus.handlers.move_folder import MoveFolder
from docbus.handlers.rename_folder import RenameFolder
from docbus.handlers.restore_folder import RestoreFolder
from docbus.handlers.share_document import ShareDocument
from docbus.handlers.trash_document import TrashDocument
from docbus.handlers.trash_folder import TrashFolder
from tests.lifecycle_harness import ADA, ALICE, DAVE, Life, code
from tests.unit.conftest import key_of
from tests.unit.test_lifecycle import (  # noqa: F401 - collected again, on PostgreSQL
    test_a_document_cannot_come_back_while_its_folder_is_in_the_trash,
    test_a_folder_cannot_move_into_itself_or_below_itself,
    test_a_folder_purge_emits_one_document_purged_each_then_folder_purged,
    test_a_move_onto_a_taken_name_conflicts_and_a_stay_changes_nothing,
    test_a_move_target_must_be_a_live_folder_of_the_same_org,
    test_a_trashed_document_disappears_and_refuses_everything_but_restore_and_purge,
    test_a_trashed_folder_gives_its_name_up,
    test_a_writer_moves_a_document_and_both_listings_follow,
    test_a_writer_renames_a_document_and_its_versions_keep_their_names,
    test_an_upload_reusing_a_trashed_doc_id_conflicts_for_readers_only,
    test_children_is_for_members_of_the_org_only,
    test_children_lists_live_folders_by_name_in_pages,
    test_folder_names_stay_unique_among_live_siblings,
    test_folder_rename_needs_write_on_the_folder,
    test_moving_a_folder_carries_its_subtree,
    test_moving_into_its_own_folder_changes_nothing,
    test_purge_works_only_in_the_trash_and_returns_every_blob,
    test_purging_a_folder_removes_its_subtree_and_reports_each_document,
    test_renaming_a_folder_fixes_the_paths_of_its_subtree,
    test_renaming_needs_write_and_hides_the_document_from_non_readers,
    test_renaming_to_the_same_name_changes_nothing,
    test_restore_judges_access_as_if_not_trashed,
    test_restoring_a_folder_brings_its_subtree_back_as_it_was_trashed,
    test_restoring_a_live_document_changes_nothing,
    test_restoring_a_live_folder_changes_nothing,
    test_revert_stores_the_next_version_with_the_old_content,
    test_revert_to_an_unknown_version_is_not_found,
    test_the_sweeper_purges_what_stayed_past_the_retention_with_events,
    test_the_sweeper_works_in_bounded_batches,
    test_trash_emits_document_trashed_with_exactly_its_fields,
    test_trash_lists_what_the_reader_could_restore_newest_first,
    test_trash_needs_share_and_the_reply_shows_trashed_at,
    test_trash_pages_with_a_cursor,
    test_trashing_a_folder_hides_its_whole_subtree_cached_replies_included,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def life(pg_db: PgDatabase, uid: str) -> Life:
    return await Life(PgUnitOfWorkFactory(pg_db), prefix=f"{uid}-").setup()


async def test_subtree_changes_keep_ancestors_and_paths_exact(
    life: Life, pg_db: PgDatabase
) -> None:
    await life.ok(MoveFolder(life.y2026, ALICE, life.archive))
    await life.ok(MoveFolder(life.archive, ADA, life.reports))
    rows = await pg_db.fetch(
        "SELECT folder_id, ancestors, path FROM folders WHERE folder_id = ANY($1::text[])",
        [life.reports, life.archive, life.y2026, life.q3],
    )
    found = {r["folder_id"]: (r["ancestors"], r["path"]) for r in rows}
    assert found[life.q3] == (
        [life.reports, life.archive, life.y2026], "/reports/archive/2026/q3"
    )
    assert found[life.archive] == ([life.reports], "/reports/archive")


async def test_subtree_operations_never_rewrite_the_documents_below(
    life: Life, pg_db: PgDatabase
) -> None:
    docs = [await life.document(f"d{i}", life.q3 if i % 2 else life.y2026) for i in range(6)]
    versions = "SELECT doc_id, xmin::text FROM documents WHERE doc_id = ANY($1::text[])"
    before = {r[0]: r[1] for r in await pg_db.fetch(versions, docs)}
    await life.ok(RenameFolder(life.reports, ALICE, "finance"))
    await life.ok(MoveFolder(life.y2026, ALICE, life.archive))
    await life.ok(TrashFolder(life.archive, ADA))
    await life.ok(RestoreFolder(life.archive, ADA))
    after = {r[0]: r[1] for r in await pg_db.fetch(versions, docs)}
    assert after == before  # xmin changes with every update of a row
    assert sorted(await life.listed(life.q3)) == sorted(docs[1::2])


async def test_crossing_moves_never_make_a_cycle(life: Life) -> None:
    a, b = life.id("f-a"), life.id("f-b")
    await life.ok(CreateFolder(a, life.org, None, "a", ALICE))
    await life.ok(CreateFolder(b, life.org, None, "b", ALICE))
    outcomes = await asyncio.gather(
        life.run(MoveFolder(a, ALICE, b)), life.run(MoveFolder(b, ALICE, a))
    )
    assert sorted(code(o) or "ok" for o in outcomes) == ["conflict", "ok"]


async def test_one_sweeper_at_a_time(life: Life, pg_db: PgDatabase) -> None:
    doc = await life.document("old")
    await life.ok(TrashDocument(doc, ALICE))
    life.clock.advance(31 * 86400)
    async with pg_db.pool.acquire() as other, other.transaction():
        assert await other.fetchval(SWEEPER_LOCK)  # another sweeper is at work
        assert await life.sweeper()() == 0
    assert await life.sweeper()() >= 1


async def test_a_group_sees_what_an_earlier_lifecycle_command_changed(
    life: Life, pg_db: PgDatabase
) -> None:
    """Group commit: a share's read-ahead (the document, locked, with access) happens
    before the group's trash runs; the trash makes the unit forget it, so the share finds
    the document in the trash, and the refusal splits the group. Alone, the two run
    concurrently in either order (commands that arrive together have none): the share is
    refused if the trash came first, and stands (before the trash) otherwise."""
    doc = await life.document("d1")
    bus = GroupCommit(CommandBus(life.uow, life.cache), PgGroupedUnitFactory(pg_db),
                      life.cache, group_size=8)
    trash, share = TrashDocument(doc, ALICE), ShareDocument(doc, ALICE, DAVE, Role.VIEWER)
    outcomes = await asyncio.gather(
        bus.execute(life.use_cases[TrashDocument], trash, key_of(trash, life.id("m-trash"))),
        bus.execute(life.use_cases[ShareDocument], share, key_of(share, life.id("m-share"))),
    )
    assert bus.split == 1  # the refusal split the group; each then ran alone
    assert code(outcomes[0]) is None
    assert code(outcomes[1]) in (None, "not_found")
