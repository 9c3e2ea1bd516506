"""Idempotency keys scoped to sender and command: the inbox keeps, with each reply, the
sender, the routing key and the fingerprint of the command, and the reply's exact bytes.

Existing rows are kept (none is lost): their sender becomes "", their routing key and
fingerprint stay NULL (unknown), and their JSONB reply becomes its text in UTF-8. Such a
row keeps its message_id taken for every sender: a reuse is refused, neither replayed
nor acted on again (core.idempotency). Pruning removes them after the inbox retention.

Downgrade keeps one row per message_id (the smallest sender's): v1 cannot hold more.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A constant default fills existing rows without rewriting the table; then dropped:
    # every insert names its sender.
    op.add_column("inbox", sa.Column("sender", sa.Text, nullable=False, server_default=""))
    op.alter_column("inbox", "sender", server_default=None)
    op.add_column("inbox", sa.Column("routing_key", sa.Text, nullable=True))
    op.add_column("inbox", sa.Column("fingerprint", sa.Text, nullable=True))
    op.execute(
        "ALTER TABLE inbox ALTER COLUMN reply TYPE bytea USING convert_to(reply::text, 'UTF8')"
    )
    op.drop_constraint("inbox_pkey", "inbox", type_="primary")
    op.create_primary_key("inbox_pkey", "inbox", ["message_id", "sender"])


def downgrade() -> None:
    op.execute(
        "DELETE FROM inbox a USING inbox b"
        " WHERE a.message_id = b.message_id AND a.sender > b.sender"
    )
    op.drop_constraint("inbox_pkey", "inbox", type_="primary")
    op.create_primary_key("inbox_pkey", "inbox", ["message_id"])
    op.execute(
        "ALTER TABLE inbox ALTER COLUMN reply TYPE jsonb USING convert_from(reply, 'UTF8')::jsonb"
    )
    for column in ("fingerprint", "routing_key", "sender"):
        op.drop_column("inbox", column)
