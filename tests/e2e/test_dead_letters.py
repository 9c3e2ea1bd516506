"""Operator tools on docbus.dead against the real broker and worker."""

from __future__ import annotations

import aio_pika
import orjson
import pytest

from docbus.ops.dead_letters import list_dead, replay_dead
from tests.e2e.conftest import Client, EventTap

pytestmark = pytest.mark.e2e


async def park(
    rabbit_url: str, routing_key: str, body: dict[str, object], message_id: str,
    exchange: str = "docbus.commands",
) -> None:
    """Put a valid command into docbus.dead as if it had failed past the retry budget."""
    connection = await aio_pika.connect(rabbit_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        dead = await channel.get_exchange("docbus.dead", ensure=False)
        message = aio_pika.Message(
            orjson.dumps(body), content_type="application/json", message_id=message_id,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            headers={
                "x-docbus-error": "unavailable: database down past the retry budget",
                "x-docbus-original-exchange": exchange,
                "x-docbus-original-routing-key": routing_key,
            },
        )
        await dead.publish(message, routing_key)


async def test_replay_applies_a_dead_letter_once_even_if_replayed_twice(
    client: Client, events: EventTap, rabbit_url: str, uid: str
) -> None:
    member = {"org_id": f"org-{uid}", "user_id": f"u-{uid}", "role": "member"}
    await park(rabbit_url, "org.member.set", member, f"dl-{uid}")
    listed = [d for d in await list_dead(rabbit_url) if d.message_id == f"dl-{uid}"]
    assert listed and listed[0].reason.startswith("unavailable:")
    assert listed[0].routing_key == "org.member.set"

    def mine(letter: object) -> bool:
        return getattr(letter, "message_id", None) == f"dl-{uid}"

    replay = await replay_dead(rabbit_url, select=mine)
    assert [d.message_id for d in replay.replayed] == [f"dl-{uid}"] and not replay.failed
    await park(rabbit_url, "org.member.set", member, f"dl-{uid}")
    await replay_dead(rabbit_url, select=mine)

    seen = await events.quiet(2.0)
    changed = [b for k, b in seen if k == "org.member.changed" and b["user_id"] == f"u-{uid}"]
    assert len(changed) == 1, "a replayed duplicate must not have a second effect"
    assert not [d for d in await list_dead(rabbit_url) if d.message_id == f"dl-{uid}"]


async def test_a_letter_that_cannot_go_back_stays_and_the_replay_goes_on(
    client: Client, events: EventTap, rabbit_url: str, uid: str
) -> None:
    """An unroutable letter (no queue binds its routing key any more) and one whose exchange
    is gone are left in docbus.dead with the reason; the letters after them are replayed."""
    member = {"org_id": f"org-{uid}", "user_id": f"u-{uid}", "role": "member"}
    await park(rabbit_url, "no.such.route", member, f"dl-{uid}-unroutable")
    await park(rabbit_url, "org.member.set", member, f"dl-{uid}-gone", exchange=f"gone-{uid}")
    await park(rabbit_url, "org.member.set", member, f"dl-{uid}-good")

    def mine(letter: object) -> bool:
        return str(getattr(letter, "message_id", "")).startswith(f"dl-{uid}-")

    replay = await replay_dead(rabbit_url, select=mine)
    assert [d.message_id for d in replay.replayed] == [f"dl-{uid}-good"]
    assert {d.message_id: why for d, why in replay.failed} == {
        f"dl-{uid}-unroutable": "unroutable: no queue takes docbus.commands/no.such.route",
        f"dl-{uid}-gone": f"no exchange 'gone-{uid}'",
    }
    left = sorted(d.message_id or "" for d in await list_dead(rabbit_url) if mine(d))
    assert left == [f"dl-{uid}-gone", f"dl-{uid}-unroutable"]
    seen = await events.quiet(2.0)
    assert [b for k, b in seen if k == "org.member.changed" and b["user_id"] == f"u-{uid}"]
    await drop_dead(rabbit_url, set(left))


async def drop_dead(rabbit_url: str, message_ids: set[str]) -> None:
    """Remove these letters from docbus.dead (the queue is shared by the e2e tests)."""
    connection = await aio_pika.connect(rabbit_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue("docbus.dead", passive=True)
        while (message := await queue.get(no_ack=False, fail=False)) is not None:
            if message.message_id in message_ids:
                await message.ack()
