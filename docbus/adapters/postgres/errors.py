"""Error translation at the adapter boundary: failures that may pass become Unavailable.

The bus retries Unavailable with backoff, and idempotency (the inbox) makes a retry safe
even when the outcome is unknown (a COMMIT that lost its connection). Domain errors and
programming errors (bad SQL, a value the driver cannot encode) pass through untouched:
retrying those would only fail again.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

import asyncpg
from asyncpg import exceptions as pg

from docbus.core.errors import Unavailable

P = ParamSpec("P")
R = TypeVar("R")
C = TypeVar("C", bound=type)

TRANSIENT: tuple[type[BaseException], ...] = (
    OSError,  # includes ConnectionError and, since Python 3.11, asyncio.TimeoutError
    asyncio.TimeoutError,  # pool acquire and command_timeout
    asyncpg.PostgresConnectionError,  # 08xxx, ConnectionDoesNotExistError among them
    asyncpg.InterfaceError,  # "connection is closed" and the like
    pg.OperatorInterventionError,  # 57xxx: admin shutdown, cannot connect now, query canceled
    pg.InsufficientResourcesError,  # 53xxx: too many connections, out of memory, disk full
    pg.SerializationError,
    pg.DeadlockDetectedError,
    pg.LockNotAvailableError,
    pg.IdleInTransactionSessionTimeoutError,
    pg.InvalidCachedStatementError,  # a migration changed a table under a prepared statement
    pg._base.InternalClientError,  # protocol state left behind by a connection lost mid-call
)

# InterfaceError subclasses that are bugs or configuration mistakes, not outages.
PERMANENT: tuple[type[BaseException], ...] = (
    pg._base.DataError,  # a Python value the driver cannot encode
    pg._base.ClientConfigurationError,
    pg._base.UnsupportedClientFeatureError,
    pg._base.UnsupportedServerFeatureError,
)


def unavailable(exc: BaseException) -> Unavailable:
    """The error to raise instead; its text names no host, SQL or data (it may reach a reply)."""
    return Unavailable(f"database unavailable ({type(exc).__name__})")


@contextmanager
def translated() -> Iterator[None]:
    """Re-raise transient database failures as Unavailable, chained to their cause."""
    try:
        yield
    except PERMANENT:
        raise
    except TRANSIENT as exc:
        raise unavailable(exc) from exc


def db_call(fn: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
    """Decorate one coroutine function so that its transient failures become Unavailable."""

    @functools.wraps(fn)
    async def call(*args: P.args, **kwargs: P.kwargs) -> R:
        with translated():
            return await fn(*args, **kwargs)

    return call


def translate_errors(cls: C) -> C:
    """Apply db_call to every public coroutine method of a class: one boundary per adapter."""
    for name, member in list(vars(cls).items()):
        if not name.startswith("_") and inspect.iscoroutinefunction(member):
            setattr(cls, name, db_call(member))
    return cls
