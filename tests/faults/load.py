"""The load of the fault suite: what is sent, and the AMQP client that sends it.

``Plan`` is the history to be: an org with members, folders, a few documents to share,
then the load proper, uploads (new ``doc_id``s, and new versions of existing ones) and
shares (each a distinct (document, user) pair, so that each changes something and has
exactly one event), and lifecycle commands (renames, moves, trashes, restores and purges
of documents and folders, each on a target of its own: ``tests.faults.life``). Every
command carries the one effect it must have (``Command.effect``), which is what the
checker looks for.

``Amqp`` is a plain aio-pika client that knows the contract and nothing of docbus's code:
it publishes with publisher confirms and ``mandatory``, and re-publishes a command with the
SAME ``message_id`` until the broker confirmed it (so every command is "confirmed" at least
once, whatever the broker or the network did). Replies come back on a durable queue of the
suite's own (``faults.replies``: it survives a broker restart, unlike direct reply-to).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import orjson
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractExchange,
    AbstractIncomingMessage,
)
from aio_pika.exceptions import PublishError

from docbus.adapters.amqp_failover import connect_first
from tests.faults.life import ROUTES, LifePlan, Op

COMMANDS_EXCHANGE = "docbus.commands"
EVENTS_EXCHANGE = "doc.events"
REPLY_QUEUE = "faults.replies"
TAP_QUEUE = "faults.tap"
QUORUM = {"x-queue-type": "quorum"}
SHARE_USERS = 20
UPLOADERS = 8
FOLDERS = 4


@dataclass(frozen=True, slots=True)
class Command:
    message_id: str
    routing_key: str
    body: dict[str, Any]
    kind: str  # member, folder, upload, share, or a lifecycle op (tests.faults.life.OPS)
    effect: str  # the key of the one effect it must have


@dataclass(frozen=True, slots=True)
class Size:
    uploads: int
    shares: int
    reuploads: float = 0.1  # share of uploads that are a new version of an existing doc_id
    lifecycle: int | None = None  # lifecycle commands; None: a fifth of the uploads

    @property
    def life(self) -> int:
        return self.uploads // 5 if self.lifecycle is None else self.lifecycle


class Plan:
    """Setup commands (sent one by one, answered) and the load (sent in bulk)."""

    def __init__(self, run: str, size: Size, seed: int = 0, reader_folders: int = 0) -> None:
        self.run = run
        self.rng = random.Random(seed)
        self.org = f"org-{run}"
        self.users = [f"u{i}-{run}" for i in range(max(UPLOADERS, SHARE_USERS + 1))]
        self.folders = [f"f{i}-{run}" for i in range(FOLDERS)]
        self.reader_folders = [f"r{i}-{run}" for i in range(reader_folders)]
        self._n = 0
        self.setup: list[Command] = []
        self.load: list[Command] = []
        self._docs: dict[str, tuple[str, str]] = {}  # doc_id -> (owner, folder)
        for user in self.users:
            self.setup.append(self._member(user))
        for folder in self.folders + self.reader_folders:
            self.setup.append(self._folder(folder))
        shared_docs = [f"s{i}-{run}" for i in range(max(1, math.ceil(size.shares / SHARE_USERS)))]
        for doc in shared_docs:
            self.setup.append(self.upload(doc, self.users[0], self.folders[0]))
        self.life = LifePlan(run, self.folders, size.life)
        self.setup += self._life_setup()
        loads = [self._next_upload(i, size, shared_docs) for i in range(size.uploads)]
        pairs = [(d, u) for d in shared_docs for u in self.users[1 : SHARE_USERS + 1]]
        loads += [self._share(d, u) for d, u in pairs[: size.shares]]
        loads += [self._life(op) for op in self.life.ops]
        self.rng.shuffle(loads)
        self.load = loads

    @property
    def commands(self) -> list[Command]:
        return self.setup + self.load

    def message_id(self, kind: str) -> str:
        self._n += 1
        return f"{self.run}-{kind}-{self._n}"

    def _member(self, user: str) -> Command:
        body = {"org_id": self.org, "user_id": user, "role": "member"}
        return Command(self.message_id("m"), "org.member.set", body, "member", f"member:{user}")

    def _folder(self, folder: str) -> Command:
        body = {
            "folder_id": folder, "org_id": self.org, "parent_id": None, "name": folder,
            "actor_id": self.users[0],
        }
        return Command(self.message_id("f"), "folder.create", body, "folder", f"folder:{folder}")

    def upload(self, doc: str, owner: str, folder: str, *, keep: bool = True) -> Command:
        """An upload of ``doc`` (the first, or a new version) with a blob of its own;
        ``keep``: a document the load may upload again (lifecycle targets are not)."""
        if keep:
            self._docs.setdefault(doc, (owner, folder))
            owner, folder = self._docs[doc]
        message_id = self.message_id("u")
        blob = f"s3://faults/{self.run}/{message_id}"
        body = {
            "doc_id": doc, "org_id": self.org, "folder_id": folder, "owner_id": owner,
            "name": f"{doc}.pdf", "mime_type": "application/pdf", "blob_uri": blob,
            "tags": ["faults"], "size_bytes": len(message_id),
        }
        return Command(message_id, "document.upload", body, "upload", f"upload:{blob}")

    def _life_setup(self) -> list[Command]:
        """Lifecycle targets: their folders, their documents, then the trashes that
        restores and purges need (``SETUP_KINDS`` orders the batches)."""
        owner = self.users[0]
        made = [self._folder(folder) for folder in self.life.target_folders]
        made += [self.upload(doc, owner, folder, keep=False)
                 for doc, folder in self.life.target_docs]
        return made + [self._life(op) for op in self.life.prep()]

    def _life(self, op: Op) -> Command:
        return Command(self.message_id(op.kind[0] + "l"), ROUTES[op.kind],
                       op.body(self.users[0]), op.kind, op.effect)

    def _next_upload(self, i: int, size: Size, shared_docs: list[str]) -> Command:
        if self._docs and self.rng.random() < size.reuploads:
            doc = self.rng.choice([*self._docs][-200:] + shared_docs[:1])
            return self.upload(doc, *self._docs[doc])
        owner = self.users[self.rng.randrange(UPLOADERS)]
        return self.upload(f"d{i}-{self.run}", owner, self.rng.choice(self.folders))

    def _share(self, doc: str, user: str) -> Command:
        role = self.rng.choice(["viewer", "editor"])
        body = {"doc_id": doc, "shared_by": self.users[0], "shared_with": user, "role": role}
        return Command(
            self.message_id("s"), "document.share", body, "share", f"share:{doc}|{user}"
        )


@dataclass
class PublishStats:
    confirmed: set[str] = field(default_factory=set)  # message_ids the broker confirmed
    confirmed_at: dict[str, float] = field(default_factory=dict)  # first confirm, time.time()
    publishes: int = 0  # basic.publish calls, retries included
    retries: int = 0  # publishes that were not confirmed and were sent again
    reconnects: int = 0
    connected: list[tuple[float, str]] = field(default_factory=list)  # (time.time(), node)
    failures: list[tuple[float, str]] = field(default_factory=list)  # (time.time(), error)


class Amqp:
    """Publisher with confirms and retries, and a reply consumer that reconnects by itself."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.stats = PublishStats()
        self.replies: dict[str, list[bytes]] = defaultdict(list)  # by correlation_id
        self._waiting: dict[str, asyncio.Future[bytes]] = {}
        self._lock = asyncio.Lock()
        self._connection: AbstractConnection | None = None
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._consumer: asyncio.Task[None] | None = None
        self._consuming = asyncio.Event()
        self._closing = False

    async def open(self) -> None:
        connection = await connect_first(self.url, timeout=10)
        async with connection:
            channel = await connection.channel()
            replies = await channel.declare_queue(REPLY_QUEUE, durable=True, arguments=QUORUM)
            await replies.purge()
            tap = await channel.declare_queue(TAP_QUEUE, durable=True, arguments=QUORUM)
            await tap.bind(EVENTS_EXCHANGE, routing_key="#")
        self._consumer = asyncio.create_task(self._consume_replies())
        async with asyncio.timeout(15):
            await self._consuming.wait()

    async def pin(self, url: str) -> None:
        """Publish through the node at ``url`` from now on (until it fails: then the
        usual failover over every node)."""
        async with self._lock:
            if self._connection is not None:
                with contextlib.suppress(Exception):
                    await self._connection.close()
            self._connection = await connect_first(url, timeout=5)
            self._channel = await self._connection.channel(
                publisher_confirms=True, on_return_raises=True
            )
            self._exchange = await self._channel.get_exchange(COMMANDS_EXCHANGE, ensure=False)
            node = self._connection.url
            self.stats.connected.append((time.time(), f"pinned {node.host}:{node.port}"))

    async def close(self) -> None:
        self._closing = True
        if self._consumer is not None:
            self._consumer.cancel()
            with contextlib.suppress(BaseException):
                await self._consumer
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()

    # publishing

    async def _exchange_now(self) -> tuple[AbstractChannel, AbstractExchange]:
        if self._closing:
            raise asyncio.CancelledError("the client is closed")
        async with self._lock:
            if self._channel is None or self._channel.is_closed or self._exchange is None:
                if self._connection is not None:
                    with contextlib.suppress(Exception):
                        await self._connection.close()
                    self.stats.reconnects += 1
                self._connection = None
                self._connection = await connect_first(self.url, timeout=5)
                url = self._connection.url
                self.stats.connected.append((time.time(), f"{url.host}:{url.port}"))
                self._channel = await self._connection.channel(
                    publisher_confirms=True, on_return_raises=True
                )
                self._exchange = await self._channel.get_exchange(COMMANDS_EXCHANGE, ensure=False)
            return self._channel, self._exchange

    async def _broken(self, channel: AbstractChannel | None) -> None:
        async with self._lock:
            if channel is not None and channel is self._channel:
                with contextlib.suppress(Exception):
                    await channel.close()
                self._channel = None

    async def publish(
        self, cmd: Command, *, correlation_id: str | None = None, reply: bool = True,
        deadline: float | None = None,
    ) -> None:
        """Publish until the broker confirms it (same message_id every time)."""
        message = aio_pika.Message(
            orjson.dumps(cmd.body), content_type="application/json", message_id=cmd.message_id,
            correlation_id=correlation_id or cmd.message_id,
            reply_to=REPLY_QUEUE if reply else None,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        delay = 0.1
        first = True
        while True:
            if not first:
                self.stats.retries += 1
            first = False
            channel = None
            try:
                channel, exchange = await self._exchange_now()
                self.stats.publishes += 1
                await exchange.publish(message, cmd.routing_key, mandatory=True, timeout=5)
            except Exception as error:
                if len(self.stats.failures) < 5000:
                    self.stats.failures.append((time.time(), repr(error)[:120]))
                if deadline is not None and time.monotonic() > deadline:
                    raise
                if not isinstance(error, PublishError):  # returned: same channel
                    # A nack too: RabbitMQ 3.10 can bind a channel opened during a quorum
                    # queue's leader election to the dead leader, and nack every later
                    # publish to that queue on it until the dead node returns; a fresh
                    # channel works (docs/reliability.md).
                    await self._broken(channel)
                await asyncio.sleep(delay * random.uniform(0.5, 1.5))
                delay = min(delay * 2, 2.0)
                continue
            self.stats.confirmed.add(cmd.message_id)
            self.stats.confirmed_at.setdefault(cmd.message_id, time.time())
            return

    async def request(
        self, cmd: Command, *, timeout: float = 10.0, attempts: int = 6
    ) -> dict[str, Any]:
        """Publish with reply_to and wait for the reply; re-send (same message_id) if none."""
        correlation_id = cmd.message_id
        for _ in range(attempts):
            future = self._waiting.get(correlation_id)
            if future is None or future.done():
                future = asyncio.get_running_loop().create_future()
                self._waiting[correlation_id] = future
            if self.replies.get(correlation_id):
                return orjson.loads(self.replies[correlation_id][0])  # type: ignore[no-any-return]
            await self.publish(cmd, correlation_id=correlation_id)
            try:
                async with asyncio.timeout(timeout):
                    return orjson.loads(await asyncio.shield(future))  # type: ignore[no-any-return]
            except TimeoutError:
                continue
        raise TimeoutError(f"no reply to {cmd.message_id} ({cmd.routing_key})")

    # replies

    async def _consume_replies(self) -> None:
        while not self._closing:
            try:
                connection = await connect_first(self.url, timeout=5)
                async with connection:
                    channel = await connection.channel()
                    await channel.set_qos(prefetch_count=500)
                    queue = await channel.declare_queue(
                        REPLY_QUEUE, durable=True, arguments=QUORUM
                    )
                    await queue.consume(self._on_reply, no_ack=True)  # type: ignore[arg-type]
                    self._consuming.set()
                    await connection.closed()
            except asyncio.CancelledError:
                raise
            except Exception:
                await asyncio.sleep(0.5)

    async def _on_reply(self, message: AbstractIncomingMessage) -> None:
        correlation_id = message.correlation_id or ""
        self.replies[correlation_id].append(message.body)
        future = self._waiting.get(correlation_id)
        if future is not None and not future.done():
            future.set_result(message.body)


async def send_all(
    client: Amqp, commands: Sequence[Command], *, rate: float, concurrency: int = 200,
    deadline: float | None = None, on_sent: Callable[[int], Awaitable[None]] | None = None,
) -> float:
    """Publish every command (confirmed, retried) at about ``rate`` per second; seconds taken."""
    started = time.monotonic()
    gate = asyncio.Semaphore(concurrency)
    tasks: list[asyncio.Task[None]] = []

    async def one(cmd: Command) -> None:
        try:
            await client.publish(cmd, deadline=deadline)
        finally:
            gate.release()

    for i, cmd in enumerate(commands):
        due = started + i / rate
        if (wait := due - time.monotonic()) > 0:
            await asyncio.sleep(wait)
        await gate.acquire()
        tasks.append(asyncio.create_task(one(cmd)))
        if on_sent is not None:
            await on_sent(i)
    await asyncio.gather(*tasks)
    return time.monotonic() - started


async def drain_queue(url: str, name: str, quiet: float = 1.0) -> list[AbstractIncomingMessage]:
    """Take every message of a queue (acknowledged: they are gone afterwards)."""
    taken: list[AbstractIncomingMessage] = []
    connection = await connect_first(url, timeout=10)
    async with connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=1000)
        queue = await channel.declare_queue(name, passive=True)
        last = time.monotonic()

        async def take(message: AbstractIncomingMessage) -> None:
            nonlocal last
            taken.append(message)
            last = time.monotonic()

        await queue.consume(take, no_ack=True)  # type: ignore[arg-type]
        while time.monotonic() - last < quiet:  # noqa: ASYNC110 - a quiet period, no event
            await asyncio.sleep(0.1)
        if (await channel.declare_queue(name, passive=True)).declaration_result.message_count:
            await asyncio.sleep(quiet)
    return taken
