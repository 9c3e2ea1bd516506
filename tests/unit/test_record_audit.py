"""RecordAuditEntry: each event lands in the audit log once, however often it arrives."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from docbus.adapters.memory import InMemoryAuditLog, InMemoryOutbox, RecordingEventPublisher
from docbus.core.ports import AuditEntry, OutboxMessage
from docbus.core.values import Role
from docbus.handlers.record_audit import RecordAuditEntry
from docbus.handlers.relay_outbox import RelayOutbox
from tests.unit.conftest import BOB, World


def entry(message: OutboxMessage) -> AuditEntry:
    body = json.loads(message.body)
    return AuditEntry(
        body["event_id"], body["type"], body["org_id"],
        datetime.fromisoformat(body["occurred_at"]), message.routing_key, body,
    )


class ConfirmLostOnce(RecordingEventPublisher):
    """Delivers everything, but the first round's confirms never come back."""

    def __init__(self) -> None:
        super().__init__()
        self.rounds = 0

    async def publish(self, messages: Sequence[OutboxMessage]) -> list[int]:
        self.rounds += 1
        confirmed = await super().publish(messages)
        return confirmed if self.rounds > 1 else []


async def _events(world: World) -> list[AuditEntry]:
    await world.upload("d1")
    await world.share("d1", BOB, Role.VIEWER)
    return [entry(m) for m in world.db.state.outbox]


async def test_new_events_are_appended_and_counted(world: World) -> None:
    log = InMemoryAuditLog()
    entries = await _events(world)
    assert await RecordAuditEntry(log)(entries) == 2
    assert list(log.entries) == [e.event_id for e in entries]
    assert log.entries[entries[1].event_id].routing_key == "document.shared.viewer"


async def test_a_redelivered_event_is_counted_once(world: World) -> None:
    log = InMemoryAuditLog()
    record = RecordAuditEntry(log)
    entries = await _events(world)
    assert await record(entries[:1]) == 1
    assert await record(entries) == 1
    assert await record(entries) == 0
    assert len(log.entries) == 2


async def test_events_published_twice_by_the_relay_are_audited_once(world: World) -> None:
    await _events(world)
    publisher = ConfirmLostOnce()
    relay = RelayOutbox(InMemoryOutbox(world.db), publisher, world.cache)
    await relay()
    await relay()  # the confirms were lost: everything goes out again
    assert len(publisher.published) == 4
    log = InMemoryAuditLog()
    record = RecordAuditEntry(log)
    counted = [await record([entry(m)]) for m in publisher.published]
    assert counted == [1, 1, 0, 0]
    assert len(log.entries) == 2


async def test_two_copies_of_one_event_in_one_batch_are_counted_once(world: World) -> None:
    log = InMemoryAuditLog()
    entries = await _events(world)
    assert await RecordAuditEntry(log)([entries[0], entries[0], entries[1]]) == 2
