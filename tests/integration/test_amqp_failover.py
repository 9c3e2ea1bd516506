"""Connections over several addresses, against the real RabbitMQ: two TCP forwarders to it
stand for two nodes of a cluster; cutting one is that node dying."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from yarl import URL

from docbus.adapters.amqp_failover import FailoverRobustConnection, connect_failover, connect_first
from docbus.devtools.embedded_valkey import free_port
from docbus_client import DocbusClient
from tests.client.conftest import eventually
from tests.fixtures.tcp_proxy import TcpProxy

pytestmark = pytest.mark.integration

STEP = 10.0


def via(rabbit_url: str, port: int) -> str:
    return str(URL(rabbit_url).with_host("127.0.0.1").with_port(port))


@pytest.fixture
async def nodes(rabbit_url: str) -> AsyncIterator[list[TcpProxy]]:
    url = URL(rabbit_url)
    proxies = [TcpProxy(url.host or "127.0.0.1", url.port or 5672) for _ in range(2)]
    for proxy in proxies:
        await proxy.start()
    yield proxies
    for proxy in proxies:
        await proxy.close()


async def test_a_connection_fails_over_to_the_other_node(
    rabbit_url: str, nodes: list[TcpProxy]
) -> None:
    urls = [via(rabbit_url, p.port) for p in nodes]
    connection = await connect_failover(urls, "failover-test", reconnect_interval=0.2)
    try:
        assert isinstance(connection, FailoverRobustConnection)
        first = connection.failover.node
        assert first is not None
        used = next(p for p in nodes if p.port == first.port)
        await used.cut()
        await eventually(
            lambda: connection.failover.node != first and connection.connected.is_set(), STEP
        )
        channel = await connection.channel()
        await channel.declare_queue("", exclusive=True)  # the connection works
        assert connection.failover.node is not None
        assert connection.failover.node.port != first.port
    finally:
        await connection.close()


async def test_a_dead_address_in_the_list_costs_no_interval(
    rabbit_url: str, nodes: list[TcpProxy]
) -> None:
    dead = free_port()
    urls = [via(rabbit_url, dead), via(rabbit_url, nodes[0].port)]
    for _ in range(4):  # whichever node it starts at
        started = time.monotonic()
        connection = await connect_failover(urls, "failover-test", reconnect_interval=5)
        await connection.close()
        assert time.monotonic() - started < 2.0
        plain = await connect_first(",".join(urls), timeout=5)
        await plain.close()


async def test_start_up_waits_within_its_budget(rabbit_url: str) -> None:
    urls = [via(rabbit_url, free_port())]
    started = time.monotonic()
    with pytest.raises(ConnectionError):
        await connect_failover(urls, "failover-test", reconnect_interval=0.2, budget=1.0)
    assert 0.8 <= time.monotonic() - started < 5.0


async def test_start_up_connects_once_a_node_appears(
    rabbit_url: str, nodes: list[TcpProxy]
) -> None:
    await nodes[0].cut()
    urls = [via(rabbit_url, nodes[0].port)]
    asyncio.get_running_loop().call_later(0.6, lambda: asyncio.ensure_future(nodes[0].restore()))
    connection = await connect_failover(urls, "failover-test", reconnect_interval=0.2, budget=10)
    await connection.close()


async def test_the_client_fails_over_too(rabbit_url: str, nodes: list[TcpProxy]) -> None:
    dead = free_port()
    url = f"{via(rabbit_url, dead)},{via(rabbit_url, nodes[0].port)}"
    for _ in range(3):
        async with DocbusClient(url, connect_timeout=5) as docbus:
            assert docbus.nodes[1].endswith(f":{nodes[0].port}{URL(rabbit_url).path}")
