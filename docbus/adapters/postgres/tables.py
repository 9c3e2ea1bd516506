"""The schema as SQLAlchemy Core metadata: the reference that the migrations must build.

The hot path does not use these objects (it runs hand-written SQL on asyncpg); they
describe the schema for Alembic, for tooling, and for the test that checks the migrated
database against them.

- Identifier columns use the "C" collation: ids are ASCII, and listings order ties by
  ``doc_id`` exactly as the domain (and the in-memory fake) does, whatever the
  database's default locale.
- Every timestamp is ``timestamptz``.
- ``audit_log`` is append-only: triggers reject UPDATE, DELETE and TRUNCATE.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    ARRAY,
    BigInteger,
    CheckConstraint,
    Column,
    Computed,
    Connection,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    event,
    func,
    literal,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR

metadata = MetaData()


def _id(name: str, *foreign_key: ForeignKey, nullable: bool = False) -> Column[str]:
    """An identifier column, ordered bytewise."""
    return Column(name, Text(collation="C"), *foreign_key, nullable=nullable)


def _at(name: str, *, default_now: bool = False) -> Column[datetime]:
    default = func.now() if default_now else None
    return Column(name, DateTime(timezone=True), nullable=False, server_default=default)


def _maybe_at(name: str) -> Column[datetime]:
    return Column(name, DateTime(timezone=True), nullable=True)


def _text(name: str, nullable: bool = False) -> Column[str]:
    return Column(name, Text, nullable=nullable)


def _tags() -> Column[list[str]]:
    return Column("tags", ARRAY(Text), nullable=False)


memberships = Table(
    "memberships", metadata,
    _id("org_id"), _id("user_id"), _text("role"),
    PrimaryKeyConstraint("org_id", "user_id", name="memberships_pkey"),
    CheckConstraint("role IN ('member', 'admin')", name="ck_memberships_role"),
)

folders = Table(
    "folders", metadata,
    _id("folder_id"), _id("org_id"),
    _id("parent_id", ForeignKey("folders.folder_id", name="folders_parent_id_fkey"),
        nullable=True),
    _text("name"), _text("path"), _at("created_at", default_now=True),
    # Contract v2 (migration 0003): ids above, root first; trash state of its own.
    Column("ancestors", ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")),
    _maybe_at("trashed_at"), _id("trashed_by", nullable=True),
    PrimaryKeyConstraint("folder_id", name="folders_pkey"),
)
# Names are unique among live siblings: a trashed folder gives its name up.
Index(
    "uq_folders_sibling_name",
    folders.c.org_id, func.coalesce(folders.c.parent_id, literal("", Text)), folders.c.name,
    unique=True, postgresql_where=folders.c.trashed_at.is_(None),
)
Index("ix_folders_ancestors", folders.c.ancestors, postgresql_using="gin")
Index(
    "ix_folders_trash", folders.c.org_id, folders.c.trashed_at.desc(), folders.c.folder_id.desc(),
    postgresql_where=folders.c.trashed_at.isnot(None),
)

documents = Table(
    "documents", metadata,
    _id("doc_id"), _id("org_id"),
    _id("folder_id", ForeignKey("folders.folder_id", name="documents_folder_id_fkey")),
    _id("owner_id"), Column("version", Integer, nullable=False),
    _text("name"), _text("mime_type"), _text("blob_uri"),
    Column("size_bytes", BigInteger, nullable=True), _text("sha256", nullable=True), _tags(),
    _at("created_at"), _at("updated_at"),
    _maybe_at("trashed_at"), _id("trashed_by", nullable=True),
    # document.search (migration 0008): the words of the name and tags, kept by PostgreSQL
    # in the same transaction as the document (docbus_search_vector: see the migration).
    Column("search", TSVECTOR, Computed("docbus_search_vector(name, tags)", persisted=True)),
    PrimaryKeyConstraint("doc_id", name="documents_pkey"),
)
Index("ix_documents_search", documents.c.search, postgresql_using="gin")
# A search without text: the org's live documents, newest first.
Index(
    "ix_documents_org_recent", documents.c.org_id, documents.c.updated_at.desc(),
    documents.c.doc_id.desc(), postgresql_where=documents.c.trashed_at.is_(None),
)
Index(
    "ix_documents_trash", documents.c.org_id, documents.c.trashed_at.desc(),
    documents.c.doc_id.desc(), postgresql_where=documents.c.trashed_at.isnot(None),
)
# Keyset listing: one index range scan per page, whatever the folder's size.
Index(
    "ix_documents_listing",
    documents.c.folder_id, documents.c.updated_at.desc(), documents.c.doc_id.desc(),
)

document_versions = Table(
    "document_versions", metadata,
    _id("doc_id", ForeignKey("documents.doc_id", name="document_versions_doc_id_fkey")),
    Column("version", Integer, nullable=False),
    _text("name"), _text("mime_type"), _text("blob_uri"),
    Column("size_bytes", BigInteger, nullable=True), _text("sha256", nullable=True), _tags(),
    _id("uploaded_by"), _at("uploaded_at"),
    PrimaryKeyConstraint("doc_id", "version", name="document_versions_pkey"),
)

shares = Table(
    "shares", metadata,
    _id("doc_id", ForeignKey("documents.doc_id", name="shares_doc_id_fkey")),
    _id("user_id"), _text("role"),
    # Null for shares made before contract v2 (migration 0006).
    _id("shared_by", nullable=True), _maybe_at("shared_at"), _maybe_at("expires_at"),
    PrimaryKeyConstraint("doc_id", "user_id", name="shares_pkey"),
    CheckConstraint("role IN ('viewer', 'editor', 'owner')", name="ck_shares_role"),
)
Index("ix_shares_user", shares.c.user_id, shares.c.doc_id)
Index(
    "ix_shares_expiring", shares.c.expires_at, shares.c.doc_id, shares.c.user_id,
    postgresql_where=shares.c.expires_at.isnot(None),
)

folder_shares = Table(
    "folder_shares", metadata,
    _id("folder_id", ForeignKey("folders.folder_id", name="folder_shares_folder_id_fkey")),
    _id("user_id"), _text("role"), _id("shared_by"), _at("shared_at"), _maybe_at("expires_at"),
    PrimaryKeyConstraint("folder_id", "user_id", name="folder_shares_pkey"),
    CheckConstraint("role IN ('viewer', 'editor', 'owner')", name="ck_folder_shares_role"),
)
Index("ix_folder_shares_user", folder_shares.c.user_id, folder_shares.c.folder_id)
Index(
    "ix_folder_shares_expiring", folder_shares.c.expires_at, folder_shares.c.folder_id,
    folder_shares.c.user_id, postgresql_where=folder_shares.c.expires_at.isnot(None),
)

# Keyed by (message_id, sender): see core.idempotency. routing_key and fingerprint are
# NULL only in rows recorded before migration 0002; reply holds the exact bytes sent.
inbox = Table(
    "inbox", metadata,
    Column("message_id", Text, nullable=False),
    Column("reply", LargeBinary, nullable=False),
    Column("scopes", ARRAY(Text), nullable=False),
    _at("created_at", default_now=True),
    Column("sender", Text, nullable=False),
    Column("routing_key", Text, nullable=True),
    Column("fingerprint", Text, nullable=True),
    PrimaryKeyConstraint("message_id", "sender", name="inbox_pkey"),
)
Index("ix_inbox_created_at", inbox.c.created_at)

outbox = Table(
    "outbox", metadata,
    Column("id", BigInteger, autoincrement=True, nullable=False),
    Column("event_id", Text, nullable=False),
    _text("routing_key"),
    Column("body", LargeBinary, nullable=False),
    Column("scopes", ARRAY(Text), nullable=False),
    _at("created_at", default_now=True),
    # the transports that confirmed the event (several configured: DOCBUS_EVENT_TRANSPORTS)
    Column("sent_to", ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")),
    Column("traceparent", Text, nullable=True),
    PrimaryKeyConstraint("id", name="outbox_pkey"),
    UniqueConstraint("event_id", name="outbox_event_id_key"),
)

audit_log = Table(
    "audit_log", metadata,
    Column("event_id", Text, nullable=False),
    _text("type"), _id("org_id"), _at("occurred_at"), _text("routing_key"),
    Column("body", JSONB, nullable=False),
    _at("recorded_at", default_now=True),
    PrimaryKeyConstraint("event_id", name="audit_log_pkey"),
)

cache_misses = Table(
    "cache_misses", metadata,
    Column("id", BigInteger, autoincrement=True, nullable=False),
    _text("scope"),
    _at("created_at", default_now=True),
    PrimaryKeyConstraint("id", name="cache_misses_pkey"),
)

delivery_attempts = Table(
    "delivery_attempts", metadata,
    _text("delivery_key"),
    Column("attempts", Integer, nullable=False),
    _at("first_at", default_now=True),
    PrimaryKeyConstraint("delivery_key", name="delivery_attempts_pkey"),
)
"""Redeliveries a worker began and did not finish (the poison rule; migration 0005)."""

AUDIT_APPEND_ONLY_FUNCTION = """
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % rejected', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$
"""
AUDIT_TRIGGERS = (
    "CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log"
    " FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log"
    " FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
)



def _guard_audit_log(target: Table, connection: Connection, **kw: object) -> None:
    """So that metadata.create_all (tooling, scratch databases) builds the same guard."""
    for statement in (AUDIT_APPEND_ONLY_FUNCTION, *AUDIT_TRIGGERS):
        connection.exec_driver_sql(statement)


event.listen(audit_log, "after_create", _guard_audit_log)
