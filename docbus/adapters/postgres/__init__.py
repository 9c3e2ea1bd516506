"""PostgreSQL adapters: the hot path on an asyncpg pool, the schema in SQLAlchemy Core.

What the composition root needs (migrations live in adapters.postgres.migrate, kept
apart so that the runtime does not import Alembic):
"""

from docbus.adapters.postgres.audit import PgAuditLog
from docbus.adapters.postgres.database import PgDatabase
from docbus.adapters.postgres.grouped_unit import PgGroupedUnit, PgGroupedUnitFactory
from docbus.adapters.postgres.inbox import prune_inbox
from docbus.adapters.postgres.misses import (
    CACHE_MISSED_CHANNEL,
    PgMissedInvalidations,
    PgMissedInvalidationsListener,
)
from docbus.adapters.postgres.notify import PgListener, PgNotifier
from docbus.adapters.postgres.outbox import (
    OUTBOX_CHANNEL,
    PgOutbox,
    PgOutboxListener,
    outbox_backlog,
)
from docbus.adapters.postgres.unit_of_work import PgUnitOfWork, PgUnitOfWorkFactory

__all__ = [
    "CACHE_MISSED_CHANNEL",
    "OUTBOX_CHANNEL",
    "PgAuditLog",
    "PgDatabase",
    "PgGroupedUnit",
    "PgGroupedUnitFactory",
    "PgListener",
    "PgMissedInvalidations",
    "PgMissedInvalidationsListener",
    "PgNotifier",
    "PgOutbox",
    "PgOutboxListener",
    "PgUnitOfWork",
    "PgUnitOfWorkFactory",
    "outbox_backlog",
    "prune_inbox",
]
