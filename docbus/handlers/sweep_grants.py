"""SweepExpiredGrants: docbus removes grants past their expires_at (contract v2).

- A document or folder share whose ``expires_at`` has come is deleted and its expiry
  published once: DocumentShareExpired / FolderShareExpired, ``expired_at`` equal to the
  grant's ``expires_at``. (Access never waits for this: an expired grant counts for
  nothing from its expires_at on, removed or not.)
- Bounded batches: at most ``batch`` grants per transaction; the deletions and their
  events (the outbox) commit together, so a sweeper killed at any point (``kill -9``)
  leaves each grant either removed with its one event or untouched for the next round.
- One sweeper at a time across workers (a transaction advisory lock); grants a command
  holds at that moment (a re-share replacing one) are skipped until the next round.
- The grantee's cache scope is invalidated after each commit (and again by the relay).
"""

from __future__ import annotations

from docbus.core.events import DomainEvent
from docbus.core.ports import Clock, IdGenerator, ReplyCache, UnitOfWorkFactory
from docbus.core.sharing import ExpiredGrant
from docbus.core.sharing_events import DocumentShareExpired, FolderShareExpired
from docbus.core.values import CacheScope
from docbus.handlers.lifecycle import Stamps
from docbus.handlers.sweeping import until_done


class SweepExpiredGrants:
    def __init__(
        self, uow: UnitOfWorkFactory, cache: ReplyCache, clock: Clock, ids: IdGenerator,
        *, batch: int = 500,
    ) -> None:
        self._uow = uow
        self._cache = cache
        self._stamps = Stamps(clock, ids)
        self._batch = batch

    async def __call__(self) -> int:
        """Remove one batch; return how many grants (0: none due, or another sweeper)."""
        async with self._uow() as uow:
            if not await uow.shares.try_lock_expiry_sweeper():
                return 0
            grants = await uow.shares.expired(self._stamps.now(), self._batch)
            for grant in grants:
                await uow.shares.remove(grant)
                uow.emit(self._event(grant), [CacheScope.user(grant.user_id)])
            scopes = uow.scopes
            await uow.commit()
        await self._cache.invalidate(scopes)
        return len(grants)

    async def until_done(self) -> int:
        """Sweep batch after batch while full batches come back."""
        return await until_done(self, self._batch)

    def _event(self, grant: ExpiredGrant) -> DomainEvent:
        if grant.kind == "document":
            return self._stamps.event(
                DocumentShareExpired, grant.org_id, document_id=grant.item_id,
                user_id=grant.user_id, role=grant.role, expired_at=grant.expires_at,
            )
        return self._stamps.event(
            FolderShareExpired, grant.org_id, folder_id=grant.item_id, user_id=grant.user_id,
            role=grant.role, expired_at=grant.expires_at,
        )
