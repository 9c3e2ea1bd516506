"""document.search on PostgreSQL full text (core.ports.SearchIndex).

One statement per page, on the unit's connection:

- the words: ``documents.search`` (a generated tsvector of the name's and tags' words,
  GIN-indexed; migration 0008) against ``docbus_search_query(text)`` (every word, the
  last as a prefix); the index is asked for the whole words only
  (``docbus_search_lead``), the prefix checked on the rows they find. The column is
  written with the document, in its transaction: a search sees every committed write
  (contract v2, section 5);
- who may read what: decided once per search by the unit's AccessDecider (``anywhere``):
  the built-in rule is ``readable_documents`` below; a policy decision point's query
  plan (Cerbos) is translated by adapters.postgres.access_filter;
- the rank: how many distinct words of the text are whole words of the name;
- the other filters, the keyset position, the order, the limit.

A statement is built per combination of filters (and cached): each is planned for what
it asks (the GIN index for a text, the org's newest-first index without one).
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache

from asyncpg import Record

from docbus.adapters.postgres.access_filter import ReadableSql, readable_sql
from docbus.adapters.postgres.errors import translate_errors
from docbus.adapters.postgres.repositories import Statements, _document
from docbus.adapters.postgres.tree_sql import DOCUMENT_COLUMNS, LIVE_SHARE, folder_in_trash
from docbus.core.decisions import AccessDecider
from docbus.core.search import SearchFilter, SearchHit, SearchPosition, words
from docbus.core.values import Capability, OrgRole


def readable_documents(*, everything: bool, org: str, reader: str) -> str:
    """SQL condition: document ``d`` is in org ``org``, live (neither it nor a folder
    above it in the trash) and readable by ``reader`` (SQL expressions): everything for an
    org admin; for a member, a live document share on it, or a live folder share on its
    folder or above (the member's granted folders' subtrees, found through
    ix_folders_ancestors, never a check of every document of the org). Membership itself
    is the caller's check."""
    live = f"d.org_id = {org} AND d.trashed_at IS NULL AND NOT {folder_in_trash('d.folder_id')}"
    if everything:
        return live
    granted = (
        f"ARRAY(SELECT s.folder_id FROM folder_shares s WHERE s.user_id = {reader}"  # noqa: S608
        f" AND {LIVE_SHARE})"
    )
    return (
        f"{live} AND (d.folder_id IN (SELECT f.folder_id FROM folders f"  # noqa: S608
        f" WHERE f.org_id = {org} AND (f.folder_id = ANY({granted})"
        f" OR f.ancestors && {granted}))"
        f" OR EXISTS (SELECT 1 FROM shares s WHERE s.doc_id = d.doc_id"
        f" AND s.user_id = {reader} AND {LIVE_SHARE}))"
    )


MEDIA_TYPE = "btrim(lower(split_part(d.mime_type, ';', 1) COLLATE \"C\"))"


@cache
def search_sql(
    *, everything: bool, text: bool, folder: bool, mime: str | None, tags: bool, after: bool
) -> str:
    """The built-in decider's search. Parameters: $1 org, $2 limit, then, in this order,
    those the search uses: the reader (unless ``everything``), the text, the folder, the
    mime type (``mime`` "exact") or its ``type/`` prefix ("prefix"), the tags, the
    position (rank, updated_at, doc_id)."""
    access = readable_documents(everything=everything, org="$1", reader="$3")
    return search_statement(access, "", 3 if everything else 4, text=text, folder=folder,
                            mime=mime, tags=tags, after=after)


def planned_search_sql(
    plan: ReadableSql, *, text: bool, folder: bool, mime: str | None, tags: bool, after: bool
) -> str:
    """A policy decision point's search (its plan, adapters.postgres.access_filter):
    $1 org, $2 limit, $3 the reader, the plan's values, then as ``search_sql``."""
    live = readable_documents(everything=True, org="$1", reader="$3")
    access = f"{live} AND $3::text IS NOT NULL AND ({plan.where})"
    return search_statement(access, plan.joins, 4 + len(plan.args), text=text, folder=folder,
                            mime=mime, tags=tags, after=after)


def search_statement(
    access: str, joins: str, n: int, *, text: bool, folder: bool, mime: str | None,
    tags: bool, after: bool,
) -> str:
    """The search over documents ``d`` (``joins`` after them) that pass ``access``, its
    other parameters numbered from ``n``."""
    conditions = [access]
    rank = "0"
    if text:
        # The index finds the whole words; the prefix is checked on their rows only
        # (ts_match_vq is @@ as a function: never an index condition).
        conditions.append(f"d.search @@ docbus_search_lead(${n}::text)")
        conditions.append(f"ts_match_vq(d.search, docbus_search_query(${n}::text))")
        rank = (
            f"(SELECT count(DISTINCT w)::int FROM unnest(docbus_words(${n}::text)) AS w"  # noqa: S608
            " WHERE w = ANY(docbus_words(d.name)))"
        )
        n += 1
    if folder:
        conditions.append(
            f"d.folder_id IN (SELECT f.folder_id FROM folders f"  # noqa: S608 - placeholders
            f" WHERE f.folder_id = ${n}::text"
            f" OR f.ancestors @> ARRAY[${n}::text])"
        )
        n += 1
    if mime is not None:
        conditions.append(
            f"{MEDIA_TYPE} = ${n}::text" if mime == "exact"
            else f"starts_with({MEDIA_TYPE}, ${n}::text)"
        )
        n += 1
    if tags:
        conditions.append(f"d.tags @> ${n}::text[]")
        n += 1
    inner = (
        f"SELECT {DOCUMENT_COLUMNS}, false AS folder_trashed, {rank} AS rank"  # noqa: S608
        f" FROM documents d{joins} WHERE {' AND '.join(conditions)}"
    )
    where = f" WHERE (x.rank, x.updated_at, x.doc_id) < (${n}::int, ${n + 1}, ${n + 2}::text)"
    return (
        f"SELECT x.* FROM ({inner}) AS x{where if after else ''}"  # noqa: S608 - constants
        " ORDER BY x.rank DESC, x.updated_at DESC, x.doc_id DESC LIMIT $2"
    )


def _hit(row: Record) -> SearchHit:
    return SearchHit(_document(row), row["rank"])


@translate_errors
class PgSearchIndex:
    """core.ports.SearchIndex over the unit's connection."""

    def __init__(self, conn: Statements, decider: AccessDecider) -> None:
        self._conn = conn
        self._decider = decider

    async def search(
        self, org_id: str, reader_id: str, *, org_role: OrgRole, search: SearchFilter,
        limit: int, after: SearchPosition | None,
    ) -> list[SearchHit]:
        """The reader's filter decided once (read, anywhere in the org), then one statement."""
        readable = await self._decider.anywhere(reader_id, org_role, "document",
                                                Capability.READ)
        if readable.kind == "none":
            return []
        if search.text is not None and not words(search.text):
            search = replace(search, text=None)  # no word: no text filter (nor a NULL query)
        prefix = search.mime_prefix
        mime = None if search.mime_type is None else "prefix" if prefix else "exact"
        shape = {"text": search.text is not None, "folder": search.folder_id is not None,
                 "mime": mime, "tags": bool(search.tags), "after": after is not None}
        args: list[object] = [org_id, limit]
        if readable.kind == "plan":
            plan = readable_sql(readable, reader=3, first=4)
            sql = planned_search_sql(plan, **shape)  # type: ignore[arg-type]
            args += [reader_id, *plan.args]
        else:
            everything = readable.kind == "all"
            sql = search_sql(everything=everything, **shape)
            args += [] if everything else [reader_id]
        args += [v for v in (search.text, search.folder_id, prefix or search.mime_type)
                 if v is not None]
        if search.tags:
            args.append(list(search.tags))
        if after is not None:
            args += [after.rank, after.updated_at, after.doc_id]
        return [_hit(row) for row in await self._conn.fetch(sql, *args)]
