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

Grouping several commands in one transaction is another component's business
(handlers.group_commit); it runs each command through ``decide_in``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, Self, TypeVar

from docbus.core.errors import DomainError, InvalidCommand, Unavailable
from docbus.core.events import DomainEvent
from docbus.core.idempotency import IdempotencyKey
from docbus.core.lifecycle import DocumentLifecycle, FolderTree
from docbus.core.ports import (
    DocumentRepository,
    FolderRepository,
    Inbox,
    Json,
    MembershipRepository,
    ReplyCache,
    SearchIndex,
    ShareRepository,
    UnitOfWork,
    UnitOfWorkFactory,
)
from docbus.handlers.replies import failure, success

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


class Commands(Protocol):
    """What runs commands for the subscribers: the bus, or a group commit around it."""

    async def execute(
        self, use_case: UseCase[Any], command: Any, key: IdempotencyKey | None, *,
        alone: bool = False,
    ) -> Outcome:
        """Run the command once per key, and invalidate what it changed."""
        ...


class CommandBus:
    def __init__(
        self, uow: UnitOfWorkFactory, cache: ReplyCache, *, encode: Encode = compact_json
    ) -> None:
        self._uow = uow
        self._cache = cache
        self._encode = encode

    async def execute(
        self, use_case: UseCase[C], command: C, key: IdempotencyKey | None, *,
        alone: bool = False,
    ) -> Outcome:
        """Run the command in a unit of its own (always: ``alone`` changes nothing here)
        and invalidate what it changed."""
        outcome = await self._decide(use_case, command, key)
        if outcome is None:
            outcome = await self._replay(key)
        await self._cache.invalidate(outcome.scopes)
        return outcome

    async def decide_in(
        self, uow: UnitOfWork, use_case: UseCase[C], command: C, key: IdempotencyKey | None
    ) -> Outcome | None:
        """Run the command in ``uow`` and record its reply there, without committing;
        None if the key was taken (the unit must then be rolled back). A domain error is
        raised: the unit may hold writes of the command."""
        own = CommandUnit(uow)
        reply = self._encode(success(await use_case(command, own)))
        return await self._record(uow, key, reply, own.scopes)

    async def _decide(
        self, use_case: UseCase[C], command: C, key: IdempotencyKey | None
    ) -> Outcome | None:
        try:
            async with self._uow() as uow:
                outcome = await self.decide_in(uow, use_case, command, key)
                if outcome is not None:
                    await uow.commit()
                return outcome
        except InvalidCommand:
            raise
        except DomainError as error:
            async with self._uow() as uow:
                outcome = await self._record(uow, key, self._encode(failure(error)), ())
                if outcome is not None:
                    await uow.commit()
                return outcome

    @staticmethod
    async def _record(
        uow: UnitOfWork, key: IdempotencyKey | None, reply: bytes, scopes: tuple[str, ...]
    ) -> Outcome | None:
        if key is not None and not await uow.inbox.record(key, reply, scopes):
            return None
        return Outcome(reply, scopes)

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


class CommandUnit:
    """A unit of work as one command sees it: the unit's own, and the cache scopes of
    this command's events kept apart (a unit may run several commands)."""

    def __init__(self, unit: UnitOfWork) -> None:
        self._unit = unit
        self._scopes: dict[str, None] = {}

    @property
    def folders(self) -> FolderRepository:
        return self._unit.folders

    @property
    def documents(self) -> DocumentRepository:
        return self._unit.documents

    @property
    def memberships(self) -> MembershipRepository:
        return self._unit.memberships

    @property
    def shares(self) -> ShareRepository:
        return self._unit.shares

    @property
    def inbox(self) -> Inbox:
        return self._unit.inbox

    @property
    def tree(self) -> FolderTree:
        return self._unit.tree

    @property
    def lifecycle(self) -> DocumentLifecycle:
        return self._unit.lifecycle

    @property
    def search(self) -> SearchIndex:
        return self._unit.search

    def emit(self, event: DomainEvent, scopes: Sequence[str]) -> None:
        self._unit.emit(event, scopes)
        self._scopes.update(dict.fromkeys(scopes))

    @property
    def scopes(self) -> tuple[str, ...]:
        return tuple(self._scopes)

    async def commit(self) -> None:
        raise RuntimeError("a use case does not commit: the bus does")

    async def __aenter__(self) -> Self:
        raise RuntimeError("a use case does not open units")

    async def __aexit__(self, *exc: object) -> None:
        raise RuntimeError("a use case does not close units")
