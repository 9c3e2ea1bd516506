"""Events on several transports: each outbox row records the transports that confirmed it
(``sent_to``).

A row leaves the outbox once every configured transport is in its ``sent_to``; with one
transport (the default) rows are deleted at once and ``sent_to`` stays empty. The
column is added without rewriting the table (a constant default).

Downgrade drops it: rows still waiting for a second transport then count as unsent
and are published again to every transport (consumers de-duplicate by event_id).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column(
        "sent_to", postgresql.ARRAY(sa.Text), nullable=False,
        server_default=sa.text("'{}'::text[]"),
    ))


def downgrade() -> None:
    op.drop_column("outbox", "sent_to")
