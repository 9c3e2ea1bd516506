"""Measure folder-tree representations on a real PostgreSQL (issue 10, docs/decisions.md).

A subtree of 100 folders (root R, 9 children, 90 grandchildren) under two ancestors,
beside 200 other folders, holding N documents (half of them in one leaf L, the rest
spread over the subtree). For each representation and N in (100, 100_000) it times the
subtree root's move, trash, restore and rename (each committed, median of ``REPEAT``),
and the first page (50) of L's listing, live and with an ancestor trashed and restored.

- arrays: folders carry ``ancestors text[]`` (GIN) and their own ``trashed_at``;
  documents keep only ``folder_id``; a folder is hidden when it or an ancestor is trashed.
- closure: a closure table (ancestor, descendant, depth); trash state on folders only.
- docpath: documents carry the folder path (materialised) and a ``hidden`` flag, so
  that listings need no folder lookup: every subtree change rewrites the documents.

Run: python -m bench.tree_measure postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import asyncio
import secrets
import statistics
import sys
import time
from collections.abc import Awaitable, Callable

import asyncpg

REPEAT = 15
SCHEMA = {
    "arrays": """
CREATE TABLE folders (folder_id text COLLATE "C" PRIMARY KEY, org_id text NOT NULL,
  parent_id text REFERENCES folders, name text NOT NULL, path text NOT NULL,
  ancestors text[] NOT NULL, trashed_at timestamptz);
CREATE INDEX ix_folders_ancestors ON folders USING gin (ancestors);
CREATE TABLE documents (doc_id text COLLATE "C" PRIMARY KEY, org_id text NOT NULL,
  folder_id text NOT NULL REFERENCES folders, name text NOT NULL,
  updated_at timestamptz NOT NULL, trashed_at timestamptz);
CREATE INDEX ix_documents_listing ON documents (folder_id, updated_at DESC, doc_id DESC);
""",
    "closure": """
CREATE TABLE folders (folder_id text COLLATE "C" PRIMARY KEY, org_id text NOT NULL,
  parent_id text REFERENCES folders, name text NOT NULL, path text NOT NULL,
  trashed_at timestamptz);
CREATE TABLE closure (ancestor text NOT NULL, descendant text NOT NULL, depth int NOT NULL,
  PRIMARY KEY (ancestor, descendant));
CREATE INDEX ix_closure_descendant ON closure (descendant, ancestor);
CREATE TABLE documents (doc_id text COLLATE "C" PRIMARY KEY, org_id text NOT NULL,
  folder_id text NOT NULL REFERENCES folders, name text NOT NULL,
  updated_at timestamptz NOT NULL, trashed_at timestamptz);
CREATE INDEX ix_documents_listing ON documents (folder_id, updated_at DESC, doc_id DESC);
""",
    "docpath": """
CREATE TABLE folders (folder_id text COLLATE "C" PRIMARY KEY, org_id text NOT NULL,
  parent_id text REFERENCES folders, name text NOT NULL, path text NOT NULL,
  trashed_at timestamptz);
CREATE TABLE documents (doc_id text COLLATE "C" PRIMARY KEY, org_id text NOT NULL,
  folder_id text NOT NULL REFERENCES folders, name text NOT NULL, path text COLLATE "C" NOT NULL,
  hidden boolean NOT NULL DEFAULT false,
  updated_at timestamptz NOT NULL, trashed_at timestamptz);
CREATE INDEX ix_documents_listing ON documents (folder_id, updated_at DESC, doc_id DESC)
  WHERE NOT hidden;
CREATE INDEX ix_documents_path ON documents (path text_pattern_ops);
""",
}

# (folder_id, parent_id, name): A > B > R > c0..c8 > g0..g89, plus P (a move target) and
# 200 other roots.
def tree() -> list[tuple[str, str | None, str]]:
    rows: list[tuple[str, str | None, str]] = [("A", None, "a"), ("B", "A", "b"), ("R", "B", "r"),
                                               ("P", None, "p")]
    for i in range(9):
        rows.append((f"c{i}", "R", f"c{i}"))
        for j in range(10):
            rows.append((f"g{i}{j}", f"c{i}", f"g{j}"))
    rows += [(f"o{i}", None, f"o{i}") for i in range(200)]
    return rows


LEAF = "g00"


async def populate(conn: asyncpg.Connection, kind: str, n: int) -> None:
    await conn.execute(SCHEMA[kind])
    paths: dict[str, str] = {}
    ancestors: dict[str, list[str]] = {}
    for folder_id, parent_id, name in tree():
        paths[folder_id] = (paths[parent_id] if parent_id else "") + "/" + name
        ancestors[folder_id] = (ancestors[parent_id] + [parent_id]) if parent_id else []
        if kind == "arrays":
            await conn.execute("INSERT INTO folders VALUES ($1,'o',$2,$3,$4,$5)", folder_id,
                               parent_id, name, paths[folder_id], ancestors[folder_id])
        else:
            await conn.execute("INSERT INTO folders VALUES ($1,'o',$2,$3,$4)", folder_id,
                               parent_id, name, paths[folder_id])
        if kind == "closure":
            await conn.executemany("INSERT INTO closure VALUES ($1,$2,$3)", [
                (a, folder_id, len(ancestors[folder_id]) - k)
                for k, a in enumerate(ancestors[folder_id] + [folder_id])])
    subtree = [f for f, _, _ in tree() if f == "R" or f.startswith(("c", "g"))]
    folder_of = [LEAF if i % 2 == 0 else subtree[i % len(subtree)] for i in range(n)]
    if kind == "docpath":
        await conn.execute("""
            INSERT INTO documents SELECT 'd' || i, 'o', f, 'n' || i, p.path || '/', false,
              now() - i * interval '1 s', NULL
            FROM unnest($1::text[]) WITH ORDINALITY AS x(f, i) JOIN folders p ON p.folder_id = f""",
            folder_of)
    else:
        await conn.execute("""
            INSERT INTO documents SELECT 'd' || i, 'o', f, 'n' || i, now() - i * interval '1 s'
            FROM unnest($1::text[]) WITH ORDINALITY AS x(f, i)""", folder_of)
    await conn.execute("ANALYZE")


# Each representation's statements. Moves alternate R between B and P.
HIDDEN = {
    "arrays": """SELECT f.trashed_at IS NOT NULL OR EXISTS (SELECT 1 FROM folders a
        WHERE a.folder_id = ANY(f.ancestors) AND a.trashed_at IS NOT NULL)
        FROM folders f WHERE f.folder_id = $1""",
    "closure": """SELECT EXISTS (SELECT 1 FROM closure c JOIN folders a ON a.folder_id = c.ancestor
        WHERE c.descendant = $1 AND a.trashed_at IS NOT NULL)""",
}
PAGE = {
    "arrays": """SELECT doc_id, name, updated_at FROM documents WHERE folder_id = $1
        AND trashed_at IS NULL ORDER BY updated_at DESC, doc_id DESC LIMIT 50""",
    "docpath": """SELECT doc_id, name, updated_at FROM documents WHERE folder_id = $1
        AND NOT hidden AND trashed_at IS NULL ORDER BY updated_at DESC, doc_id DESC LIMIT 50""",
}
PAGE["closure"] = PAGE["arrays"]


async def move(conn: asyncpg.Connection, kind: str, to: str) -> None:
    new_anc = ["A", "B"] if to == "B" else ["P"]
    new_prefix = "/a/b/r" if to == "B" else "/p/r"
    old = await conn.fetchval("SELECT path FROM folders WHERE folder_id = 'R'")
    await conn.execute("UPDATE folders SET parent_id = $1 WHERE folder_id = 'R'", to)
    if kind == "arrays":
        await conn.execute("""UPDATE folders SET path = $2 || substr(path, length($3) + 1),
            ancestors = $1::text[] || ancestors[array_position(ancestors, 'R'):]
            WHERE folder_id = 'R' OR ancestors @> ARRAY['R']""", new_anc, new_prefix, old)
        await conn.execute("UPDATE folders SET ancestors = $1 WHERE folder_id = 'R'", new_anc)
    elif kind == "closure":
        await conn.execute("""DELETE FROM closure WHERE descendant IN
            (SELECT descendant FROM closure WHERE ancestor = 'R')
            AND ancestor NOT IN (SELECT descendant FROM closure WHERE ancestor = 'R')""")
        await conn.execute("""INSERT INTO closure SELECT a.ancestor, d.descendant,
            a.depth + d.depth + 1 FROM closure a, closure d
            WHERE a.descendant = $1 AND d.ancestor = 'R'""", to)
        await conn.execute("""UPDATE folders SET path = $1 || substr(path, length($2) + 1)
            WHERE folder_id IN (SELECT descendant FROM closure WHERE ancestor = 'R')""",
            new_prefix, old)
    else:
        await conn.execute("""UPDATE folders SET path = $1 || substr(path, length($2) + 1)
            WHERE path = $2 OR path LIKE $2 || '/%'""", new_prefix, old)
        await conn.execute("""UPDATE documents SET path = $1 || substr(path, length($2) + 1)
            WHERE path LIKE $2 || '/%'""", new_prefix, old)


async def rename(conn: asyncpg.Connection, kind: str, name: str) -> None:
    old = await conn.fetchval("SELECT path FROM folders WHERE folder_id = 'R'")
    new = old.rsplit("/", 1)[0] + "/" + name
    await conn.execute("UPDATE folders SET name = $1 WHERE folder_id = 'R'", name)
    if kind == "arrays":
        await conn.execute("""UPDATE folders SET path = $1 || substr(path, length($2) + 1)
            WHERE folder_id = 'R' OR ancestors @> ARRAY['R']""", new, old)
    elif kind == "closure":
        await conn.execute("""UPDATE folders SET path = $1 || substr(path, length($2) + 1)
            WHERE folder_id IN (SELECT descendant FROM closure WHERE ancestor = 'R')""", new, old)
    else:
        await conn.execute("""UPDATE folders SET path = $1 || substr(path, length($2) + 1)
            WHERE path = $2 OR path LIKE $2 || '/%'""", new, old)
        await conn.execute("""UPDATE documents SET path = $1 || substr(path, length($2) + 1)
            WHERE path LIKE $2 || '/%'""", new, old)


async def set_trashed(conn: asyncpg.Connection, kind: str, folder: str, on: bool) -> None:
    at = "now()" if on else "NULL"
    await conn.execute(f"UPDATE folders SET trashed_at = {at} WHERE folder_id = $1", folder)  # noqa: S608
    if kind == "docpath":
        path = await conn.fetchval("SELECT path FROM folders WHERE folder_id = $1", folder)
        await conn.execute("UPDATE documents SET hidden = $2 WHERE path LIKE $1 || '/%'",
                           path, on)


async def page(conn: asyncpg.Connection, kind: str) -> None:
    if kind != "docpath" and await conn.fetchval(HIDDEN[kind], LEAF):
        return
    await conn.fetch(PAGE[kind], LEAF)


async def timed(conn: asyncpg.Connection, step: Callable[[int], Awaitable[None]]) -> float:
    samples = []
    for i in range(REPEAT):
        start = time.perf_counter()
        async with conn.transaction():
            await step(i)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


async def measure(conn: asyncpg.Connection, kind: str, n: int) -> dict[str, float]:
    await populate(conn, kind, n)
    out = {
        "move": await timed(conn, lambda i: move(conn, kind, "P" if i % 2 == 0 else "B")),
        "rename": await timed(conn, lambda i: rename(conn, kind, f"r{i}")),
        "trash": await timed(conn, lambda i: _trash_restore(conn, kind, True)),
        "restore": await timed(conn, lambda i: _trash_restore(conn, kind, False)),
        "page": await timed(conn, lambda i: page(conn, kind)),
    }
    await set_trashed(conn, kind, "B" if kind != "docpath" else "R", True)
    out["page, ancestor trashed"] = await timed(conn, lambda i: page(conn, kind))
    await set_trashed(conn, kind, "B" if kind != "docpath" else "R", False)
    out["page, ancestor restored"] = await timed(conn, lambda i: page(conn, kind))
    return out


async def _trash_restore(conn: asyncpg.Connection, kind: str, on: bool) -> None:
    """Every trash sample trashes R (again), every restore sample restores it."""
    await set_trashed(conn, kind, "R", on)


async def main(admin: str) -> None:
    results: dict[tuple[str, int], dict[str, float]] = {}
    for kind in SCHEMA:
        for n in (100, 100_000):
            db = f"tree_measure_{secrets.token_hex(4)}"
            admin_conn = await asyncpg.connect(admin)
            await admin_conn.execute(f"CREATE DATABASE {db}")
            try:
                conn = await asyncpg.connect(admin.rsplit("/", 1)[0] + "/" + db)
                results[kind, n] = await measure(conn, kind, n)
                await conn.close()
            finally:
                await admin_conn.execute(f"DROP DATABASE {db}")
                await admin_conn.close()
    ops = list(next(iter(results.values())))
    print("| representation | documents | " + " | ".join(ops) + " |")
    print("| --- | --- |" + " --- |" * len(ops))
    for (kind, n), row in results.items():
        print(f"| {kind} | {n:,} | " + " | ".join(f"{row[o]:.2f}" for o in ops) + " |")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else
                     "postgresql://postgres@127.0.0.1:5432/postgres"))
