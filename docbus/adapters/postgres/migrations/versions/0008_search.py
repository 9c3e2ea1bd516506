"""Contract v2, document.search: a full-text column on documents, kept by PostgreSQL itself.

- ``docbus_words(text)``: the words of a text, as search compares them: accents removed
  (the ``unaccent`` extension's rules), lower-cased (ICU's root locale, whatever the
  database's locale), split at every ASCII character that is not a letter or a digit.
  core/search.py is the same rule in Python (the in-memory index and the model tests).
- ``docbus_search_vector(name, tags)``: the words of the name and of the tags as a
  tsvector (``array_to_tsvector``: the lexemes as they are, no parser, no stemming);
  ``documents.search`` is a stored generated column of it, GIN-indexed. The index is
  therefore written in the same transaction as the document: no projection can lag.
- ``docbus_search_query(text)``: every word of the text must match, the last one as a
  prefix (``'w1' & 'w2':*``); NULL when the text has no word.
- ``docbus_search_lead(text)``: the whole words alone (``'w1'``), or the query itself for
  a text of one word: what the GIN index is asked for. A prefix can stand for many words
  (the first letters of a frequent one: a third of the documents), and GIN collects
  every posting of a prefix before it intersects; the whole words find few rows, and
  the prefix is then checked on those rows only.
- ``ix_documents_org_recent``: an org's live documents newest first (a search without
  text).

The functions are declared IMMUTABLE (unaccent is STABLE only because its dictionary could
be changed; docbus never changes it): the usual wrapper that lets a generated column and
an index use it. The table is rewritten once (a stored column).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every ASCII character but letters and digits separates words (NUL never reaches here).
SEPARATORS = r"[\x01-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]+"

FUNCTIONS = (
    "CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA public",
    f"""
CREATE FUNCTION docbus_words(text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
SELECT coalesce(array_agg(w), '{{}}'::text[])
FROM regexp_split_to_table(
    lower(public.unaccent('public.unaccent'::regdictionary, $1) COLLATE "und-x-icu"),
    '{SEPARATORS}') AS w
WHERE w <> ''
$$""",  # noqa: S608 - a constant
    """
CREATE FUNCTION docbus_search_vector(text, text[]) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT array_to_tsvector(docbus_words($1) || docbus_words(array_to_string($2, ' ')))
$$""",
    """
CREATE FUNCTION docbus_search_query(text) RETURNS tsquery
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
SELECT nullif((SELECT string_agg('''' || u.w || ''''
        || CASE WHEN u.i = cardinality(q.words) THEN ':*' ELSE '' END, ' & ' ORDER BY u.i)
    FROM unnest(q.words) WITH ORDINALITY AS u(w, i)), '')::tsquery
FROM (SELECT docbus_words($1) AS words) AS q
$$""",
    """
CREATE FUNCTION docbus_search_lead(text) RETURNS tsquery
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
SELECT CASE WHEN cardinality(q.words) < 2 THEN docbus_search_query($1)
    ELSE (SELECT string_agg('''' || u.w || '''', ' & ' ORDER BY u.i)
          FROM unnest(q.words[1:cardinality(q.words) - 1]) WITH ORDINALITY AS u(w, i))::tsquery
    END
FROM (SELECT docbus_words($1) AS words) AS q
$$""",
)


def upgrade() -> None:
    for statement in FUNCTIONS:
        op.execute(statement)
    op.execute(
        "ALTER TABLE documents ADD COLUMN search tsvector"
        " GENERATED ALWAYS AS (docbus_search_vector(name, tags)) STORED"
    )
    op.execute("CREATE INDEX ix_documents_search ON documents USING gin (search)")
    op.execute(
        "CREATE INDEX ix_documents_org_recent ON documents"
        " (org_id, updated_at DESC, doc_id DESC) WHERE trashed_at IS NULL"
    )


def downgrade() -> None:
    op.execute("DROP INDEX ix_documents_org_recent")
    op.execute("DROP INDEX ix_documents_search")
    op.execute("ALTER TABLE documents DROP COLUMN search")
    for name in ("docbus_search_lead(text)", "docbus_search_query(text)",
                 "docbus_search_vector(text, text[])", "docbus_words(text)"):
        op.execute(f"DROP FUNCTION {name}")
