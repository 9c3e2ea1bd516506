"""Contract v2, lives of documents and folders: the folder tree's ancestor arrays, trash
state on documents and folders, folder shares; sibling names unique among live folders.

Upgrades a populated v1 database in place, without rewriting documents: new columns are
nullable (or have a constant default, which PostgreSQL stores without a table rewrite);
only folders are updated, once, to fill in their ancestors. Folders created before v2
have no folder shares: org admins manage them (contract v2, section 1).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.Text(collation="C")
TIMESTAMP = sa.DateTime(timezone=True)

FILL_ANCESTORS = """
WITH RECURSIVE tree AS (
    SELECT folder_id, ARRAY[]::text[] AS ancestors FROM folders WHERE parent_id IS NULL
    UNION ALL
    SELECT f.folder_id, t.ancestors || (f.parent_id COLLATE "default")
    FROM folders f JOIN tree t ON f.parent_id = t.folder_id
)
UPDATE folders SET ancestors = tree.ancestors FROM tree
WHERE folders.folder_id = tree.folder_id AND cardinality(tree.ancestors) > 0
"""


def upgrade() -> None:
    op.add_column("folders", sa.Column("ancestors", ARRAY(sa.Text), nullable=False,
                                       server_default=sa.text("'{}'::text[]")))
    op.add_column("folders", sa.Column("trashed_at", TIMESTAMP, nullable=True))
    op.add_column("folders", sa.Column("trashed_by", ID, nullable=True))
    op.add_column("documents", sa.Column("trashed_at", TIMESTAMP, nullable=True))
    op.add_column("documents", sa.Column("trashed_by", ID, nullable=True))
    op.execute(FILL_ANCESTORS)
    op.execute("CREATE INDEX ix_folders_ancestors ON folders USING gin (ancestors)")
    op.execute("DROP INDEX uq_folders_sibling_name")
    op.execute(
        "CREATE UNIQUE INDEX uq_folders_sibling_name"
        " ON folders (org_id, coalesce(parent_id, ''::text), name) WHERE trashed_at IS NULL"
    )
    op.execute(
        "CREATE INDEX ix_folders_trash ON folders (org_id, trashed_at DESC, folder_id DESC)"
        " WHERE trashed_at IS NOT NULL"
    )
    op.execute(
        "CREATE INDEX ix_documents_trash ON documents (org_id, trashed_at DESC, doc_id DESC)"
        " WHERE trashed_at IS NOT NULL"
    )
    op.create_table(
        "folder_shares",
        sa.Column("folder_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("shared_by", ID, nullable=False),
        sa.Column("shared_at", TIMESTAMP, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("folder_id", "user_id", name="folder_shares_pkey"),
        sa.ForeignKeyConstraint(["folder_id"], ["folders.folder_id"],
                                name="folder_shares_folder_id_fkey"),
        sa.CheckConstraint("role IN ('viewer', 'editor', 'owner')", name="ck_folder_shares_role"),
    )
    op.create_index("ix_folder_shares_user", "folder_shares", ["user_id", "folder_id"])


def downgrade() -> None:
    op.drop_table("folder_shares")
    op.execute("DROP INDEX ix_documents_trash")
    op.execute("DROP INDEX ix_folders_trash")
    op.execute("DROP INDEX uq_folders_sibling_name")
    op.execute(
        "CREATE UNIQUE INDEX uq_folders_sibling_name"
        " ON folders (org_id, coalesce(parent_id, ''::text), name)"
    )
    op.execute("DROP INDEX ix_folders_ancestors")
    for column in ("trashed_by", "trashed_at"):
        op.drop_column("documents", column)
    for column in ("trashed_by", "trashed_at", "ancestors"):
        op.drop_column("folders", column)
