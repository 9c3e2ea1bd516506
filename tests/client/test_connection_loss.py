"""Losing the channel or the connection: requests in flight are published again with their
message_id (or, with ``resend_on_loss=False``, fail fast), then the client works again on
the reopened channel with a re-established reply consumer."""

from __future__ import annotations

import asyncio
import shutil
import subprocess

import pytest
from aio_pika.abc import AbstractConnection

from docbus_client import (
    DocbusClient,
    DocbusConnectionError,
    DocbusConnectionLost,
    DocbusUnroutable,
)
from tests.client.conftest import AMQP_URL, eventually
from tests.client.responder import Responder

pytestmark = pytest.mark.integration

PATIENT = 30.0  # far above the test's own deadline: failing fast is what is checked


async def in_flight(
    docbus: DocbusClient, responder: Responder, count: int
) -> list[asyncio.Task[object]]:
    """``count`` requests that the responder has received and will never answer."""
    tasks: list[asyncio.Task[object]] = [
        asyncio.create_task(docbus.request("echo.test", {"_silent": True}, timeout=PATIENT))
        for _ in range(count)
    ]
    # Received, not just registered: a publish that races with the broker closing the
    # channel can make RabbitMQ close the whole connection (aiormq writes it after
    # Channel.CloseOk: "504 expected 'channel.open'"); the client recovers from that
    # too, but this test wants one well-defined failure.
    await eventually(lambda: len(responder.received) == count)
    assert docbus.in_flight == count
    return tasks


async def outcomes(tasks: list[asyncio.Task[object]]) -> list[object]:
    async with asyncio.timeout(5):
        return await asyncio.gather(*tasks, return_exceptions=True)


async def rabbitmqctl(*args: str) -> str:
    if shutil.which("rabbitmqctl") is None:
        pytest.skip("rabbitmqctl is not available to drop a connection from the broker side")
    done = await asyncio.to_thread(
        subprocess.run, ["rabbitmqctl", "-q", *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        pytest.skip(f"rabbitmqctl failed: {done.stderr.strip()}")
    return done.stdout


async def drop_connection(connection_name: str) -> None:
    listing = await rabbitmqctl(
        "--no-table-headers", "list_connections", "pid", "client_properties"
    )
    pid = next(line.split("\t")[0] for line in listing.splitlines() if connection_name in line)
    await rabbitmqctl("close_connection", pid, "docbus client test")


async def test_requests_in_flight_fail_fast_when_the_broker_drops_the_connection(
    docbus: DocbusClient, responder: Responder
) -> None:
    docbus.resend_on_loss = False
    tasks = await in_flight(docbus, responder, 10)
    await drop_connection(docbus.connection_name)
    results = await outcomes(tasks)
    assert all(isinstance(result, DocbusConnectionLost) for result in results), results
    assert docbus.in_flight == 0
    reply = await docbus.request("echo.test", {"after": "reconnect"}, timeout=10)
    assert reply.unwrap()["echo"]["after"] == "reconnect"


async def test_requests_in_flight_fail_fast_when_the_broker_closes_the_channel(
    docbus: DocbusClient, rabbit: AbstractConnection, commands_exchange: str
) -> None:
    docbus.resend_on_loss = False
    worker = await Responder.start(rabbit, commands_exchange)
    tasks = await in_flight(docbus, worker, 10)
    channel = await rabbit.channel()
    await channel.exchange_delete(commands_exchange)
    with pytest.raises(DocbusUnroutable, match="does not exist"):
        await docbus.request("echo.test", {}, timeout=5)  # a 404 closes the client's channel
    results = await outcomes(tasks)
    assert all(isinstance(result, DocbusConnectionLost) for result in results), results
    await worker.stop()

    await channel.declare_exchange(commands_exchange, "topic")
    worker = await Responder.start(rabbit, commands_exchange)
    reply = await docbus.request("echo.test", {"after": "reopen"}, timeout=10)
    assert reply.unwrap()["echo"]["after"] == "reopen"
    await worker.stop()
    await channel.close()


async def test_requests_in_flight_are_resent_with_their_message_id_after_a_drop(
    docbus: DocbusClient, responder: Responder
) -> None:
    tasks = [
        asyncio.create_task(
            docbus.request("echo.test", {"_silent_first": True, "n": n}, timeout=PATIENT)
        )
        for n in range(5)
    ]
    await eventually(lambda: len(responder.received) == 5)
    await drop_connection(docbus.connection_name)
    replies = await outcomes(tasks)
    assert [r.unwrap()["echo"]["n"] for r in replies] == list(range(5))  # type: ignore[attr-defined]
    ids = [m.message_id for m in responder.received]
    assert len(ids) == 10
    assert all(ids.count(i) == 2 for i in ids)  # each command twice, with one message_id
    assert docbus.resent == 5
    assert docbus.in_flight == 0


async def test_closing_the_client_fails_requests_in_flight(
    commands_exchange: str, responder: Responder
) -> None:
    docbus = await DocbusClient.connect(AMQP_URL, exchange=commands_exchange)
    tasks = await in_flight(docbus, responder, 5)
    await docbus.close()
    results = await outcomes(tasks)
    assert all(isinstance(result, DocbusConnectionLost) for result in results), results
    with pytest.raises(DocbusConnectionError):
        await docbus.request("echo.test", {})
    await docbus.close()


async def test_connecting_to_no_broker_raises_connection_error() -> None:
    with pytest.raises(DocbusConnectionError):
        await DocbusClient.connect("amqp://guest:guest@127.0.0.1:1/", connect_timeout=2)
