"""Contract v2, sharing: document shares get ``expires_at`` and who granted them when
(``shared_by``, ``shared_at``: null for shares made before v2); partial indexes find the
grants that expire (the expiry sweeper) without scanning the permanent ones.

No table is rewritten: the new columns are nullable.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.Text(collation="C")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("shares", sa.Column("shared_by", ID, nullable=True))
    op.add_column("shares", sa.Column("shared_at", TIMESTAMP, nullable=True))
    op.add_column("shares", sa.Column("expires_at", TIMESTAMP, nullable=True))
    op.execute(
        "CREATE INDEX ix_shares_expiring ON shares (expires_at, doc_id, user_id)"
        " WHERE expires_at IS NOT NULL"
    )
    op.execute(
        "CREATE INDEX ix_folder_shares_expiring ON folder_shares (expires_at, folder_id, user_id)"
        " WHERE expires_at IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("DROP INDEX ix_folder_shares_expiring")
    op.execute("DROP INDEX ix_shares_expiring")
    for column in ("expires_at", "shared_at", "shared_by"):
        op.drop_column("shares", column)
