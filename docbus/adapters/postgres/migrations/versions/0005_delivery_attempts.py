"""Delivery attempts: the redeliveries a worker began to handle and did not finish.

The poison rule counts these (consumers/pipeline.py), not the broker's x-delivery-count,
which also counts deliveries lost to a connection or node failure. A row lives from the
first redelivery a worker starts until the message is done (deleted then); an attempt
that ends without the worker dying (a lost connection, a requeue) is taken back.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "delivery_attempts",
        sa.Column("delivery_key", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column(
            "first_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("delivery_key", name="delivery_attempts_pkey"),
    )


def downgrade() -> None:
    op.drop_table("delivery_attempts")
