"""Migration 0003 upgrades a populated v1 database in place: no row lost, the folder tree
indexed (ancestors), and v2 commands work on what v1 wrote. Folders from before v2 have
no owner share: org admins manage them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from docbus.adapters.postgres import PgDatabase, PgUnitOfWorkFactory
from docbus.adapters.postgres.database import asyncpg_dsn
from docbus.adapters.postgres.migrate import drop_database, ensure_database, upgrade_async
from docbus.handlers.folder_children import ListChildren
from docbus.handlers.move_folder import MoveFolder
from docbus.handlers.rename_folder import RenameFolder
from docbus.handlers.trash_document import TrashDocument
from docbus.handlers.trash_folder import TrashFolder
from tests.fixtures.postgres import scratch_url
from tests.lifecycle_harness import Life, code

pytestmark = pytest.mark.integration

V1_DATA = """
INSERT INTO memberships VALUES ('acme', 'alice', 'member'), ('acme', 'ada', 'admin');
INSERT INTO folders (folder_id, org_id, parent_id, name, path) VALUES
    ('f1', 'acme', NULL, 'reports', '/reports'),
    ('f2', 'acme', 'f1', '2026', '/reports/2026'),
    ('f3', 'acme', 'f2', 'q3', '/reports/2026/q3'),
    ('f4', 'acme', NULL, 'archive', '/archive');
INSERT INTO documents VALUES ('d1', 'acme', 'f3', 'alice', 2, 'r.pdf', 'application/pdf',
    's3://b/r2', NULL, NULL, '{}', now(), now());
INSERT INTO document_versions VALUES
    ('d1', 1, 'r.pdf', 'application/pdf', 's3://b/r1', NULL, NULL, '{}', 'alice', now()),
    ('d1', 2, 'r.pdf', 'application/pdf', 's3://b/r2', NULL, NULL, '{}', 'alice', now());
INSERT INTO shares VALUES ('d1', 'alice', 'owner');
INSERT INTO inbox (message_id, reply, scopes) VALUES ('m1', '{"ok": true}', '{}');
INSERT INTO outbox (event_id, routing_key, body, scopes) VALUES ('e1', 'x', 'y', '{}');
INSERT INTO audit_log (event_id, type, org_id, occurred_at, routing_key, body)
    VALUES ('e0', 'FolderCreated', 'acme', now(), 'folder.created', '{}');
"""
TABLES = ("memberships", "folders", "documents", "document_versions", "shares", "inbox",
          "outbox", "audit_log")


@pytest.fixture
async def v1_url() -> AsyncIterator[str]:
    url = scratch_url("docbus_v1")
    await ensure_database(url)
    try:
        await upgrade_async(url, "0001")
        yield url
    finally:
        await drop_database(url)


async def _counts(conn: asyncpg.Connection[asyncpg.Record]) -> dict[str, int]:
    return {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in TABLES}


async def test_a_populated_v1_database_upgrades_in_place_and_takes_v2_commands(
    v1_url: str,
) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(v1_url))
    try:
        await conn.execute(V1_DATA)
        before = await _counts(conn)
        await upgrade_async(v1_url)
        assert await _counts(conn) == before
        rows = await conn.fetch("SELECT folder_id, ancestors FROM folders ORDER BY folder_id")
        assert {r[0]: r[1] for r in rows} == {
            "f1": [], "f2": ["f1"], "f3": ["f1", "f2"], "f4": []
        }
        assert await conn.fetchval("SELECT count(*) FROM folder_shares") == 0
    finally:
        await conn.close()
    db = await PgDatabase.connect(v1_url, min_size=1, max_size=4)
    try:
        await _v2_commands_on_v1_data(Life(PgUnitOfWorkFactory(db)))
    finally:
        await db.close()


async def _v2_commands_on_v1_data(life: Life) -> None:
    # a pre-v2 folder has no owner: a member may not rename it, an admin may
    assert code(await life.run(RenameFolder("f1", "alice", "finance"))) == "forbidden"
    await life.ok(RenameFolder("f1", "ada", "finance"))
    moved = await life.ok(MoveFolder("f2", "ada", "f4"))
    assert moved["path"] == "/archive/2026"
    reply = await life.children_of(ListChildren("acme", "f2", "alice"))
    assert b'"/archive/2026/q3"' in reply
    assert (await life.get("d1", "alice"))["data"]["version"] == 2
    await life.ok(TrashDocument("d1", "alice"))
    await life.ok(TrashFolder("f4", "ada"))
    assert [i["kind"] for i in (await life.trash("ada"))["data"]["items"]] == [
        "folder", "document"
    ]
