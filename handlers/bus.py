"""Runs a command use case exactly once per message_id, in one unit of work.

- The effect, the inbox row (message_id and reply) and the outbox rows commit together.
- A final domain decision (not_found, forbidden, conflict) is recorded like a success,
  so every delivery of that message gets the same reply.
- A delivery whose message_id was recorded first by another (earlier or concurrent)
  delivery rolls back and answers with the stored reply.
- Caches are invalidated after commit, also for duplicates: the first delivery may have
  died between its commit and its invalidation.
- Invalid input is not recorded: it is raised for the consumer to dead-letter.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from core.errors import DomainError, InvalidCommand, Unavailable
from core.ports import Json, ReplyCache, UnitOfWork, UnitOfWorkFactory
from handlers.replies import failure, success

C = TypeVar("C")
UseCase = Callable[[C, UnitOfWork], Awaitable[Json]]


@dataclass(frozen=True, slots=True)
class Outcome:
    reply: Json
    scopes: tuple[str, ...]
    duplicate: bool = False


class CommandBus:
    def __init__(self, uow: UnitOfWorkFactory, cache: ReplyCache) -> None:
        self._uow = uow
        self._cache = cache

    async def execute(self, use_case: UseCase[C], command: C, message_id: str | None) -> Outcome:
        outcome = await self._decide(use_case, command, message_id)
        if outcome is None:
            outcome = await self._replay(message_id)
        await self._cache.invalidate(outcome.scopes)
        return outcome

    async def _decide(
        self, use_case: UseCase[C], command: C, message_id: str | None
    ) -> Outcome | None:
        try:
            async with self._uow() as uow:
                return await self._record(uow, message_id, success(await use_case(command, uow)))
        except InvalidCommand:
            raise
        except DomainError as error:
            async with self._uow() as uow:
                return await self._record(uow, message_id, failure(error))

    @staticmethod
    async def _record(uow: UnitOfWork, message_id: str | None, reply: Json) -> Outcome | None:
        """Commit with the inbox row; None (and a rollback) if the message_id is taken."""
        scopes = uow.scopes  # read before commit: a unit forgets its events once committed
        if message_id is not None and not await uow.inbox.record(message_id, reply, scopes):
            return None
        await uow.commit()
        return Outcome(reply, scopes)

    async def _replay(self, message_id: str | None) -> Outcome:
        assert message_id is not None  # only a recorded message_id can be a duplicate
        async with self._uow(read_only=True) as uow:
            stored = await uow.inbox.find(message_id)
        if stored is None:  # recorded by a unit that then rolled back: decide again
            raise Unavailable(f"inbox row for {message_id} vanished; deciding again")
        return Outcome(stored.reply, stored.scopes, duplicate=True)
