"""The initial schema: folders, documents, shares, memberships, inbox, outbox, audit log.

Written by hand (not from the live metadata) so that it never changes once released;
tests check that it builds exactly what adapters/postgres/tables.py describes.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.Text(collation="C")
TIMESTAMP = sa.DateTime(timezone=True)
TEXTS = ARRAY(sa.Text)


def _content() -> list[sa.Column[object]]:
    return [
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("mime_type", sa.Text, nullable=False),
        sa.Column("blob_uri", sa.Text, nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=True),
        sa.Column("sha256", sa.Text, nullable=True),
        sa.Column("tags", TEXTS, nullable=False),
    ]


def _now(name: str) -> sa.Column[object]:
    return sa.Column(name, TIMESTAMP, nullable=False, server_default=sa.func.now())


def upgrade() -> None:
    op.create_table(
        "memberships",
        sa.Column("org_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("org_id", "user_id", name="memberships_pkey"),
        sa.CheckConstraint("role IN ('member', 'admin')", name="ck_memberships_role"),
    )
    op.create_table(
        "folders",
        sa.Column("folder_id", ID, nullable=False),
        sa.Column("org_id", ID, nullable=False),
        sa.Column("parent_id", ID, nullable=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        _now("created_at"),
        sa.PrimaryKeyConstraint("folder_id", name="folders_pkey"),
        sa.ForeignKeyConstraint(["parent_id"], ["folders.folder_id"],
                                name="folders_parent_id_fkey"),
    )
    op.execute(
        "CREATE UNIQUE INDEX uq_folders_sibling_name"
        " ON folders (org_id, coalesce(parent_id, ''::text), name)"
    )
    op.create_table(
        "documents",
        sa.Column("doc_id", ID, nullable=False),
        sa.Column("org_id", ID, nullable=False),
        sa.Column("folder_id", ID, nullable=False),
        sa.Column("owner_id", ID, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        *_content(),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("doc_id", name="documents_pkey"),
        sa.ForeignKeyConstraint(["folder_id"], ["folders.folder_id"],
                                name="documents_folder_id_fkey"),
    )
    op.execute(
        "CREATE INDEX ix_documents_listing ON documents (folder_id, updated_at DESC, doc_id DESC)"
    )
    op.create_table(
        "document_versions",
        sa.Column("doc_id", ID, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        *_content(),
        sa.Column("uploaded_by", ID, nullable=False),
        sa.Column("uploaded_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("doc_id", "version", name="document_versions_pkey"),
        sa.ForeignKeyConstraint(["doc_id"], ["documents.doc_id"],
                                name="document_versions_doc_id_fkey"),
    )
    op.create_table(
        "shares",
        sa.Column("doc_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("doc_id", "user_id", name="shares_pkey"),
        sa.ForeignKeyConstraint(["doc_id"], ["documents.doc_id"], name="shares_doc_id_fkey"),
        sa.CheckConstraint("role IN ('viewer', 'editor', 'owner')", name="ck_shares_role"),
    )
    op.create_index("ix_shares_user", "shares", ["user_id", "doc_id"])
    _create_messaging_tables()
    _create_audit_log()


def _create_messaging_tables() -> None:
    op.create_table(
        "inbox",
        sa.Column("message_id", sa.Text, nullable=False),
        sa.Column("reply", JSONB, nullable=False),
        sa.Column("scopes", TEXTS, nullable=False),
        _now("created_at"),
        sa.PrimaryKeyConstraint("message_id", name="inbox_pkey"),
    )
    op.create_index("ix_inbox_created_at", "inbox", ["created_at"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("routing_key", sa.Text, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("scopes", TEXTS, nullable=False),
        _now("created_at"),
        sa.PrimaryKeyConstraint("id", name="outbox_pkey"),
        sa.UniqueConstraint("event_id", name="outbox_event_id_key"),
    )
    op.create_table(
        "cache_misses",
        sa.Column("id", sa.BigInteger, autoincrement=True, nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        _now("created_at"),
        sa.PrimaryKeyConstraint("id", name="cache_misses_pkey"),
    )


def _create_audit_log() -> None:
    op.create_table(
        "audit_log",
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("org_id", ID, nullable=False),
        sa.Column("occurred_at", TIMESTAMP, nullable=False),
        sa.Column("routing_key", sa.Text, nullable=False),
        sa.Column("body", JSONB, nullable=False),
        _now("recorded_at"),
        sa.PrimaryKeyConstraint("event_id", name="audit_log_pkey"),
    )
    op.execute(
        """
        CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_log is append-only: % rejected', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END;
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log"
        " FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
    )
    op.execute(
        "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log"
        " FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
    )


def downgrade() -> None:
    op.drop_table("audit_log")
    op.execute("DROP FUNCTION audit_log_append_only()")
    for table in ("cache_misses", "outbox", "inbox", "shares", "document_versions",
                  "documents", "folders", "memberships"):
        op.drop_table(table)
