"""RelayOutbox: publish committed events, at least once each, in commit order.

- Only committed events are in the outbox, so no phantom event is ever published.
- Before an event goes out the first time, the cache scopes it changed are invalidated
  again: the worker that committed it may have died before doing so, and a consumer that
  reads after the event must not get a reply older than it.
- An event is marked sent only once the broker confirmed it (persistent, routed); the
  others stay for the next round. Relays in several workers never take the same rows.
- Several transports (DOCBUS_EVENT_TRANSPORTS): an event leaves the outbox only once
  every transport confirmed it. While all are healthy, one claim takes the rows some
  transport lacks and publishes each to the transports that lack it, all at once (the
  slowest transport sets the pace, not their sum).
- A transport that fails (raises, or confirms none of a batch) rests ``rest`` seconds,
  doubling up to ``max_rest``; meanwhile each of the others claims, publishes and marks
  its own batch (the rows it lacks): one transport down never holds the others back, and
  its events wait in the outbox until it confirms them. After its rest it is tried again
  in the joint claim.
- With a single transport its error propagates (the relay loop backs off), as before.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping

from docbus.core.ports import RABBITMQ, EventPublisher, Outbox, OutboxMessage, ReplyCache


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
        """Relay one batch (per transport); return the most events one transport confirmed
        (a full batch means: call again)."""
        if len(self._publishers) == 1:
            ((transport, publisher),) = self._publishers.items()
            return (await self._relay(transport, publisher))[1]
        now = self._clock()
        ready = [t for t in self._publishers if self._resting.get(t, (0.0, 0.0))[0] <= now]
        if len(ready) == len(self._publishers):
            return await self._together()
        return await self._apart(ready)

    async def _together(self) -> int:
        """Every transport healthy: one claim (rows some transport lacks), published to
        each transport at once (each gets the rows it lacks), one DELETE of the rows every
        transport has now; the others are marked for the transports that confirmed them."""
        async with self._outbox.claim(self._batch, None) as batch:
            if not batch.messages:
                return 0
            await self._invalidate(batch.messages)
            confirmed = await self._publish_all(batch.messages)
            complete = [
                m.id for m in batch.messages
                if all(t in m.sent_to or m.id in ids for t, ids in confirmed.items())
            ]
            await batch.done(complete, None)
            gone = set(complete)
            for transport, ids in confirmed.items():
                await batch.done([i for i in ids if i not in gone], transport)
            return max(len(ids) for ids in confirmed.values())

    async def _publish_all(self, messages: list[OutboxMessage]) -> dict[str, set[int]]:
        """Each transport's confirmed ids; a failing one is rested (and has none). Raises
        when every transport raised (not when one raised and the others had nothing to do:
        they go on apart while it rests)."""
        wanted = {t: [m for m in messages if t not in m.sent_to] for t in self._publishers}
        results = await asyncio.gather(
            *(self._publishers[t].publish(wanted[t]) for t in wanted if wanted[t]),
            return_exceptions=True,
        )
        confirmed: dict[str, set[int]] = {t: set() for t in wanted}
        errors = []
        for transport, result in zip([t for t in wanted if wanted[t]], results, strict=True):
            if isinstance(result, BaseException):
                errors.append(result)
                self._failed(transport, result)
            elif not result:
                self._failed(transport, None)
            else:
                confirmed[transport] = set(result)
        if len(errors) == len(self._publishers):
            raise errors[0]  # nothing works: the loop backs off
        return confirmed

    async def _apart(self, ready: list[str]) -> int:
        """Some transport rests: each of the others claims the rows it lacks, in turn."""
        sent, errors = 0, []
        for transport in ready:
            try:
                claimed, confirmed = await self._relay(transport, self._publishers[transport])
            except Exception as error:
                self._failed(transport, error)
                errors.append(error)
                continue
            if claimed and not confirmed:
                self._failed(transport, None)
            else:
                self._resting.pop(transport, None)
            sent = max(sent, confirmed)
        if errors and len(errors) == len(ready):
            raise errors[0]
        return sent

    async def _relay(self, transport: str, publisher: EventPublisher) -> tuple[int, int]:
        """(claimed, confirmed) of one batch for this transport."""
        async with self._outbox.claim(self._batch, transport) as batch:
            if not batch.messages:
                return 0, 0
            await self._invalidate(batch.messages)
            confirmed = await publisher.publish(batch.messages)
            await batch.done(confirmed)
            return len(batch.messages), len(confirmed)

    async def _invalidate(self, messages: list[OutboxMessage]) -> None:
        """The scopes of the events no transport has published yet (the first did it)."""
        scopes = dict.fromkeys(s for m in messages if not m.sent_to for s in m.scopes)
        if scopes:
            await self._cache.invalidate(list(scopes))

    def _failed(self, transport: str, error: BaseException | None) -> None:
        _, last = self._resting.get(transport, (0.0, 0.0))
        rest = min(max(last * 2, self._rest), self._max_rest)
        self._resting[transport] = (self._clock() + rest, rest)
        self._on_failure(transport, error)
