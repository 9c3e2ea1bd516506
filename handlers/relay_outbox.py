"""RelayOutbox: publish committed events, at least once each, in commit order.

- Only committed events are in the outbox, so no phantom event is ever published.
- Before an event goes out, the cache scopes it changed are invalidated again: the
  worker that committed it may have died before doing so, and a consumer that reads
  after the event must not get a reply older than it.
- An event is marked sent only once the broker confirmed it (persistent, routed); the
  others stay for the next round. Relays in several workers never take the same rows.
"""

from __future__ import annotations

from core.ports import EventPublisher, Outbox, ReplyCache


class RelayOutbox:
    def __init__(
        self, outbox: Outbox, publisher: EventPublisher, cache: ReplyCache, batch: int = 500
    ) -> None:
        self._outbox = outbox
        self._publisher = publisher
        self._cache = cache
        self._batch = batch

    async def __call__(self) -> int:
        """Relay one batch; return how many events the broker confirmed."""
        async with self._outbox.claim(self._batch) as batch:
            if not batch.messages:
                return 0
            scopes = dict.fromkeys(s for m in batch.messages for s in m.scopes)
            await self._cache.invalidate(list(scopes))
            confirmed = await self._publisher.publish(batch.messages)
            await batch.done(confirmed)
            return len(confirmed)
