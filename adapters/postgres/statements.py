"""Write statements that both the repositories and a grouped unit's write-behind
(unit_state) send: one place for each, so the two paths cannot drift apart."""

# ON CONFLICT DO NOTHING waits for a concurrent inserter of the same doc_id to finish and
# then skips without aborting the transaction; the version and share rows are written only
# if the document was (the foreign keys are checked at the end of the statement).
ADD_DOCUMENT = """
WITH doc AS (
    INSERT INTO documents (doc_id, org_id, folder_id, owner_id, version, name, mime_type,
        blob_uri, size_bytes, sha256, tags, created_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
    ON CONFLICT (doc_id) DO NOTHING
    RETURNING doc_id
), ver AS (
    INSERT INTO document_versions (doc_id, version, name, mime_type, blob_uri, size_bytes,
        sha256, tags, uploaded_by, uploaded_at)
    SELECT $14::text, $15::int, $16::text, $17::text, $18::text, $19::bigint, $20::text,
        $21::text[], $22::text, $23::timestamptz
    FROM doc
), shared AS (
    INSERT INTO shares (doc_id, user_id, role)
    SELECT doc.doc_id, s.user_id, s.role
    FROM doc, unnest($24::text[], $25::text[]) AS s(user_id, role)
)
SELECT count(*) FROM doc
"""

UPSERT_SHARE = """
INSERT INTO shares (doc_id, user_id, role) VALUES ($1, $2, $3)
ON CONFLICT (doc_id, user_id) DO UPDATE SET role = EXCLUDED.role
"""
DELETE_SHARE = "DELETE FROM shares WHERE doc_id = $1 AND user_id = $2"
