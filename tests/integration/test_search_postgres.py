"""document.search's handler tests of tests/unit/test_search_documents.py, run again on
PostgreSQL (full text, the access filter in SQL, the trash seen through ancestors); plus
the plans: a member's search does not walk the org's documents through the access check."""

from __future__ import annotations

import pytest

from docbus.adapters.postgres import PgDatabase, PgUnitOfWorkFactory
from tests.lifecycle_harness import Life
from tests.unit.test_search_documents import (  # noqa: F401 - collected again, on PostgreSQL
    Finder,
    test_a_folder_share_reaches_the_whole_subtree_and_its_revoke_too,
    test_a_revoked_document_share_shows_at_once,
    test_a_stranger_and_another_orgs_member_get_not_found,
    test_a_trashed_folder_hides_its_subtree_until_restored,
    test_each_reader_finds_what_they_may_read,
    test_pages_follow_the_cursor_bound_to_reader_and_filters,
    test_renames_moves_trash_and_restore_show_at_once,
    test_the_folder_filter_needs_a_live_folder_of_the_org,
    test_the_reply_carries_whole_documents,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def life(pg_db: PgDatabase, uid: str) -> Life:
    return await Life(PgUnitOfWorkFactory(pg_db), prefix=f"{uid}-").setup()


@pytest.fixture
def finder(life: Life) -> Finder:
    return Finder(life)
