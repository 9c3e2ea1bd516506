"""Rows straight into PostgreSQL: big folders and a big store, far faster than commands.

A seeded document looks like one that came through UploadDocument: a ``documents`` row
(version 1), its ``document_versions`` row, and the uploader's ``owner`` share. Seeded
documents are older than anything uploaded during the run (``updated_at`` counts back
from a fixed point a day ago), so listings' first pages are the same for every reader.
After seeding, ANALYZE gives the planner the statistics autovacuum would give it.
"""

from __future__ import annotations

import asyncpg

INSERT_DOCUMENTS = """
INSERT INTO documents (doc_id, org_id, folder_id, owner_id, version, name, mime_type,
    blob_uri, size_bytes, sha256, tags, created_at, updated_at)
SELECT $1 || g, $2, $3, $4, 1, 'seed-' || g || '.pdf', 'application/pdf',
    's3://bench/' || $1 || g, 4096, NULL, ARRAY['seed'],
    now() - interval '1 day' - make_interval(secs => g),
    now() - interval '1 day' - make_interval(secs => g)
FROM generate_series($5::int, $6::int) AS g
"""
INSERT_VERSIONS = """
INSERT INTO document_versions (doc_id, version, name, mime_type, blob_uri, size_bytes,
    sha256, tags, uploaded_by, uploaded_at)
SELECT doc_id, 1, name, mime_type, blob_uri, size_bytes, sha256, tags, owner_id, created_at
FROM documents WHERE folder_id = $1 AND doc_id LIKE $2 || '%'
"""
INSERT_SHARES = """
INSERT INTO shares (doc_id, user_id, role)
SELECT doc_id, owner_id, 'owner' FROM documents WHERE folder_id = $1 AND doc_id LIKE $2 || '%'
"""
# The same for one range of ``<prefix><n>`` ids: a folder seeded in several batches has
# one prefix, so the batch's rows are told apart by their number.
INSERT_VERSIONS_RANGE = """
INSERT INTO document_versions (doc_id, version, name, mime_type, blob_uri, size_bytes,
    sha256, tags, uploaded_by, uploaded_at)
SELECT doc_id, 1, name, mime_type, blob_uri, size_bytes, sha256, tags, owner_id, created_at
FROM documents
WHERE folder_id = $1
    AND doc_id IN (SELECT $2 || g FROM generate_series($3::int, $4::int) AS g)
"""
INSERT_SHARES_RANGE = """
INSERT INTO shares (doc_id, user_id, role)
SELECT doc_id, owner_id, 'owner' FROM documents
WHERE folder_id = $1
    AND doc_id IN (SELECT $2 || g FROM generate_series($3::int, $4::int) AS g)
"""
INSERT_ADMINS = """
INSERT INTO memberships (org_id, user_id, role)
SELECT $1, $2 || g, 'admin' FROM generate_series(1, $3::int) AS g
ON CONFLICT DO NOTHING
"""
BATCH = 200_000


async def _connect(pg_url: str) -> asyncpg.Connection[asyncpg.Record]:
    return await asyncpg.connect(pg_url, command_timeout=900)


async def seed_folder(
    pg_url: str, folder_id: str, count: int, prefix: str, *, org_id: str, owner_id: str
) -> None:
    """Add ``count`` documents ``<prefix><n>`` to an existing folder, in batches."""
    conn = await _connect(pg_url)
    try:
        for first in range(1, count + 1, BATCH):
            last = min(count, first + BATCH - 1)
            batch = f"{prefix}{first}-"
            async with conn.transaction():
                await conn.execute(
                    INSERT_DOCUMENTS, batch, org_id, folder_id, owner_id, first, last
                )
                await conn.execute(INSERT_VERSIONS, folder_id, batch)
                await conn.execute(INSERT_SHARES, folder_id, batch)
        await conn.execute("ANALYZE documents, document_versions, shares")
    finally:
        await conn.close()


async def seed_folders(
    pg_url: str, counts: dict[str, int], prefix: str, *, org_id: str, owner_id: str
) -> None:
    """Add ``counts[folder]`` documents ``<prefix><folder>-<n>`` (n from 1) to each of
    several existing folders, then ANALYZE once (a subtree: many folders, one statistic)."""
    conn = await _connect(pg_url)
    try:
        for folder_id, count in counts.items():
            for first in range(1, count + 1, BATCH):
                last = min(count, first + BATCH - 1)
                ids = f"{prefix}{folder_id}-"
                async with conn.transaction():
                    await conn.execute(
                        INSERT_DOCUMENTS, ids, org_id, folder_id, owner_id, first, last
                    )
                    await conn.execute(INSERT_VERSIONS_RANGE, folder_id, ids, first, last)
                    await conn.execute(INSERT_SHARES_RANGE, folder_id, ids, first, last)
        await conn.execute("ANALYZE documents, document_versions, shares")
    finally:
        await conn.close()


async def seed_admins(pg_url: str, org_id: str, prefix: str, count: int) -> list[str]:
    """``count`` org admins ``<prefix>1..count``: readers whose cache keys are all new."""
    conn = await _connect(pg_url)
    try:
        await conn.execute(INSERT_ADMINS, org_id, prefix, count)
    finally:
        await conn.close()
    return [f"{prefix}{n}" for n in range(1, count + 1)]


async def count_documents(pg_url: str) -> int:
    conn = await _connect(pg_url)
    try:
        total: int = await conn.fetchval("SELECT count(*) FROM documents")
    finally:
        await conn.close()
    return total
