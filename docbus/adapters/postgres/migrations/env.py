"""Alembic environment: runs on the asyncpg driver, like the service itself.

migrate.upgrade_async passes its own connection (already locked against concurrent
migrators) in ``config.attributes["connection"]``; the alembic command line gets the URL
from ``-x url=...``, DOCBUS_DATABASE_URL or alembic.ini.
"""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from docbus.adapters.postgres.database import sqlalchemy_url
from docbus.adapters.postgres.tables import metadata

config = context.config


def _url() -> str:
    url = (
        config.attributes.get("url")
        or context.get_x_argument(as_dictionary=True).get("url")
        or os.environ.get("DOCBUS_DATABASE_URL")
        or config.get_main_option("sqlalchemy.url")
    )
    if not url:
        raise RuntimeError("no database URL: pass -x url=... or set DOCBUS_DATABASE_URL")
    return sqlalchemy_url(url)


def run_on(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


async def run_async() -> None:
    engine = create_async_engine(_url(), poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_on)
    finally:
        await engine.dispose()


def run_offline() -> None:
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
elif (shared := config.attributes.get("connection")) is not None:
    run_on(shared)
else:
    asyncio.run(run_async())
