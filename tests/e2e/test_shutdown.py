"""SIGTERM through the CLI (``docbus worker``): stop consuming, finish what is in flight,
drain the outbox, close, exit 0 within the deadline, in that order."""

from __future__ import annotations

import asyncio
import re
import signal
import time
import uuid
from pathlib import Path

import aio_pika
import asyncpg
import orjson
import pytest
from sqlalchemy.engine import make_url

from tests.e2e.conftest import start_worker, worker_env

pytestmark = pytest.mark.e2e

COMMANDS = 200


async def test_sigterm_under_load_finishes_drains_and_exits_zero(
    own_pg_url: str, own_rabbit_url: str, valkey_url: str, tmp_path: Path
) -> None:
    log_path = tmp_path / "worker.log"
    env = worker_env(own_pg_url, valkey_url, own_rabbit_url, DOCBUS_SHUTDOWN_DEADLINE="15")
    proc = start_worker("docbus.ops.cli", env, log_path)
    try:
        connection = await aio_pika.connect(own_rabbit_url)
        async with connection:
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.get_exchange("docbus.commands", ensure=False)
            uid = uuid.uuid4().hex[:8]
            for n in range(COMMANDS):
                body = {"org_id": f"org-{uid}", "user_id": f"u{n}-{uid}", "role": "member"}
                await exchange.publish(
                    aio_pika.Message(
                        orjson.dumps(body), content_type="application/json",
                        message_id=f"{uid}-{n}",
                    ),
                    "org.member.set",
                )
        await asyncio.sleep(0.2)  # some handled, some in flight, some still queued
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(proc.wait, 30)
        took = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    logs = log_path.read_text()
    assert code == 0, logs[-3000:]
    assert took < 15
    events = re.findall(r'"event": ?"(worker_stopping|worker_stopped|shutdown_deadline_passed)"',
                        logs)
    assert events == ["worker_stopping", "worker_stopped"], logs[-3000:]
    dsn = make_url(own_pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        answered = await conn.fetchval("SELECT count(*) FROM inbox")
        outbox = await conn.fetchval("SELECT count(*) FROM outbox")
    finally:
        await conn.close()
    assert answered > 0  # it did work before it stopped
    assert outbox == 0  # and published every event it committed before closing
