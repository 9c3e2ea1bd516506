"""Several broker addresses: connections that fail over to the next live node of a cluster.

``DOCBUS_RABBIT_URL`` names one node or several (``broker_urls`` parses it):

- comma-separated URLs: ``amqp://u:p@10.0.0.1:5672/v,amqp://u:p@10.0.0.2:5672/v``;
- or one URL with several hosts: ``amqp://u:p@10.0.0.1:5672,10.0.0.2:5672,10.0.0.3/v``.

Rules:

- The URLs may differ only in host and port: user, password, vhost and options are one
  (a list that mixes them is refused at start, not discovered on a failover).
- Every connection starts at a random node, so that workers spread over the cluster.
- One connection attempt walks the list once, starting after the node last used: a
  dead node costs one refused TCP connect (milliseconds on a LAN), not a reconnect
  interval. aio-pika's robust connection repeats attempts every ``reconnect_interval``
  seconds (docbus default 1 s, not the library's 5 s) until one succeeds.
- aio-pika's ``connect_robust`` takes one URL: the address is chosen by the transport
  factory, aiormq's extension point that is called once per attempt with that URL.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from functools import partial
from typing import Any

import aio_pika
import structlog
from aio_pika.abc import AbstractConnection, AbstractRobustConnection
from aiormq.connection import TLSTransportFactory
from aiormq.exceptions import AMQPConnectionError
from yarl import URL

from docbus.adapters.amqp_transport import CoalescingRobustConnection, CoalescingTransportFactory

log = structlog.get_logger("docbus.amqp")

# What a connection attempt to a dead, starting or stopping node raises.
CONNECT_ERRORS: tuple[type[BaseException], ...] = (
    AMQPConnectionError, ConnectionError, OSError, asyncio.TimeoutError,
)


def broker_urls(value: str) -> list[str]:
    """The node URLs that ``value`` names (see the module's docstring); ValueError if the
    URLs differ in anything but host and port, or name no host."""
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if not parts:
        raise ValueError("no broker URL")
    if all("://" in p for p in parts):
        urls = parts
    elif "://" in parts[0] and not any("://" in p for p in parts[1:]):
        urls = _expand_hosts(value.strip())
    else:
        raise ValueError(
            "a broker URL list is either comma-separated URLs or one URL with several hosts"
        )
    _check_alike([URL(u) for u in urls])
    return urls


def _expand_hosts(value: str) -> list[str]:
    """``scheme://user@h1:p1,h2:p2/tail`` -> one URL per host."""
    scheme, rest = value.split("://", 1)
    userinfo, _, hosts_and_tail = rest.rpartition("@")
    cut = min((i for i in (hosts_and_tail.find(c) for c in "/?#") if i >= 0), default=None)
    hosts = hosts_and_tail[:cut] if cut is not None else hosts_and_tail
    tail = hosts_and_tail[cut:] if cut is not None else ""
    prefix = f"{scheme}://{userinfo}@" if userinfo else f"{scheme}://"
    return [f"{prefix}{host.strip()}{tail}" for host in hosts.split(",")]


def _check_alike(urls: Sequence[URL]) -> None:
    first = urls[0]
    for url in urls:
        if not url.host:
            raise ValueError(f"a broker URL names no host: {url.with_password(None)}")
        same = (url.scheme, url.user, url.password, url.path, url.query) == (
            first.scheme, first.user, first.password, first.path, first.query
        )
        if not same:
            raise ValueError(
                "the broker URLs may differ only in host and port (one user, vhost, options)"
            )


class FailoverTransportFactory(CoalescingTransportFactory):
    """Connects to the first node that accepts, walking the list from a rotating start."""

    def __init__(self, addresses: Sequence[URL]) -> None:
        self.addresses = list(addresses)
        self._next = random.randrange(len(self.addresses))
        self.node: URL | None = None
        """The node of the latest transport made."""

    async def create(
        self, url: URL, **kwargs: Any
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        error: BaseException | None = None
        count = len(self.addresses)
        for step in range(count):
            index = (self._next + step) % count
            node = self.addresses[index]
            try:
                target = url.with_host(node.host or "").with_port(node.port or url.port)
                made = await self._open(target, **kwargs)
            except AMQPConnectionError as exc:
                error = exc
                continue
            # The next attempt (after this node is lost) starts at the node after it.
            self._next = (index + 1) % count
            self.node = node
            return made
        assert error is not None
        raise error

    async def _open(
        self, url: URL, **kwargs: Any
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """TLS for ``amqps`` (aiormq's own factory), else the coalescing plain TCP."""
        if url.scheme == "amqps":
            return await TLSTransportFactory().create(url, **kwargs)
        return await super().create(url, **kwargs)


class FailoverRobustConnection(CoalescingRobustConnection):
    """aio-pika's robust connection over several nodes (``addresses=`` keyword)."""

    def __init__(self, url: URL, *args: Any, addresses: Sequence[str] = (), **kwargs: Any):
        super().__init__(url, *args, **kwargs)
        nodes = [URL(a) for a in addresses] or [URL(url)]
        self.failover = FailoverTransportFactory(nodes)
        self.transport_factory = self.failover
        self.kwargs["transport_factory"] = self.failover

    async def _on_connected(self) -> None:
        await super()._on_connected()
        node = self.failover.node
        # aio-pika keeps client_properties as a keyword, or (FastStream's) in the URL query
        name = (self.kwargs.get("client_properties") or {}).get("connection_name") or (
            self.url.query.get("connection_name")
        )
        log.info("broker_connected", connection=name, attempt=self.connection_attempt,
                 node=f"{node.host}:{node.port}" if node else None)


def connection_options(urls: Sequence[str], reconnect_interval: float) -> dict[str, Any]:
    """What ``connect_robust`` (or FastStream's broker) needs besides the first URL.

    The nodes are bound to the connection class (a partial), not passed as keywords:
    aio-pika copies its keywords into the URL's query, passwords and all.
    """
    return {
        "connection_class": partial(FailoverRobustConnection, addresses=list(urls)),
        "reconnect_interval": reconnect_interval,
    }


async def connect_failover(
    urls: Sequence[str], name: str, *, reconnect_interval: float = 1.0, budget: float = 0.0
) -> AbstractRobustConnection:
    """A robust connection to the first live node of ``urls``, named ``name``.

    While no node answers, try again every ``reconnect_interval`` seconds for at most
    ``budget`` seconds (0: one attempt), then raise the last error.
    """
    deadline = time.monotonic() + budget
    while True:
        try:
            connection: AbstractRobustConnection = await aio_pika.connect_robust(
                urls[0], client_properties={"connection_name": name},
                **connection_options(urls, reconnect_interval),
            )
            return connection
        except CONNECT_ERRORS as error:
            if time.monotonic() + reconnect_interval > deadline:
                raise
            log.warning("broker_unreachable", connection=name, error=repr(error),
                        retry_in=reconnect_interval)
            await asyncio.sleep(reconnect_interval)


async def connect_first(
    value: str, *, timeout: float | None = None, **kwargs: Any
) -> AbstractConnection:
    """A plain (not robust) connection to the first node of ``value`` (one URL or a list,
    see ``broker_urls``) that accepts, from a random start: what a short-lived tool needs."""
    urls = broker_urls(value)
    start = random.randrange(len(urls))
    error: BaseException | None = None
    for url in urls[start:] + urls[:start]:
        try:
            connection: AbstractConnection = await aio_pika.connect(url, timeout=timeout, **kwargs)
            return connection
        except CONNECT_ERRORS as exc:
            error = exc
    assert error is not None
    raise error
