"""Errors a person can act on: a server that cannot be reached, said in one line.

Every CLI command reaches its servers through ``reaching(...)``. A connection that fails
(refused, timed out, DNS, wrong password, missing database or vhost) becomes
``Unreachable``, which the command line prints as one line naming the server, the masked
address and the setting to check, and exits with status 2. Anything else stays a bug and
keeps its traceback.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from docbus.consumers.settings import mask_url as mask

SETTINGS = {
    "PostgreSQL": "DOCBUS_DATABASE_URL",
    "RabbitMQ": "DOCBUS_RABBIT_URL",
    "Valkey": "DOCBUS_VALKEY_URL",
}


class OperatorError(Exception):
    """Something a person must fix, said in one line (no traceback)."""


@dataclass
class Unreachable(OperatorError):
    server: str
    url: str
    cause: str

    def __str__(self) -> str:
        setting = SETTINGS.get(self.server, "the settings")
        return (
            f"cannot reach {self.server} at {mask(self.url)} ({self.cause}); "
            f"check that it runs and that {setting} is right"
        )


def _unreachable_errors() -> tuple[type[BaseException], ...]:
    """Exception types that mean "could not connect", from every client library in use."""
    import asyncpg
    import valkey.exceptions
    from aiormq.exceptions import AMQPConnectionError

    from docbus.core.errors import Unavailable
    from docbus_client.errors import DocbusConnectionError

    return (
        DocbusConnectionError,
        Unavailable,  # the PostgreSQL adapter's translation of a failed connection
        OSError,
        TimeoutError,
        AMQPConnectionError,
        asyncpg.InvalidCatalogNameError,
        asyncpg.InvalidPasswordError,
        asyncpg.InvalidAuthorizationSpecificationError,
        asyncpg.CannotConnectNowError,
        asyncpg.exceptions.ConnectionDoesNotExistError,
        valkey.exceptions.ConnectionError,
        valkey.exceptions.TimeoutError,
        valkey.exceptions.AuthenticationError,
    )


def describe(error: BaseException) -> str:
    """A short cause: the error's own words, or its type when it has none."""
    text = " ".join(str(error).split())
    if not text:
        return type(error).__name__
    return text if len(text) <= 160 else text[:157] + "..."


@contextlib.asynccontextmanager
async def reaching(server: str, url: str) -> AsyncIterator[None]:
    """Turn a failure to connect to ``server`` at ``url`` into Unreachable (the client
    libraries' own log lines about it are silenced: the one line says it all)."""
    for name in ("aiormq", "aio_pika", "asyncpg"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        yield
    except _unreachable_errors() as error:
        raise Unreachable(server, url, describe(_root(error))) from error


def _root(error: BaseException) -> BaseException:
    """The first cause in the chain: what the operating system or server said."""
    while error.__cause__ is not None:
        error = error.__cause__
    return error
