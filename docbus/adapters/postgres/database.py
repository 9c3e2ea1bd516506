"""The connection pool of the hot path, and what every PostgreSQL adapter needs from it.

The hot path runs hand-written SQL on asyncpg: asyncpg prepares each statement once per
connection and caches it, which costs a fraction of what an ORM round trip does. URLs
come in either form, ``postgresql://`` (asyncpg) or ``postgresql+asyncpg://`` (SQLAlchemy).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any, Self, TypeAlias

import asyncpg
import orjson
from asyncpg import Record
from asyncpg.pool import Pool, PoolConnectionProxy

from docbus.adapters.postgres.errors import translated
from docbus.adapters.postgres.notify import PgNotifier

Conn: TypeAlias = "PoolConnectionProxy[Record]"  # generic in the stubs only

_SCHEME = re.compile(r"^postgres(?:ql)?(?:\+\w+)?://")
_JSONB_VERSION = b"\x01"  # the binary jsonb format: a version byte, then the JSON text


def asyncpg_dsn(url: str) -> str:
    """``postgresql://...`` for asyncpg, from either that or the SQLAlchemy form."""
    if not _SCHEME.match(url):
        raise ValueError("not a PostgreSQL URL")
    return _SCHEME.sub("postgresql://", url, count=1)


def dsn_of(db_or_url: PgDatabase | str) -> str:
    """The asyncpg DSN of a database or of a URL in either form."""
    return db_or_url.dsn if isinstance(db_or_url, PgDatabase) else asyncpg_dsn(db_or_url)


def sqlalchemy_url(url: str) -> str:
    """``postgresql+asyncpg://...`` for SQLAlchemy and Alembic, from either form."""
    return "postgresql+asyncpg://" + asyncpg_dsn(url).removeprefix("postgresql://")


def _encode_jsonb(value: Any) -> bytes:
    return _JSONB_VERSION + orjson.dumps(value)


def _decode_jsonb(data: bytes) -> Any:
    return orjson.loads(data[1:])


async def _init_connection(conn: asyncpg.Connection[Record]) -> None:
    """jsonb in and out as Python objects, through orjson, in the binary format."""
    await conn.set_type_codec(
        "jsonb", schema="pg_catalog", format="binary",
        encoder=_encode_jsonb, decoder=_decode_jsonb,
    )


async def _keep_session(conn: asyncpg.Connection[Record]) -> None:
    """Release without the default reset query (one round trip saved per unit).

    Nothing here leaves session state on a pool connection: locks are transaction-scoped,
    LISTEN runs on its own connection, settings come from the startup packet. asyncpg
    still rolls back an open transaction before it calls this.
    """


class PgDatabase:
    """An asyncpg pool plus what every PostgreSQL adapter needs from it."""

    def __init__(
        self, pool: Pool[Record], dsn: str, acquire_timeout: float, notify_interval: float = 0.02
    ) -> None:
        self._pool = pool
        self._dsn = dsn
        self._acquire_timeout = acquire_timeout
        self._notify_interval = notify_interval
        self._notifiers: dict[str, PgNotifier] = {}

    @classmethod
    async def connect(
        cls, url: str, min_size: int = 2, max_size: int = 10, command_timeout: float = 10.0,
        *, acquire_timeout: float = 5.0, statement_cache_size: int = 100,
        idle_in_transaction_timeout: float = 60.0, application_name: str = "docbus",
        notify_interval: float = 0.02,
    ) -> Self:
        """Open the pool; Unavailable if the server cannot be reached.

        The server ends a session idle in a transaction after ``idle_in_transaction_timeout``
        seconds, so that a hung worker cannot hold row locks for ever. ``notify_interval``
        is the most often this process NOTIFYs one channel (see PgNotifier).
        """
        dsn = asyncpg_dsn(url)
        settings = {
            "idle_in_transaction_session_timeout": str(int(idle_in_transaction_timeout * 1000)),
            "application_name": application_name,
        }
        with translated():
            pool = await asyncpg.create_pool(
                dsn, min_size=min_size, max_size=max_size, command_timeout=command_timeout,
                statement_cache_size=statement_cache_size, server_settings=settings,
                init=_init_connection, reset=_keep_session, timeout=acquire_timeout,
            )
        return cls(pool, dsn, acquire_timeout, notify_interval)

    @property
    def pool(self) -> Pool[Record]:
        return self._pool

    @property
    def dsn(self) -> str:
        return self._dsn

    def notifier(self, channel: str) -> PgNotifier:
        """The process's one notifier for ``channel``."""
        if channel not in self._notifiers:
            self._notifiers[channel] = PgNotifier(self, channel, self._notify_interval)
        return self._notifiers[channel]

    async def close(self) -> None:
        for notifier in self._notifiers.values():
            await notifier.close()
        await self._pool.close()

    async def acquire(self) -> Conn:
        """A pooled connection (give it back with release); Unavailable on timeout."""
        with translated():
            return await self._pool.acquire(timeout=self._acquire_timeout)

    async def release(self, conn: Conn) -> None:
        """Give a connection back; a broken one is dropped by the pool, never raised about."""
        with suppress(Exception):
            await self._pool.release(conn)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Conn]:
        """A pooled connection for the block (errors inside are the block's to translate)."""
        conn = await self.acquire()
        try:
            yield conn
        finally:
            await self.release(conn)

    async def execute(self, sql: str, *args: object) -> str:
        """Run one statement in its own transaction; return its status tag."""
        async with self.connection() as conn:
            with translated():
                return await conn.execute(sql, *args)

    async def fetch(self, sql: str, *args: object) -> list[Record]:
        async with self.connection() as conn:
            with translated():
                return await conn.fetch(sql, *args)

    async def fetchval(self, sql: str, *args: object) -> Any:
        async with self.connection() as conn:
            with translated():
                return await conn.fetchval(sql, *args)


async def end_transaction(conn: Conn, statement: str) -> None:
    """COMMIT or ROLLBACK on the way out of a block, never raising: a connection that
    cannot do it is closed, and the server then rolls back and releases its locks. (A
    connection that died has already been handed back to the pool by asyncpg.)"""
    try:
        await conn.execute(statement)
    except Exception:
        with suppress(Exception):
            conn.terminate()


def affected(status: str) -> int:
    """The row count of a status tag such as ``INSERT 0 3`` or ``DELETE 2``."""
    return int(status.rsplit(" ", 1)[-1])
