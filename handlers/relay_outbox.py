"""RelayOutbox: publish committed events, at least once each, in commit order.

- Only committed events are in the outbox, so no phantom event is ever published.
- Before an event goes out the first time, the cache scopes it changed are invalidated
  again: the worker that committed it may have died before doing so, and a consumer that
  reads after the event must not get a reply older than it.
- An event is marked sent only once the broker confirmed it (persistent, routed); the
  others stay for the next round. Relays in several workers never take the same rows.
- Several transports (DOCBUS_EVENT_TRANSPORTS): each one claims, publishes and marks its
  own batch (the events it has not confirmed yet), one transport after the other; an
  event leaves the outbox only once every transport confirmed it.
- A transport that fails (raises, or confirms none of a batch) rests ``rest`` seconds,
  doubling up to ``max_rest``, while the others go on: one transport down never holds the
  others back, and its events wait in the outbox until it confirms them.
- With a single transport its error propagates (the relay loop backs off), as before.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from core.ports import RABBITMQ, EventPublisher, Outbox, ReplyCache


def _ignore(transport: str, error: BaseException | None) -> None:
    return None


class RelayOutbox:
    def __init__(
        self,
        outbox: Outbox,
        publisher: EventPublisher | Mapping[str, EventPublisher],
        cache: ReplyCache,
        batch: int = 500,
        *,
        rest: float = 0.5,
        max_rest: float = 5.0,
        on_failure: Callable[[str, BaseException | None], None] = _ignore,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._outbox = outbox
        self._publishers = dict(publisher) if isinstance(publisher, Mapping) else {
            RABBITMQ: publisher
        }
        self._cache = cache
        self._batch = batch
        self._rest, self._max_rest = rest, max_rest
        self._on_failure = on_failure
        self._clock = clock
        self._resting: dict[str, tuple[float, float]] = {}  # transport: (until, rest)

    @property
    def transports(self) -> tuple[str, ...]:
        return tuple(self._publishers)

    async def __call__(self) -> int:
        """Relay one batch per transport; return the most events one transport confirmed
        (a full batch means: call again)."""
        if len(self._publishers) == 1:
            ((transport, publisher),) = self._publishers.items()
            return (await self._relay(transport, publisher))[1]
        sent, errors = 0, []
        for transport, publisher in self._publishers.items():
            if self._resting.get(transport, (0.0, 0.0))[0] > self._clock():
                continue
            try:
                claimed, confirmed = await self._relay(transport, publisher)
            except Exception as error:
                self._failed(transport, error)
                errors.append(error)
                continue
            if claimed and not confirmed:
                self._failed(transport, None)
            else:
                self._resting.pop(transport, None)
            sent = max(sent, confirmed)
        if errors and len(errors) == len(self._publishers):
            raise errors[0]  # nothing works: the loop backs off
        return sent

    async def _relay(self, transport: str, publisher: EventPublisher) -> tuple[int, int]:
        """(claimed, confirmed) of one batch for this transport."""
        async with self._outbox.claim(self._batch, transport) as batch:
            if not batch.messages:
                return 0, 0
            fresh = (m for m in batch.messages if not m.sent_to)  # others invalidated it
            scopes = dict.fromkeys(s for m in fresh for s in m.scopes)
            if scopes:
                await self._cache.invalidate(list(scopes))
            confirmed = await publisher.publish(batch.messages)
            await batch.done(confirmed)
            return len(batch.messages), len(confirmed)

    def _failed(self, transport: str, error: BaseException | None) -> None:
        _, last = self._resting.get(transport, (0.0, 0.0))
        rest = min(max(last * 2, self._rest), self._max_rest)
        self._resting[transport] = (self._clock() + rest, rest)
        self._on_failure(transport, error)
