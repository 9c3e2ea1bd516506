"""The fault suite's crash points are wired where the suite expects them.

The suite itself (tests/faults) restarts shared servers and runs apart; this runs its
worker entry point (``python -m tests.faults.worker``) with ``DOCBUS_CRASH_AT=point:1`` on
a database and a vhost of its own, sends one command, and checks that the worker died
(exit 137) at that point and nowhere else: what was committed and what was published when
it died.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from pathlib import Path

import aio_pika
import asyncpg
import orjson
import pytest
from sqlalchemy.engine import make_url

from tests.e2e.conftest import start_worker, worker_env
from tests.faults.crash import POINTS

pytestmark = pytest.mark.e2e


@dataclass
class State:
    """What the database and the broker hold of one command when the worker died."""

    answered: bool  # its inbox row (the transaction committed)
    outbox: int  # its event's rows still in the outbox (not marked sent)
    published: int  # its event on doc.events


async def state(pg_url: str, tap: aio_pika.abc.AbstractQueue, message_id: str) -> State:
    dsn = make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        answered = await conn.fetchval(
            "SELECT count(*) FROM inbox WHERE message_id = $1", message_id
        )
        outbox = await conn.fetchval("SELECT count(*) FROM outbox")
    finally:
        await conn.close()
    await asyncio.sleep(0.5)  # a confirmed event reaches the tap within this
    published = 0
    while await tap.get(no_ack=True, fail=False) is not None:
        published += 1
    return State(answered=answered == 1, outbox=outbox, published=published)


EXPECTED = {
    "after_receive": State(answered=False, outbox=0, published=0),
    "after_commit": State(answered=True, outbox=1, published=0),
    "after_claim": State(answered=True, outbox=1, published=0),
    "after_confirm": State(answered=True, outbox=1, published=1),
}


def test_every_point_of_the_suite_is_known() -> None:
    assert set(EXPECTED) == set(POINTS)


@pytest.mark.parametrize("point", POINTS)
async def test_the_fault_worker_dies_at_the_point_and_nowhere_else(
    point: str, own_pg_url: str, own_rabbit_url: str, valkey_url: str, tmp_path: Path
) -> None:
    env = worker_env(own_pg_url, valkey_url, own_rabbit_url, DOCBUS_CRASH_AT=f"{point}:1")
    proc = start_worker("tests.faults.worker", env, tmp_path / "worker.log")
    try:
        connection = await aio_pika.connect(own_rabbit_url)
        async with connection:
            channel = await connection.channel()
            tap = await channel.declare_queue(exclusive=True)
            await tap.bind("doc.events", routing_key="#")
            uid = uuid.uuid4().hex[:8]
            body = {"org_id": f"org-{uid}", "user_id": f"u-{uid}", "role": "member"}
            exchange = await channel.get_exchange("docbus.commands", ensure=False)
            await exchange.publish(
                aio_pika.Message(
                    orjson.dumps(body), content_type="application/json", message_id=uid
                ),
                "org.member.set",
            )
            code = await asyncio.to_thread(proc.wait, 20)
            assert code == 137, (tmp_path / "worker.log").read_text()[-3000:]
            assert await state(own_pg_url, tap, uid) == EXPECTED[point]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
