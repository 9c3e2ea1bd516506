"""Create the database and migrate it to the newest schema (start-up and tests).

Several workers may start at once: creating the database tolerates a concurrent creator,
and migrations run under a transaction advisory lock, one migrator at a time.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from docbus.adapters.postgres.database import sqlalchemy_url
from docbus.adapters.postgres.errors import TRANSIENT, translated, unavailable

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
UNREACHABLE: tuple[type[BaseException], ...] = (*TRANSIENT, OperationalError, InterfaceError)
MIGRATION_LOCK = 0x646F6362_7573  # "docbus": the advisory lock key migrators queue on


def alembic_config(url: str | None = None) -> Config:
    """Alembic configured from the installed package; no alembic.ini needed."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        config.attributes["url"] = url
    return config


def _maintenance(url: str) -> tuple[str, str]:
    """The DSN of the 'postgres' database on the same server, and the target's name."""
    parsed = make_url(sqlalchemy_url(url))
    if not parsed.database:
        raise ValueError("the URL names no database")
    maintenance = parsed.set(drivername="postgresql", database="postgres")
    return maintenance.render_as_string(hide_password=False), parsed.database


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def ensure_database(url: str) -> bool:
    """Create the database if missing; True if this call created it."""
    dsn, name = _maintenance(url)
    with translated():
        conn = await asyncpg.connect(dsn, timeout=10)
    try:
        with translated():
            if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                return False
            await conn.execute(f"CREATE DATABASE {_quote(name)}")
        return True
    except (asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):
        return False  # another starter created it between our check and our CREATE
    finally:
        await conn.close()


async def drop_database(url: str) -> None:
    """Drop the database, disconnecting its sessions (tests clean up after themselves)."""
    dsn, name = _maintenance(url)
    with translated():
        conn = await asyncpg.connect(dsn, timeout=10)
    try:
        with translated():
            await conn.execute(f"DROP DATABASE IF EXISTS {_quote(name)} WITH (FORCE)")
    finally:
        await conn.close()


def _upgrade_on(connection: Connection, config: Config, revision: str) -> None:
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def upgrade_async(url: str, revision: str = "head") -> None:
    """Migrate to ``revision`` in one transaction, on the asyncpg driver."""
    engine = create_async_engine(sqlalchemy_url(url), poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade_on, alembic_config(url), revision)
    except UNREACHABLE as exc:
        raise unavailable(exc) from exc
    finally:
        await engine.dispose()


def upgrade(url: str, revision: str = "head") -> None:
    """upgrade_async for callers without an event loop (command line, scripts)."""
    asyncio.run(upgrade_async(url, revision))
