"""Runs a command use case exactly once per idempotency key, in one unit of work.

- The effect, the inbox row (key and reply) and the outbox rows commit together.
- A final domain decision (not_found, forbidden, conflict) is recorded like a success,
  so every delivery of that message gets the same reply.
- A delivery whose key was recorded first by another (earlier or concurrent) delivery
  rolls back and answers with the stored reply, byte for byte, if it is the same command
  (routing key and fingerprint); a different command reusing the key is refused with a
  ``conflict`` (``MessageIdReused``) that discloses nothing of the first one. The refusal
  is not recorded (the key's row belongs to the first command) and is deterministic: it
  answers the same for as long as that row is kept.
- Caches are invalidated after commit, also for duplicates: the first delivery may have
  died between its commit and its invalidation.
- Invalid input is not recorded: it is raised for the consumer to dead-letter.

Group commit: commands that arrive while a transaction is running wait for it and then
run together, one after the other, in the next transaction (at most ``group_size``).
What a group writes is exactly what the same commands would write one by one in that
order, and the group commits all of it or nothing. Any surprise in a group (a domain
error, a message_id recorded before, a database error) rolls the whole group back and
each of its commands runs again on its own, the way it would without grouping. A lone
command never waits: it runs at once, on its own.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from core.errors import DomainError, InvalidCommand, Unavailable
from core.idempotency import IdempotencyKey
from core.ports import Json, ReplyCache, UnitOfWork, UnitOfWorkFactory
from handlers.replies import failure, success

C = TypeVar("C")
UseCase = Callable[[C, UnitOfWork], Awaitable[Json]]
Encode = Callable[[Json], bytes]


def compact_json(reply: Json) -> bytes:
    return json.dumps(reply, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True, slots=True)
class Outcome:
    """The reply's bytes (a duplicate's are those first sent), the scopes to invalidate."""

    reply: bytes
    scopes: tuple[str, ...]
    duplicate: bool = False
    """Answered from the inbox: the same command was recorded before."""
    refused: bool = False
    """Its key had been used for another command: a conflict, no effect."""

    @property
    def decoded(self) -> Json:
        decoded: Json = json.loads(self.reply)
        return decoded


@dataclass(slots=True)
class _Waiting:
    """A command waiting for a group; its future gets the outcome, or None: run alone."""

    use_case: UseCase[Any]
    command: Any
    key: IdempotencyKey | None
    done: asyncio.Future[Outcome | None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class _Split(Exception):
    """The group cannot commit as a whole: its commands run one by one."""


class CommandBus:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        cache: ReplyCache,
        *,
        group_size: int = 1,
        groups_in_flight: int = 1,
        group_timeout: float = 10.0,
        encode: Encode = compact_json,
    ) -> None:
        self._uow = uow
        self._cache = cache
        self._encode = encode
        self._group_size = group_size
        self._group_timeout = group_timeout
        self._groups_in_flight = groups_in_flight
        self._waiting: list[_Waiting] = []
        self._running: set[asyncio.Task[None]] = set()
        self.groups = 0
        """Groups committed (of two commands or more), for the tests and the metrics."""
        self.grouped = 0
        """Commands committed in those groups."""
        self.split = 0
        """Groups that could not commit as a whole (the last one's reason below)."""
        self.split_reason = ""

    async def execute(
        self, use_case: UseCase[C], command: C, key: IdempotencyKey | None, *, alone: bool = False
    ) -> Outcome:
        """Run the command and invalidate what it changed; ``alone`` skips grouping (for
        a redelivery, likely a duplicate that would split its group)."""
        if self._group_size > 1 and not alone:
            grouped = await self._in_group(use_case, command, key)
            if grouped is not None:
                return grouped
        outcome = await self._decide(use_case, command, key)
        if outcome is None:
            outcome = await self._replay(key)
        await self._cache.invalidate(outcome.scopes)
        return outcome

    # one command, one unit

    async def _decide(
        self, use_case: UseCase[C], command: C, key: IdempotencyKey | None
    ) -> Outcome | None:
        try:
            async with self._uow() as uow:
                reply = success(await use_case(command, uow))
                return await self._record(uow, key, reply)
        except InvalidCommand:
            raise
        except DomainError as error:
            async with self._uow() as uow:
                return await self._record(uow, key, failure(error))

    async def _record(
        self, uow: UnitOfWork, key: IdempotencyKey | None, reply: Json
    ) -> Outcome | None:
        """Commit with the inbox row; None (and a rollback) if the key is taken."""
        scopes = uow.scopes  # read before commit: a unit forgets its events once committed
        encoded = self._encode(reply)
        if key is not None and not await uow.inbox.record(key, encoded, scopes):
            return None
        await uow.commit()
        return Outcome(encoded, scopes)

    async def _replay(self, key: IdempotencyKey | None) -> Outcome:
        """The stored reply if the key's row is this very command; else a refusal."""
        assert key is not None  # only a recorded key can be a duplicate
        async with self._uow(read_only=True) as uow:
            stored = await uow.inbox.find(key)
        if stored is None:  # recorded by a unit that then rolled back: decide again
            raise Unavailable(f"inbox row for {key.message_id} vanished; deciding again")
        refusal = stored.refusal(key)
        if refusal is not None:
            return Outcome(self._encode(failure(refusal)), (), refused=True)
        return Outcome(stored.reply, stored.scopes, duplicate=True)

    # group commit

    async def _in_group(
        self, use_case: UseCase[C], command: C, key: IdempotencyKey | None
    ) -> Outcome | None:
        """The outcome of the command run in a group, or None if it is to run alone.

        The group runs in a task of its own: a caller that gives up (cancelled) does not
        cancel the others' transaction; a group has its own time limit instead."""
        waiting = _Waiting(use_case, command, key)
        self._waiting.append(waiting)
        # A runner that has ended stays in _running until its done-callback runs (a turn
        # later): count only the live ones, or this command may wait with no runner.
        if sum(not task.done() for task in self._running) < self._groups_in_flight:
            task = asyncio.create_task(self._run_groups())
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        return await asyncio.shield(waiting.done)

    async def _run_groups(self) -> None:
        """Take the waiting commands, a group at a time, until none wait."""
        try:
            while self._waiting:
                group = self._next_group()
                if len(group) == 1:  # nobody to share a transaction with
                    group[0].done.set_result(None)
                    continue
                await self._run_group(group)
        except BaseException:  # cancelled: what still waits runs alone
            for waiting in self._waiting:
                if not waiting.done.done():
                    waiting.done.set_result(None)
            self._waiting = []
            raise

    def _next_group(self) -> list[_Waiting]:
        """Up to group_size waiting commands, no key twice (a retry of a command in the
        same group would split it)."""
        group: list[_Waiting] = []
        later: list[_Waiting] = []
        slots: set[tuple[str, str]] = set()
        for waiting in self._waiting:
            slot = waiting.key.slot if waiting.key is not None else None
            if len(group) >= self._group_size or slot in slots:
                later.append(waiting)
                continue
            group.append(waiting)
            if slot is not None:
                slots.add(slot)
        self._waiting = later
        return group

    async def _run_group(self, group: list[_Waiting]) -> None:
        try:
            async with asyncio.timeout(self._group_timeout):
                outcomes = await self._commit_group(group)
        except BaseException as error:  # every command runs again on its own
            self.split += 1
            self.split_reason = _reason(error)
            for waiting in group:
                if not waiting.done.done():
                    waiting.done.set_result(None)
            if not isinstance(error, Exception):  # cancelled: the task ends here
                raise
            return
        self.groups += 1
        self.grouped += len(group)
        try:
            await self._cache.invalidate(
                list(dict.fromkeys(s for outcome in outcomes for s in outcome.scopes))
            )
        except Exception as error:  # as alone: the caller retries, the inbox answers
            for waiting in group:
                if not waiting.done.done():
                    waiting.done.set_exception(error)
            return
        for waiting, outcome in zip(group, outcomes, strict=True):
            if not waiting.done.done():
                waiting.done.set_result(outcome)

    async def _commit_group(self, group: list[_Waiting]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        async with self._uow(grouped=True) as uow:
            await _prepare(group, uow)
            for waiting in group:
                mark = uow.emitted
                try:
                    reply = success(await waiting.use_case(waiting.command, uow))
                except DomainError as error:  # it may have written before deciding
                    raise _Split(f"{type(error).__name__} in a group") from error
                outcomes.append(Outcome(self._encode(reply), uow.scopes_since(mark)))
            replies = [
                (waiting.key, outcome.reply, outcome.scopes)
                for waiting, outcome in zip(group, outcomes, strict=True)
                if waiting.key is not None
            ]
            if replies and await uow.inbox.record_many(replies):
                raise _Split("a message_id was recorded before")
            await uow.commit()
        return outcomes


async def _prepare(group: list[_Waiting], uow: UnitOfWork) -> None:
    """Let each use case read ahead for all of its commands in the group at once (a use
    case may offer ``prepare(commands, uow)``; it only loads, it decides nothing)."""
    by_use_case: dict[int, tuple[Any, list[Any]]] = {}
    for waiting in group:
        prepare = getattr(waiting.use_case, "prepare", None)
        if prepare is not None:
            by_use_case.setdefault(id(waiting.use_case), (prepare, []))[1].append(waiting.command)
    for prepare, commands in by_use_case.values():
        await prepare(commands, uow)


def _reason(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "time limit"
    return str(error) or type(error).__name__
