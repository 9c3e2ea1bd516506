"""Group commit: commands that arrive while a transaction is running share the next one.

Wraps the command bus (same ``execute``); the bus keeps every rule of idempotency, this
only decides which commands share a unit of work.

- Commands that arrive while a group is running wait for it, then run together, one
  after the other in arrival order, in the next grouped unit (at most ``group_size``;
  ``groups_in_flight`` groups at once, each on a connection of its own).
- What a group writes is exactly what the same commands write one by one in that order,
  and the group commits all of it or nothing.
- Any surprise in a group (a domain error, a key recorded before, a database error, the
  time limit) rolls the whole group back and each of its commands runs again on its own,
  through the bus, as it would without grouping.
- A lone command never waits: it runs at once, on its own; so does a command asked to
  run ``alone`` (a redelivery: likely a duplicate, which would split its group).
- Each command runs under its own trace (core.tracing), so that its events keep it; what
  the group does for all (BEGIN, reads ahead, COMMIT) is in the trace of the command that
  started the group's runner.
- Use cases that declare their reads (core.reads.ReadsAhead) have them loaded for the
  whole group at once; the others read as they go.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from docbus.core import tracing
from docbus.core.errors import DomainError
from docbus.core.idempotency import IdempotencyKey
from docbus.core.ports import GroupedUnitFactory, ReplyCache
from docbus.core.reads import Reads, ReadsAhead
from docbus.handlers.bus import CommandBus, Outcome, UseCase


@dataclass(slots=True)
class _Waiting:
    """A command waiting for a group; its future gets the outcome, or None: run alone."""

    use_case: UseCase[Any]
    command: Any
    key: IdempotencyKey | None
    trace: tracing.Trace | None = field(default_factory=tracing.current)
    """The command's trace: current again while the group runs it (its events keep it)."""
    done: asyncio.Future[Outcome | None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    def settle(self, outcome: Outcome | None) -> None:
        if not self.done.done():
            self.done.set_result(outcome)


class _Split(Exception):
    """The group cannot commit as a whole: its commands run one by one."""


class GroupCommit:
    def __init__(
        self,
        bus: CommandBus,
        units: GroupedUnitFactory,
        cache: ReplyCache,
        *,
        group_size: int = 1,
        groups_in_flight: int = 1,
        group_timeout: float = 10.0,
        on_commit: Callable[[int], None] = lambda size: None,
    ) -> None:
        self._bus = bus
        self._on_commit = on_commit
        """Told the size of each transaction committed (1: a command alone): a histogram."""
        self._units = units
        self._cache = cache
        self._group_size = group_size
        self._groups_in_flight = groups_in_flight
        self._group_timeout = group_timeout
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
        self, use_case: UseCase[Any], command: Any, key: IdempotencyKey | None, *,
        alone: bool = False,
    ) -> Outcome:
        if self._group_size > 1 and not alone:
            grouped = await self._in_group(_Waiting(use_case, command, key))
            if grouped is not None:
                return grouped
        outcome = await self._bus.execute(use_case, command, key)
        self._on_commit(1)
        return outcome

    async def _in_group(self, waiting: _Waiting) -> Outcome | None:
        """The outcome of the command run in a group, or None if it is to run alone.

        The group runs in a task of its own: a caller that gives up (cancelled) does not
        cancel the others' transaction; a group has its own time limit instead."""
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
                    group[0].settle(None)
                    continue
                await self._run_group(group)
        except BaseException:  # cancelled: what still waits runs alone
            for waiting in self._waiting:
                waiting.settle(None)
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
                waiting.settle(None)
            if not isinstance(error, Exception):  # cancelled: the task ends here
                raise
            return
        self.groups += 1
        self.grouped += len(group)
        self._on_commit(len(group))
        await self._invalidate(group, outcomes)

    async def _commit_group(self, group: list[_Waiting]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        async with self._units() as unit:
            await unit.read_ahead(Reads.of(_declared(group)))
            for waiting in group:
                try:
                    with tracing.resumed(waiting.trace):
                        outcome = await self._bus.decide_in(
                            unit, waiting.use_case, waiting.command, waiting.key
                        )
                except DomainError as error:  # it may have written before deciding
                    raise _Split(f"{type(error).__name__} in a group") from error
                if outcome is None:
                    raise _Split("a message_id was recorded before")
                outcomes.append(outcome)
            await unit.commit()
        return outcomes

    async def _invalidate(self, group: list[_Waiting], outcomes: list[Outcome]) -> None:
        scopes = list(dict.fromkeys(s for outcome in outcomes for s in outcome.scopes))
        try:
            await self._cache.invalidate(scopes)
        except Exception as error:  # as alone: the caller retries, the inbox answers
            for waiting in group:
                if not waiting.done.done():
                    waiting.done.set_exception(error)
            return
        for waiting, outcome in zip(group, outcomes, strict=True):
            waiting.settle(outcome)


def _declared(group: list[_Waiting]) -> list[Reads]:
    """The reads the group's use cases declared (those that declare any)."""
    declared: list[Reads] = []
    for waiting in group:
        use_case: object = waiting.use_case
        if isinstance(use_case, ReadsAhead):
            declared.append(use_case.reads(waiting.command))
    return declared


def _reason(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "time limit"
    return str(error) or type(error).__name__
