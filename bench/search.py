"""document.search against the raw RPC reference beside it (issue 12, part 1).

The store: ``search_documents`` documents (100,000 by default, 1,000,000 with ``--full``;
``--search-docs N`` or the environment's ``DOCBUS_BENCH_SEARCH_DOCS`` set it for any
mode) in an org of their own, seeded by set-based ``INSERT ... SELECT generate_series``
(never through the worker), in 1,000 folders: 100 roots with 9 children each, the
documents spread evenly. Each name is three words and the tags one word of a vocabulary
of 5,000 made-up words drawn with a Zipf-like spread (rank ``r`` about ``1/r`` as often:
``exp(random() * ln 5000)``).

The query: the word of median frequency (rank 2,500) and a three-letter prefix (of the
most frequent word, so that the first page is not empty for the admin), first page of 50.
Two readers: the org's admin (everything) and a member holding a viewer folder share on
one root, whose subtree is 1% of the org. Each search is paired with one raw RPC call
(``Scenario.paired_seq``); the target is each reader's p50 within 10x of the raw p50.

The plans of both readers' statements (EXPLAIN ANALYZE, as the worker prepares them) are
printed to stderr, and the rows the member's plan reads from ``documents`` are reported.
"""

from __future__ import annotations

import json
import math
import random
import sys
import time
from typing import Any

import asyncpg

from bench.docbus_bench import Scenario
from bench.queries import latency
from bench.stats import BenchError
from docbus.adapters.postgres.search import search_sql

SEARCH_ORG, SEARCH_ADMIN, SEARCH_MEMBER = "search-org", "s-admin", "s-member"
OWNER = "s-owner"
VOCABULARY = 5000
ROOTS, CHILDREN = 100, 9
BATCH = 200_000

FOLDERS = """
INSERT INTO folders (folder_id, org_id, parent_id, name, path, ancestors)
SELECT 'sr' || r, $1, NULL, 'root ' || r, '/root ' || r, '{}'::text[]
FROM generate_series(0, $2::int - 1) AS r;
"""
CHILD_FOLDERS = """
INSERT INTO folders (folder_id, org_id, parent_id, name, path, ancestors)
SELECT 'sr' || r || '-' || c, $1, 'sr' || r, 'child ' || c, '/root ' || r || '/child ' || c,
    ARRAY['sr' || r]
FROM generate_series(0, $2::int - 1) AS r, generate_series(1, $3::int) AS c
"""
# Folder k of the 1,000: root k / 10, child k % 10 (0: the root itself).
DOCUMENTS = """
INSERT INTO documents (doc_id, org_id, folder_id, owner_id, version, name, mime_type,
    blob_uri, size_bytes, sha256, tags, created_at, updated_at)
SELECT 'sd' || g, $1,
    CASE WHEN g % 10 = 0 THEN 'sr' || (g / 10) % $4 ELSE 'sr' || (g / 10) % $4 || '-' || g % 10 END,
    $2, 1,
    ($3::text[])[floor(exp(random() * ln($5::float8)))::int] || ' '
        || ($3::text[])[floor(exp(random() * ln($5::float8)))::int] || ' '
        || ($3::text[])[floor(exp(random() * ln($5::float8)))::int] || '.pdf',
    'application/pdf', 's3://bench/sd' || g, 4096, NULL,
    ARRAY[($3::text[])[floor(exp(random() * ln($5::float8)))::int]],
    now() - interval '2 days' - make_interval(secs => g),
    now() - interval '2 days' - make_interval(secs => g)
FROM generate_series($6::int, $7::int) AS g
"""
VERSIONS = """
INSERT INTO document_versions (doc_id, version, name, mime_type, blob_uri, size_bytes,
    sha256, tags, uploaded_by, uploaded_at)
SELECT doc_id, 1, name, mime_type, blob_uri, size_bytes, sha256, tags, owner_id, created_at
FROM documents WHERE doc_id IN (SELECT 'sd' || g FROM generate_series($1::int, $2::int) AS g)
"""
SHARES = """
INSERT INTO shares (doc_id, user_id, role, shared_by, shared_at)
SELECT doc_id, owner_id, 'owner', owner_id, created_at
FROM documents WHERE doc_id IN (SELECT 'sd' || g FROM generate_series($1::int, $2::int) AS g)
"""
READERS = """
INSERT INTO memberships (org_id, user_id, role)
VALUES ($1, $2, 'admin'), ($1, $3, 'member'), ($1, $4, 'member');
"""
FOLDER_SHARE = """
INSERT INTO folder_shares (folder_id, user_id, role, shared_by, shared_at)
VALUES ('sr0', $1, 'viewer', $2, now())
"""
# Indexes rebuilt after a big seed rather than maintained row by row.
REBUILT = {
    "ix_documents_search": "CREATE INDEX ix_documents_search ON documents USING gin (search)",
    "ix_documents_org_recent": "CREATE INDEX ix_documents_org_recent ON documents"
    " (org_id, updated_at DESC, doc_id DESC) WHERE trashed_at IS NULL",
}


def vocabulary(size: int = VOCABULARY, seed: int = 12) -> list[str]:
    """``size`` distinct made-up lower-case words of 4-9 letters, most frequent first."""
    rng = random.Random(seed)
    words: dict[str, None] = {}
    while len(words) < size:
        letters = rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(4, 9))
        words["".join(letters)] = None
    return list(words)


def query_text(words: list[str]) -> str:
    """The median-frequency word, then the first three letters of the most frequent one."""
    return f"{words[VOCABULARY // 2 - 1]} {words[0][:3]}"


async def seed(pg_url: str, count: int, words: list[str]) -> float:
    """The org, its folders and readers, ``count`` documents; the seconds it took."""
    began = time.monotonic()
    conn = await asyncpg.connect(pg_url, command_timeout=3600)
    try:
        await conn.execute("SET maintenance_work_mem = '256MB'")
        async with conn.transaction():
            await conn.execute(FOLDERS, SEARCH_ORG, ROOTS)
            await conn.execute(CHILD_FOLDERS, SEARCH_ORG, ROOTS, CHILDREN)
            await conn.execute(READERS, SEARCH_ORG, SEARCH_ADMIN, SEARCH_MEMBER, OWNER)
            await conn.execute(FOLDER_SHARE, SEARCH_MEMBER, SEARCH_ADMIN)
        rebuild = count >= BATCH
        if rebuild:
            for name in REBUILT:
                await conn.execute(f"DROP INDEX {name}")
        for first in range(1, count + 1, BATCH):
            last = min(count, first + BATCH - 1)
            async with conn.transaction():
                await conn.execute(DOCUMENTS, SEARCH_ORG, OWNER, words, ROOTS, VOCABULARY + 0.999,
                                   first, last)
                await conn.execute(VERSIONS, first, last)
                await conn.execute(SHARES, first, last)
        if rebuild:
            for statement in REBUILT.values():
                await conn.execute(statement)
        await conn.execute("VACUUM ANALYZE documents")
        await conn.execute("ANALYZE document_versions, shares, folders, folder_shares")
    finally:
        await conn.close()
    return time.monotonic() - began


async def plans(pg_url: str, text: str) -> dict[str, Any]:
    """EXPLAIN ANALYZE of the worker's statement for each reader (as a prepared
    statement's sixth execution would run it: the generic plan if PostgreSQL picks one)."""
    found: dict[str, Any] = {}
    conn = await asyncpg.connect(pg_url)
    try:
        for reader, everything in ((SEARCH_ADMIN, True), (SEARCH_MEMBER, False)):
            sql = search_sql(everything=everything, text=True, folder=False, mime=None,
                             tags=False, after=False)
            args: list[object] = [SEARCH_ORG, 51] + ([] if everything else [reader]) + [text]
            statement = await conn.prepare(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
            for _ in range(6):  # past the custom-plan warm-up of a prepared statement
                plan = await statement.fetchval(*args)
            found[reader] = json.loads(plan)[0]
    finally:
        await conn.close()
    return found


def rows_read(node: dict[str, Any], relation: str = "documents") -> float:
    """Rows the plan read from ``relation`` (its scans' actual rows times loops)."""
    own = 0.0
    if node.get("Relation Name") == relation:
        own = node.get("Actual Rows", 0) * node.get("Actual Loops", 1)
        own += node.get("Rows Removed by Filter", 0) * node.get("Actual Loops", 1)
    return own + sum(rows_read(child, relation) for child in node.get("Plans", []))


def _summary(node: dict[str, Any], depth: int = 0) -> list[str]:
    line = f"{'  ' * depth}{node['Node Type']}"
    if "Relation Name" in node:
        line += f" on {node['Relation Name']}"
    if "Index Name" in node:
        line += f" using {node['Index Name']}"
    line += f" (rows {node.get('Actual Rows')} x{node.get('Actual Loops')})"
    return [line] + [x for child in node.get("Plans", []) for x in _summary(child, depth + 1)]


async def search(s: Scenario) -> dict[str, float]:
    """Seed, check the plans, then each reader's first page paired with the raw RPC."""
    c = s.config
    count = c.search_documents
    words = vocabulary()
    seconds = await seed(s.stack.pg_url, count, words)
    text = query_text(words)
    explained = await plans(s.stack.pg_url, text)
    for reader, plan in explained.items():
        print(f"\n    plan of {reader}'s search ({plan['Execution Time']:.1f} ms):",
              file=sys.stderr)
        print("\n".join(f"      {line}" for line in _summary(plan["Plan"])), file=sys.stderr)
    figures: dict[str, float] = {
        "search_documents": float(count), "search_seed_s": seconds,
        "search_member_plan_rows": rows_read(explained[SEARCH_MEMBER]["Plan"]),
        "search_admin_plan_rows": rows_read(explained[SEARCH_ADMIN]["Plan"]),
    }
    for name, reader in (("admin", SEARCH_ADMIN), ("member", SEARCH_MEMBER)):
        page = await s.client.search_documents(SEARCH_ORG, reader, text=text, limit=50)
        figures[f"search_{name}_page_documents"] = float(len(page.documents))

        async def call(_: object, reader: str = reader) -> None:
            await s.client.search_documents(SEARCH_ORG, reader, text=text, limit=50)

        seq = await s.paired_seq(call, range(c.search_samples), f"search as {name}")
        figures |= latency(f"search_{name}", *seq, c.repetitions)
    if figures["search_admin_page_documents"] == 0 and count >= 100_000:  # ~0.1% of them
        raise BenchError(f"the admin's search for {text!r} found nothing")
    if math.isnan(figures["search_member_plan_rows"]):
        raise BenchError("no plan for the member's search")
    return figures
