"""The schema: the migrations build exactly the metadata, from empty, as often as asked;
0002 keeps a populated inbox; the audit log is append-only; listings run on the keyset
index."""

from __future__ import annotations

import asyncio
import json
from typing import Any, TypeAlias

import asyncpg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from docbus.adapters.postgres import PgAuditLog, PgDatabase, PgUnitOfWorkFactory
from docbus.adapters.postgres.access_filter import readable_sql
from docbus.adapters.postgres.database import asyncpg_dsn, sqlalchemy_url
from docbus.adapters.postgres.migrate import (
    alembic_config,
    drop_database,
    ensure_database,
    upgrade,
    upgrade_async,
)
from docbus.adapters.postgres.repositories import PAGE_SQL, page_sql
from docbus.adapters.postgres.tables import metadata
from docbus.core.decisions import ReadableFilter
from docbus.core.idempotency import IdempotencyKey, MessageIdUnverifiable
from docbus.core.ports import AuditEntry
from tests.fixtures.postgres import scratch_url
from tests.integration.test_unit_of_work_contract import T0

pytestmark = pytest.mark.integration

AdminConn: TypeAlias = "asyncpg.Connection[asyncpg.Record]"


def _differences(connection: Connection) -> list[Any]:
    return list(compare_metadata(MigrationContext.configure(connection), metadata))


async def test_the_migration_builds_exactly_the_metadata(pg_url: str) -> None:
    engine = create_async_engine(pg_url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
    finally:
        await engine.dispose()


async def test_the_migration_builds_what_autogenerate_cannot_compare(pg_admin: AdminConn) -> None:
    sibling = await pg_admin.fetchval(
        "SELECT indexdef FROM pg_indexes WHERE indexname = 'uq_folders_sibling_name'"
    )
    assert "UNIQUE" in sibling
    assert "COALESCE(parent_id, ''::text)" in sibling
    assert "WHERE (trashed_at IS NULL)" in sibling
    triggers = await pg_admin.fetch(
        "SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_log'::regclass"
        " AND NOT tgisinternal ORDER BY tgname"
    )
    assert [t["tgname"] for t in triggers] == [
        "audit_log_no_truncate", "audit_log_no_update_delete"
    ]
    collations = await pg_admin.fetch(
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = 'public' AND collation_name = 'C'"
    )
    assert ("documents", "doc_id") in {tuple(c.values()) for c in collations}


async def test_migrating_from_empty_works_and_repeats_harmlessly() -> None:
    url = scratch_url("docbus_migrate")
    try:
        created = await asyncio.gather(ensure_database(url), ensure_database(url))
        assert sorted(created) == [False, True]
        await asyncio.gather(upgrade_async(url), upgrade_async(url))
        await asyncio.to_thread(upgrade, url)
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            head = ScriptDirectory.from_config(alembic_config()).get_current_head()
            assert await conn.fetchval("SELECT version_num FROM alembic_version") == head
            assert await conn.fetchval("SELECT count(*) FROM documents") == 0
        finally:
            await conn.close()
    finally:
        await drop_database(url)


async def test_the_migration_goes_down_and_up_again_on_its_own_engine() -> None:
    url = scratch_url("docbus_migrate")
    await ensure_database(url)
    try:
        await upgrade_async(url)
        await asyncio.to_thread(command.downgrade, alembic_config(url), "base")
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            assert await conn.fetchval("SELECT to_regclass('public.documents')") is None
        finally:
            await conn.close()
        await asyncio.to_thread(command.upgrade, alembic_config(url), "head")
    finally:
        await drop_database(url)


async def test_migration_0002_keeps_every_inbox_row_and_refuses_their_message_ids() -> None:
    """v1 rows keep their reply (as UTF-8 text of the JSONB) and scopes; their message_id
    stays taken for every sender and is refused, never replayed nor acted on again."""
    url = scratch_url("docbus_migrate")
    await ensure_database(url)
    try:
        await upgrade_async(url, "0001")
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            await conn.executemany(
                "INSERT INTO inbox (message_id, reply, scopes) VALUES ($1, $2, $3)",
                [(f"m{n}", json.dumps({"ok": True, "data": {"n": n}}), [f"d:{n}"])
                 for n in range(50)],
            )
            await upgrade_async(url)
            rows = await conn.fetch("SELECT * FROM inbox ORDER BY message_id")
        finally:
            await conn.close()
        assert len(rows) == 50
        assert {(r["sender"], r["routing_key"], r["fingerprint"]) for r in rows} == {
            ("", None, None)
        }
        assert json.loads(rows[0]["reply"]) == {"ok": True, "data": {"n": 0}}
        assert rows[0]["scopes"] == ["d:0"]
        db = await PgDatabase.connect(url, min_size=1, max_size=2)
        try:
            await _v1_message_ids_are_refused(PgUnitOfWorkFactory(db))
        finally:
            await db.close()
    finally:
        await drop_database(url)


async def _v1_message_ids_are_refused(uow: PgUnitOfWorkFactory) -> None:
    for sender in ("", "svc"):
        key = IdempotencyKey.of(sender, "m7", "document.upload", b"{}")
        async with uow() as unit:
            assert not await unit.inbox.record(key, b"new", [])
            stored = await unit.inbox.find(key)
        assert stored is not None
        assert isinstance(stored.refusal(key), MessageIdUnverifiable)


def test_urls_are_accepted_in_either_form() -> None:
    assert asyncpg_dsn("postgresql+asyncpg://u:p@h:5/db") == "postgresql://u:p@h:5/db"
    assert asyncpg_dsn("postgresql://u@h/db") == "postgresql://u@h/db"
    assert asyncpg_dsn("postgres://u@h/db") == "postgresql://u@h/db"
    assert sqlalchemy_url("postgresql://u@h/db") == "postgresql+asyncpg://u@h/db"
    with pytest.raises(ValueError, match="PostgreSQL"):
        asyncpg_dsn("mysql://u@h/db")


async def test_the_audit_log_refuses_updates_deletes_and_truncation(
    pg_db: PgDatabase, pg_admin: AdminConn, uid: str
) -> None:
    entry = AuditEntry(f"{uid}-e", "FolderCreated", uid, T0, "folder.created", {"a": 1})
    assert await PgAuditLog(pg_db).append([entry]) == 1
    for statement in (
        "UPDATE audit_log SET type = 'x' WHERE event_id = $1",
        "DELETE FROM audit_log WHERE event_id = $1",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await pg_admin.execute(statement, entry.event_id)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await pg_admin.execute("TRUNCATE audit_log")
    row = await pg_admin.fetchrow("SELECT * FROM audit_log WHERE event_id = $1", entry.event_id)
    assert row is not None
    assert json.loads(row["body"]) == {"a": 1}
    assert row["occurred_at"] == T0


# Listings: the first page of a big folder costs what the first page of a small one does.

FOLDER_SIZE = 20_000


@pytest.fixture
async def big_folder(pg_admin: AdminConn, uid: str) -> str:
    folder_id = f"{uid}-big"
    await pg_admin.execute(
        "INSERT INTO folders (folder_id, org_id, name, path) VALUES ($1, $2, 'big', '/big')",
        folder_id, uid,
    )
    await pg_admin.execute(
        """
        INSERT INTO documents
        SELECT $1 || '-d' || g, $2, $1, 'owner', 1, 'n', 'text/plain', 'b', NULL, NULL, '{}',
               $3::timestamptz + g * interval '1 second', $3::timestamptz + g * interval '1 second'
        FROM generate_series(1, $4::int) AS g
        """,
        folder_id, uid, T0, FOLDER_SIZE,
    )
    await pg_admin.execute(
        "INSERT INTO shares SELECT doc_id, 'reader', 'viewer' FROM documents"
        " WHERE folder_id = $1 AND right(doc_id, 1) = '7'", folder_id,
    )
    await pg_admin.execute(
        "INSERT INTO shares SELECT doc_id, 'rare', 'owner' FROM documents"
        " WHERE folder_id = $1 AND doc_id LIKE '%-d1_'", folder_id,
    )
    await pg_admin.execute("ANALYZE documents; ANALYZE shares")
    return folder_id


async def _plan(admin: AdminConn, sql: str, *args: object) -> dict[str, Any]:
    explained = await admin.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", *args)
    plan: dict[str, Any] = json.loads(explained)[0]["Plan"]
    return plan


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(n for child in plan.get("Plans", []) for n in _nodes(child))]


async def test_an_admin_listing_reads_one_page_of_the_index(
    pg_admin: AdminConn, big_folder: str
) -> None:
    after = (T0.replace(hour=12), f"{big_folder}-d99999")
    for sql, args in (
        (PAGE_SQL[True, False], (big_folder, 51)),
        (PAGE_SQL[True, True], (big_folder, 51, *after)),
    ):
        nodes = _nodes(await _plan(pg_admin, sql, *args))
        scans = [n for n in nodes if n.get("Index Name") == "ix_documents_listing"]
        assert scans, nodes
        assert not [n for n in nodes if n["Node Type"] == "Sort"]
        assert scans[0]["Actual Rows"] <= 51


async def test_a_member_listing_never_walks_the_whole_folder(
    pg_admin: AdminConn, big_folder: str
) -> None:
    """Whether the reader holds roles on many documents (walk the listing index, probe
    shares) or on few (walk their shares, sort a handful), a page reads a page's worth."""
    for reader in ("reader", "rare"):
        nodes = _nodes(await _plan(pg_admin, PAGE_SQL[False, False], big_folder, 51, reader))
        scanned = [n["Actual Rows"] * n["Actual Loops"] for n in nodes if "Scan" in n["Node Type"]]
        assert max(scanned) < FOLDER_SIZE / 10, nodes


async def test_a_member_listing_by_a_cerbos_plan_never_walks_the_whole_folder(
    pg_admin: AdminConn, big_folder: str
) -> None:
    """The listing SQL of a Cerbos query plan (docbus's policies' shape: the reader's
    document share, live at the plan's instant) reads a page's worth, as the built-in."""
    now = "2026-06-01T12:00:00Z"
    live = {"expression": {"operator": "or", "operands": [
        {"expression": {"operator": "eq", "operands": [
            {"variable": "request.resource.attr.doc_expires_at"}, {"value": None}]}},
        {"expression": {"operator": "gt", "operands": [
            {"expression": {"operator": "timestamp", "operands": [
                {"variable": "request.resource.attr.doc_expires_at"}]}},
            {"expression": {"operator": "timestamp", "operands": [{"value": now}]}}]}}]}}
    plan = {"expression": {"operator": "or", "operands": [
        {"expression": {"operator": "and", "operands": [
            {"expression": {"operator": "eq", "operands": [
                {"variable": "request.resource.attr.doc_role"}, {"value": role}]}}, live]}}
        for role in ("viewer", "editor", "owner")]}}
    filtered = readable_sql(ReadableFilter("plan", plan), reader=3, first=4)
    sql = page_sql(filtered, reader=True, after=None)
    for reader in ("reader", "rare"):
        nodes = _nodes(await _plan(pg_admin, sql, big_folder, 51, reader, *filtered.args))
        scanned = [n["Actual Rows"] * n["Actual Loops"] for n in nodes if "Scan" in n["Node Type"]]
        assert max(scanned) < FOLDER_SIZE / 10, nodes
        rows = [n["Actual Rows"] for n in nodes if n["Node Type"] == "Limit"]
        assert rows and rows[0] > 0, nodes
