"""Several broker addresses for the client: the nodes of a cluster, tried in turn.

The URL names one node or several:

- comma-separated URLs: ``amqp://u:p@h1:5672/v,amqp://u:p@h2:5672/v``;
- one URL with several hosts: ``amqp://u:p@h1:5672,h2:5672,h3:5672/v``.

They may differ only in host and port. The client starts at a random node (clients
spread over the cluster); each connection attempt walks the list once, from the node
after the one last used, so a dead node costs a refused connect, not a reconnect
interval. (The worker has its own copy in adapters/: the client stands alone.)
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from typing import Any

from aio_pika import RobustConnection
from aiormq.connection import TCPTransportFactory, TLSTransportFactory
from aiormq.exceptions import AMQPConnectionError
from yarl import URL


def node_urls(value: str) -> list[str]:
    """The node URLs that ``value`` names; ValueError if they differ in more than host and
    port."""
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if not parts or "://" not in parts[0]:
        raise ValueError(f"not a broker URL: {value!r}")
    if all("://" in p for p in parts):
        urls = parts
    elif not any("://" in p for p in parts[1:]):
        scheme, rest = value.strip().split("://", 1)
        userinfo, at, hosts_tail = rest.rpartition("@")
        cut = next((i for i, c in enumerate(hosts_tail) if c in "/?#"), len(hosts_tail))
        urls = [f"{scheme}://{userinfo}{at}{h.strip()}{hosts_tail[cut:]}"
                for h in hosts_tail[:cut].split(",")]
    else:
        raise ValueError("a broker URL list is comma-separated URLs or one URL with hosts")
    first = URL(urls[0])
    for url in map(URL, urls):
        if not url.host or (url.scheme, url.user, url.password, url.path, url.query) != (
            first.scheme, first.user, first.password, first.path, first.query
        ):
            raise ValueError("the broker URLs may differ only in host and port")
    return urls


class RotatingTransportFactory(TCPTransportFactory):
    """Connects to the first node that accepts, from a rotating start (TLS for amqps)."""

    def __init__(self, nodes: Sequence[URL]) -> None:
        self.nodes = list(nodes)
        self._next = random.randrange(len(self.nodes))
        self._tls = TLSTransportFactory()  # amqps: aiormq's own TLS transport

    async def create(
        self, url: URL, **kwargs: Any
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        error: BaseException = AMQPConnectionError("no broker node")
        for step in range(len(self.nodes)):
            index = (self._next + step) % len(self.nodes)
            node = self.nodes[index]
            try:
                target = url.with_host(node.host or "").with_port(node.port or url.port)
                if target.scheme == "amqps":
                    made = await self._tls.create(target, **kwargs)
                else:
                    made = await super().create(target, **kwargs)
            except AMQPConnectionError as exc:
                error = exc
                continue
            self._next = (index + 1) % len(self.nodes)
            return made
        raise error


class FailoverConnection(RobustConnection):
    """aio-pika's robust connection over several nodes (``nodes=`` keyword)."""

    def __init__(self, url: URL, *args: Any, nodes: Sequence[str] = (), **kwargs: Any):
        super().__init__(url, *args, **kwargs)
        self.kwargs["transport_factory"] = RotatingTransportFactory(
            [URL(n) for n in nodes] or [URL(url)]
        )
