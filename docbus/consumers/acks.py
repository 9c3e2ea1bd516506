"""Acknowledgements with as few frames as possible, and never one too many.

Every ``basic.ack`` costs a frame from the worker and, on a quorum queue, a Raft command
in the broker (a settle). Deliveries that finish together are therefore acknowledged
together: one ``basic.ack`` with ``multiple=True`` for a run of consecutive delivery tags.

``multiple=True`` acknowledges *every* outstanding delivery up to its tag, so it is sent
only for a range this process knows to be finished: delivery tags are consecutive per
channel (1, 2, 3, ...), and the tracker of a channel keeps ``floor``, the tag up to which
every delivery was settled (acked or nacked). A ready acknowledgement above a gap (a
delivery still in flight, or one this process never saw) waits ``hold`` seconds for the
gap to close, then goes out on its own: a slow message never holds the others' prefetch
slots for long. A nack goes out at once, before any ack that could cover it.

The caller awaits ``ack()`` until its frame was handed to the connection, so a drained
pipeline has nothing left to send. A channel that closed takes its tracker with it: its
deliveries come back from the broker and the inbox answers them.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass, field

import structlog
from aio_pika.abc import AbstractIncomingMessage

log = structlog.get_logger("docbus.acks")


@dataclass(eq=False)
class _Tracker:
    """The acknowledgements of one channel."""

    channel: weakref.ref[object]
    hold: float
    floor: int = 0
    """Every tag up to here was settled (acknowledged, or nacked) by this process."""
    settled: set[int] = field(default_factory=set)
    """Tags above ``floor`` settled on their own (individually)."""
    ready: dict[int, asyncio.Future[None]] = field(default_factory=dict)
    """Finished deliveries waiting for their ack frame."""
    scheduled: bool = False
    timer: asyncio.TimerHandle | None = None
    sending: asyncio.Future[None] | None = None
    """The last ack frame decided: the next one is handed to the connection after it."""

    def schedule(self) -> None:
        if not self.scheduled:
            self.scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        """Ack the consecutive run above ``floor`` in one frame; wait a little for gaps.

        The run may pass over tags settled on their own (a nack, an overdue single ack):
        a multiple ack does not cover those again, they are no longer outstanding."""
        self.scheduled = False
        top = self.floor
        last = 0
        run: list[asyncio.Future[None]] = []
        while True:
            if top + 1 in self.ready:
                run.append(self.ready.pop(top + 1))
                last = top + 1
            elif top + 1 in self.settled:
                self.settled.discard(top + 1)
            else:
                break
            top += 1
        self.floor = top
        if run:
            self._send(last, multiple=len(run) > 1, futures=run)
        if self.ready and self.timer is None:
            self.timer = asyncio.get_running_loop().call_later(self.hold, self.overdue)

    def overdue(self) -> None:
        """The gap did not close in time: acknowledge the waiting deliveries one by one."""
        self.timer = None
        self.flush()
        for tag in sorted(self.ready):
            self._send(tag, multiple=False, futures=[self.ready.pop(tag)])
            self.settled.add(tag)

    def _send(self, tag: int, *, multiple: bool, futures: list[asyncio.Future[None]]) -> None:
        task = asyncio.ensure_future(_basic_ack(self.channel(), tag, multiple, self.sending))
        self.sending = task
        task.add_done_callback(lambda done: _resolve(done, futures))


async def _basic_ack(
    channel: object | None, tag: int, multiple: bool, after: asyncio.Future[None] | None
) -> None:
    # The broker must see the frames in the order they were decided: a multiple ack that
    # overtook a single one below it would settle that tag first, and the single one would
    # then name an unknown tag (PRECONDITION_FAILED, the channel closes). The connection's
    # write buffer is an asyncio.Queue with a bound, whose blocked put() calls can resume in
    # another order, so each frame waits until the one before it was handed over.
    if after is not None and not after.done():
        await asyncio.wait([after])
    if channel is None:
        raise RuntimeError("the channel of these deliveries is gone")
    await channel.basic_ack(delivery_tag=tag, multiple=multiple, wait=False)  # type: ignore[attr-defined]


def _resolve(done: asyncio.Future[None], futures: list[asyncio.Future[None]]) -> None:
    error = None if done.cancelled() else done.exception()
    for future in futures:
        if future.done():
            continue
        if error is not None:
            future.set_exception(error)
        elif done.cancelled():
            future.cancel()
        else:
            future.set_result(None)


class Acknowledger:
    """Coalesces the acknowledgements of every channel a pipeline consumes from."""

    def __init__(self, hold: float = 0.005) -> None:
        self._hold = hold
        self._trackers: weakref.WeakKeyDictionary[object, _Tracker] = weakref.WeakKeyDictionary()

    def _tracker(self, raw: AbstractIncomingMessage) -> _Tracker:
        channel = raw.channel
        tracker = self._trackers.get(channel)
        if tracker is None:
            tracker = self._trackers[channel] = _Tracker(weakref.ref(channel), self._hold)
        return tracker

    async def ack(self, raw: AbstractIncomingMessage) -> None:
        """Acknowledge ``raw``, maybe with others in one frame; return once it was sent."""
        tag = getattr(raw, "delivery_tag", None)
        if tag is None:  # not a broker's delivery (a stand-in): nothing to coalesce
            await raw.ack()
            return
        tracker = self._tracker(raw)
        done = asyncio.get_running_loop().create_future()
        tracker.ready[tag] = done
        tracker.schedule()
        await done

    async def nack(self, raw: AbstractIncomingMessage, *, requeue: bool) -> None:
        """Send the nack at once (before any ack that could cover it), then count it settled."""
        await raw.nack(requeue=requeue)
        # Only a nack that was sent closes the gap: one that failed leaves the delivery
        # outstanding, and no ack with multiple=True may then cover it.
        tag = getattr(raw, "delivery_tag", None)
        if tag is not None:
            tracker = self._tracker(raw)
            tracker.settled.add(tag)
            tracker.schedule()
