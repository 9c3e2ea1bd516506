"""A plain aio-pika client for the fuzzing tier: sends a case, collects its reply and
its dead letters, and watches what no well-behaved worker may do.

- Replies come over direct reply-to, matched by correlation_id (one case at a time).
- docbus.dead is consumed here (the vhost is the tier's own): every letter must say
  ``invalid:`` and come from docbus.commands. A reply that a hostile ``reply_to`` sent
  into docbus.dead, or into a command queue (whence the worker dead-letters it with
  original exchange ""), breaks that rule and is recorded as a violation.
- Each case's letters are found by a header (``x-fuzz-case``) that dead letters keep.
- Consumers: each command queue and docbus.audit must keep one (passive declare), and
  the set of consumer tags must not change (a re-subscribed consumer has a new tag).
- Raw-frame cases go out through tests/fixtures/raw_amqp.py on a connection of their own
  (so never with direct reply-to); one the broker refuses at the door (it checks
  expiration and user_id) was never delivered, and only the worker's health is checked.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import aio_pika
import orjson
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage
from aiormq.exceptions import ChannelClosed

from docbus.consumers.topology import AUDIT_QUEUE_NAME, ROUTES
from tests.e2e.conftest import WorkerProcess
from tests.fixtures.raw_amqp import RawField, RawProperties, RawPublisher
from tests.fuzz.cases import REPLY_TO_US, Case

TRACE = "x-fuzz-case"
SENTINEL = "x-fuzz-sentinel"
WATCHED = (*(r.queue for r in ROUTES), AUDIT_QUEUE_NAME)
QUEUE_OF = {r.routing_key: r.queue for r in ROUTES}
REPLY_TIMEOUT = 15.0  # past the worker's retry budget (3 s) and hard limit (+5 s)


@dataclass(frozen=True)
class Reply:
    correlation_id: str | None
    message_id: str | None
    content_type: str | None
    body: bytes


@dataclass(frozen=True)
class Letter:
    """A message found in docbus.dead."""

    headers: dict[str, Any]
    message_id: str | None
    correlation_id: str | None
    body: bytes

    def header(self, name: str) -> str | None:
        value = self.headers.get(name)
        return value.decode(errors="replace") if isinstance(value, bytes) else value

    def describe(self) -> str:
        return (f"message_id={self.message_id!r} correlation_id={self.correlation_id!r} "
                f"error={self.header('x-docbus-error')!r} "
                f"from={self.header('x-docbus-original-exchange')!r}/"
                f"{self.header('x-docbus-original-routing-key')!r} body={self.body[:200]!r}")


@dataclass
class DeadWatch:
    """Everything that reaches docbus.dead, by case, and what breaks the rules."""

    by_trace: dict[str, list[Letter]] = field(default_factory=lambda: defaultdict(list))
    violations: list[str] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        letter = Letter(dict(message.headers or {}), message.message_id,
                        message.correlation_id, message.body)
        await message.ack()
        if SENTINEL not in letter.headers:
            self.by_trace[str(letter.header(TRACE))].append(letter)
        error = letter.header("x-docbus-error")
        if error is None and "x-death" in letter.headers:
            self.violations.append(f"dead-lettered by the broker (rejected, or past the "
                                   f"delivery limit): {letter.describe()}")
        elif error is None:
            self.violations.append(f"not a dead letter (a reply sent to reply_to?): "
                                   f"{letter.describe()}")
        elif not error.startswith("invalid:"):
            self.violations.append(f"dead-lettered as {error.split(':')[0]}: {letter.describe()}")
        elif letter.header("x-docbus-original-exchange") != "docbus.commands":
            self.violations.append(f"a message docbus published itself came back (a reply "
                                   f"routed into its own queue?): {letter.describe()}")
        self.arrived.set()

    async def letters(self, trace: str, wait: float) -> list[Letter]:
        """This case's letters; waits up to ``wait`` s for the first one."""
        deadline = asyncio.get_running_loop().time() + wait
        while not self.by_trace.get(trace):
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                break
            self.arrived.clear()
            try:
                await asyncio.wait_for(self.arrived.wait(), left)
            except TimeoutError:
                break
        return self.by_trace.pop(trace, [])

    def take_violations(self) -> list[str]:
        found, self.violations = self.violations, []
        return found


class Harness:
    def __init__(self, channel: AbstractChannel, admin: AbstractChannel, vhost: str,
                 worker: WorkerProcess, raw: RawPublisher) -> None:
        self.channel = channel
        self.raw = raw
        self.admin = admin
        self.vhost = vhost
        self.worker = worker
        self.dead = DeadWatch()
        self._waiting: tuple[str | None, asyncio.Future[Reply]] | None = None

    @classmethod
    @asynccontextmanager
    async def connect(cls, url: str, vhost: str, worker: WorkerProcess) -> AsyncIterator[Harness]:
        connection = await aio_pika.connect(url)
        async with connection, RawPublisher(url) as raw:
            channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            harness = cls(channel, await connection.channel(), vhost, worker, raw)
            replies = await channel.get_queue(REPLY_TO_US, ensure=False)
            await replies.consume(harness._on_reply, no_ack=True)
            dead = await (await connection.channel()).get_queue("docbus.dead", ensure=False)
            await dead.consume(harness.dead.on_message)
            yield harness

    async def _on_reply(self, message: AbstractIncomingMessage) -> None:
        if self._waiting is None or self._waiting[0] != message.correlation_id:
            return  # late: its case has already failed for want of it
        future = self._waiting[1]
        if not future.done():
            future.set_result(Reply(message.correlation_id, message.message_id,
                                    message.content_type, message.body))

    async def publish(self, case: Case, headers: dict[str, Any]) -> None:
        if case.raw is not None:
            await self.publish_raw(case, headers)
            return
        message = aio_pika.Message(
            case.body, content_type=case.content_type, message_id=case.message_id,
            correlation_id=case.correlation_id, reply_to=case.reply_to, headers=headers,
            user_id=case.user_id, type=case.type, app_id=case.app_id,
        )
        exchange = await self.channel.get_exchange("docbus.commands", ensure=False)
        await exchange.publish(message, case.route, mandatory=True)

    async def publish_raw(self, case: Case, headers: dict[str, Any]) -> None:
        assert case.raw is not None
        table: dict[str | bytes, Any] = {}
        table.update(headers)
        props = RawProperties(
            content_type=case.content_type, message_id=case.message_id,
            correlation_id=case.correlation_id, reply_to=case.reply_to, headers=table,
            type=case.type, app_id=case.app_id,
        )
        # Refused by the broker at the door (ChannelClosed): never delivered to anybody.
        with contextlib.suppress(ChannelClosed):
            await self.raw.publish("docbus.commands", case.route, with_raw(props, *case.raw),
                                   case.body)

    async def send(self, case: Case, trace: str) -> Reply | None:
        """Publish the case; its reply if it asked us for one (None after the timeout).
        A case that asked for no reply is followed by a sentinel on its queue, so that
        the worker has at least taken it before anything is checked."""
        if case.reply_to != REPLY_TO_US or case.raw is not None:
            await self.publish(case, {**case.headers, TRACE: trace})
            await self.sentinel(case.route)
            return None
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._waiting = (case.correlation_id, future)
        try:
            await self.publish(case, {**case.headers, TRACE: trace})
            return await asyncio.wait_for(future, REPLY_TIMEOUT)
        except TimeoutError:
            return None
        finally:
            self._waiting = None

    async def request(self, route: str, body: dict[str, Any] | bytes,
                      headers: dict[str, Any] | None = None) -> dict[str, Any]:
        """A well-formed request with a fresh message_id; the decoded reply."""
        raw = body if isinstance(body, bytes) else orjson.dumps(body)
        case = Case(route, raw, message_id=uuid.uuid4().hex,
                    correlation_id=uuid.uuid4().hex, headers=headers or {})
        reply = await self.send(case, "plain")
        assert reply is not None, f"no reply to {route} {raw[:200]!r}"
        return orjson.loads(reply.body)  # type: ignore[no-any-return]

    async def sentinel(self, route: str) -> None:
        reply = await self.request(route, b"{}", {SENTINEL: True})
        assert reply["ok"] is False and reply["error"]["code"] == "invalid", reply

    async def consumer_counts(self, route: str | None = None) -> dict[str, int]:
        """Consumers per queue: every watched queue, or ``route``'s and the audit queue."""
        names = WATCHED if route is None else (QUEUE_OF[route], AUDIT_QUEUE_NAME)
        counts = {}
        for name in names:
            queue = await self.admin.declare_queue(name, passive=True)
            counts[name] = queue.declaration_result.consumer_count or 0
        return counts

    async def consumer_tags(self) -> set[tuple[str, str]]:
        """(queue, consumer tag) of every consumer in the vhost, from rabbitmqctl."""
        done = await asyncio.to_thread(
            subprocess.run,
            ["rabbitmqctl", "-q", "--no-table-headers", "list_consumers", "-p", self.vhost,
             "queue_name", "consumer_tag"],
            capture_output=True, text=True, timeout=60, check=True,
        )
        rows = (line.split("\t") for line in done.stdout.splitlines() if "\t" in line)
        return {(q, t) for q, t in rows if q in WATCHED}

    def worker_alive(self) -> bool:
        return self.worker.proc is not None and self.worker.proc.poll() is None


RAW_PLACES = ("content_type", "content_encoding", "correlation_id", "reply_to", "expiration",
              "message_id", "type", "user_id", "app_id", "cluster_id", "header-key",
              "header-value", "nested-header", "timestamp", "header-timestamp", "no-message-id")


def with_raw(props: RawProperties, where: str, value: bytes) -> RawProperties:
    """``props`` with ``value`` at ``where`` (one of RAW_PLACES)."""
    headers: dict[str | bytes, Any] = dict(props.headers or {})
    if where == "header-key":
        return replace(props, headers={**headers, value: "v"})
    if where == "header-value":
        return replace(props, headers={**headers, "bad": value})
    if where == "nested-header":
        return replace(props, headers={**headers, "n": {"k": [value]}})
    if where == "timestamp":
        return replace(props, timestamp=2**63 - 1)
    if where == "header-timestamp":
        return replace(props, headers={**headers, "when": RawField(b"T" + b"\xff" * 8)})
    if where == "no-message-id":
        return replace(props, message_id=None)
    changed: dict[str, Any] = {where: value}
    return replace(props, **changed)
