"""The worker: starts what the composition root (consumers/bootstrap.py) built, and stops it.

It knows no adapter: it gets its consumers (the command subscribers, the audit consumer),
its background services (the outbox relay, the maintenance loop) and the stack that closes
every connection, and runs them.

Shutdown (SIGTERM), in this order and within ``deadline`` seconds:

1. every consumer stops consuming (basic.cancel: the broker sends nothing new);
2. the deliveries in flight finish (each is acknowledged as usual);
3. the background services stop, then drain (the relay publishes what the outbox holds);
4. the connections close, in the reverse order of their opening.

Nothing is left unacknowledged, so a deploy causes no redelivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

log = structlog.get_logger("docbus.worker")
ROLES = frozenset({"commands", "relay", "audit"})


class Consumer(Protocol):
    """Takes deliveries from the broker (the command subscribers, the audit consumer)."""

    name: str

    async def start(self) -> None: ...

    async def stop_consuming(self) -> None:
        """basic.cancel: nothing new arrives; what arrived is still handled."""

    async def drained(self, timeout: float) -> bool:
        """Wait until every delivery received was settled; False if the timeout came first."""

    def figures(self) -> dict[str, int]:
        """What the ``worker_stopped`` (or ``shutdown_deadline_passed``) log line reports."""


class Service(Protocol):
    """A loop in the background (the outbox relay, the maintenance loop)."""

    async def run(self, stopping: asyncio.Event) -> None:
        """Work until ``stopping`` is set."""

    async def drain(self) -> None:
        """The last work before the connections close (the relay's last round)."""


@dataclass
class Worker:
    consumers: Sequence[Consumer]
    services: Sequence[Service]
    resources: AsyncExitStack
    """Closes every connection the composition root opened, last opened first."""
    deadline: float
    roles: frozenset[str]
    about: dict[str, object] = field(default_factory=dict)
    """What the one start-up line says besides the roles (version, masked URLs...)."""
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        for consumer in self.consumers:
            await consumer.start()
        for service in self.services:
            self._tasks.append(asyncio.create_task(service.run(self._stopping)))
        log.info("worker_started", roles=sorted(self.roles), **self.about)

    async def stop(self) -> None:
        """Stop consuming, finish in-flight deliveries, stop and drain the services, close."""
        deadline = time.monotonic() + self.deadline
        log.info("worker_stopping")
        for consumer in self.consumers:
            await consumer.stop_consuming()
        for consumer in self.consumers:
            if not await consumer.drained(_left(deadline)):
                log.error(
                    "shutdown_deadline_passed", consumer=consumer.name, **consumer.figures()
                )
        self._stopping.set()
        for task in self._tasks:
            await _within(task, deadline)
        for service in self.services:
            await _within(service.drain(), deadline)
        await self.close()
        figures: dict[str, Any] = {}
        for consumer in self.consumers:
            figures.update(consumer.figures())
        log.info("worker_stopped", **figures)

    async def close(self) -> None:
        """Cancel the services (if still running) and close every connection."""
        for task in self._tasks:
            task.cancel()
        await self.resources.aclose()

    async def run_until_signalled(self) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            await self.start()
        except BaseException:
            await self.close()
            raise
        await stop.wait()
        await self.stop()


async def _within(work: Any, deadline: float) -> None:
    """Await ``work`` until the deadline; a failure or a timeout ends only this wait."""
    with contextlib.suppress(Exception, asyncio.CancelledError):
        async with asyncio.timeout(_left(deadline)):
            await work


def _left(deadline: float) -> float:
    return max(0.1, deadline - time.monotonic())
