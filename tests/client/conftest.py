"""Fixtures for the client's tests, all against a real RabbitMQ.

Each test gets its own commands and events exchanges (unique names) so that it cannot
see, or be seen by, anything else on the broker; both are deleted afterwards. Queues
are exclusive and auto-delete.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable

import aio_pika
import pytest
from aio_pika.abc import AbstractConnection

from docbus_client import DocbusClient
from tests.client.responder import Responder

AMQP_URL = os.environ.get("DOCBUS_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


async def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until ``condition()`` holds; fail the test after ``timeout`` seconds."""
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"still false after {timeout}s: {condition}")


@pytest.fixture
async def rabbit() -> AsyncIterator[AbstractConnection]:
    """A plain (non-robust) connection for the tests' own declarations and responders
    (one per test, so that a broker restart by someone else spoils one test only)."""
    try:
        connection = await aio_pika.connect(AMQP_URL, timeout=5)
    except (OSError, aio_pika.exceptions.AMQPConnectionError) as exc:
        pytest.skip(f"RabbitMQ is not reachable at {AMQP_URL}: {exc!r}")
    yield connection
    await connection.close()


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:12]


@pytest.fixture
async def commands_exchange(rabbit: AbstractConnection, unique: str) -> AsyncIterator[str]:
    """A topic exchange standing in for ``docbus.commands``."""
    name = f"test.docbus.commands.{unique}"
    channel = await rabbit.channel()
    await channel.declare_exchange(name, aio_pika.ExchangeType.TOPIC)
    yield name
    await channel.exchange_delete(name)
    await channel.close()


@pytest.fixture
async def events_exchange(rabbit: AbstractConnection, unique: str) -> AsyncIterator[str]:
    """The name of a per-test ``doc.events``; whoever declares it, it is deleted after."""
    name = f"test.doc.events.{unique}"
    yield name
    channel = await rabbit.channel()
    await channel.exchange_delete(name)
    await channel.close()


@pytest.fixture
async def responder(rabbit: AbstractConnection, commands_exchange: str) -> AsyncIterator[Responder]:
    worker = await Responder.start(rabbit, commands_exchange)
    yield worker
    await worker.stop()


@pytest.fixture
async def docbus(
    commands_exchange: str, events_exchange: str, unique: str
) -> AsyncIterator[DocbusClient]:
    docbus = await DocbusClient.connect(
        AMQP_URL,
        timeout=5.0,
        exchange=commands_exchange,
        events_exchange=events_exchange,
        connection_name=f"docbus-client-test-{unique}",
        reconnect_interval=0.2,
    )
    yield docbus
    await docbus.close()
