"""Trace context kept with each outbox event: the W3C ``traceparent`` of the command that
caused it, so that the relay's publish continues that trace (contract v2, section 6).

Nullable, no default: adding it rewrites nothing, and events written before it are
published with a trace of their own.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("traceparent", sa.Text, nullable=True))


def downgrade() -> None:
    op.drop_column("outbox", "traceparent")
