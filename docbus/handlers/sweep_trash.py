"""SweepTrash: docbus purges what stayed in the trash past the retention (contract v2).

- An item (document or folder trashed by its own command) in the trash longer than the
  retention (``DOCBUS_TRASH_RETENTION_DAYS``, default 30) is purged, with the events a
  purge command would publish, ``purged_by`` null.
- Bounded batches: at most ``batch`` items per transaction; one transaction's purges and
  their events (the outbox) commit together, so a sweeper killed at any point leaves
  each item either purged with its events or untouched.
- One sweeper at a time across workers (a transaction advisory lock); items a command
  holds at that moment are skipped until the next round.
- Caches are invalidated after each commit (and again by the relay).
"""

from __future__ import annotations

from datetime import timedelta

from docbus.core.lifecycle import TrashItem
from docbus.core.lifecycle_events import FolderPurged
from docbus.core.ports import Clock, IdGenerator, ReplyCache, UnitOfWork, UnitOfWorkFactory
from docbus.handlers.lifecycle import Stamps, document_scopes, subtree_scopes
from docbus.handlers.purge import purged_event
from docbus.handlers.sweeping import until_done


class SweepTrash:
    def __init__(
        self, uow: UnitOfWorkFactory, cache: ReplyCache, clock: Clock, ids: IdGenerator,
        *, retention: timedelta, batch: int = 100,
    ) -> None:
        self._uow = uow
        self._cache = cache
        self._stamps = Stamps(clock, ids)
        self._retention = retention
        self._batch = batch

    async def __call__(self) -> int:
        """Purge one batch; return how many items (0: nothing due, or another sweeper)."""
        async with self._uow() as uow:
            if not await uow.tree.try_lock_sweeper():
                return 0
            items = await uow.tree.expired(self._stamps.now() - self._retention, self._batch)
            for item in items:
                await self._purge(item, uow)
            scopes = uow.scopes
            await uow.commit()
        await self._cache.invalidate(scopes)
        return len(items)

    async def until_done(self) -> int:
        """Sweep batch after batch while full batches come back."""
        return await until_done(self, self._batch)

    async def _purge(self, item: TrashItem, uow: UnitOfWork) -> None:
        if item.document is not None:
            purged = await uow.lifecycle.purge(item.document.doc_id)
            event = purged_event(self._stamps, item.document.org_id, purged, None)
            uow.emit(event, document_scopes(item.document, trash=True))
            return
        assert item.folder is not None
        folder = item.folder
        scopes = subtree_scopes(folder)
        documents = await uow.tree.purge(folder)
        for document in documents:
            uow.emit(purged_event(self._stamps, folder.org_id, document, None), scopes)
        uow.emit(self._stamps.event(
            FolderPurged, folder.org_id, folder_id=folder.folder_id, documents=len(documents),
            purged_by=None,
        ), scopes)
