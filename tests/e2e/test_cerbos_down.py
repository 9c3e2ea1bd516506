"""Cerbos unreachable: fail closed. A worker deciding with Cerbos keeps answering while it
runs; once the Cerbos process is stopped, commands and queries that need a decision are
retried within DOCBUS_RETRY_BUDGET, then answered ``unavailable`` and dead-lettered, and
nothing was allowed meanwhile (no effect, no event). Cerbos back on its port: the same
worker decides again."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import aio_pika
import pytest

from docbus.devtools.embedded_cerbos import free_port, start_cerbos
from tests.e2e.conftest import Client, start_worker, worker_env
from tests.e2e.test_contract import dead_letter, folder, org, upload_body

pytestmark = pytest.mark.e2e

BUDGET = 2.0


async def test_cerbos_down_means_unavailable_never_allowed(
    cerbos_path: str, own_pg_url: str, own_rabbit_url: str, valkey_url: str, tmp_path: Path
) -> None:
    port = free_port()
    cerbos = start_cerbos(cerbos_path, grpc_port=port)
    env = worker_env(own_pg_url, valkey_url, own_rabbit_url, DOCBUS_ACCESS_DECIDER="cerbos",
                     DOCBUS_CERBOS_ADDRESS=cerbos.address, DOCBUS_CERBOS_TIMEOUT="0.5",
                     DOCBUS_RETRY_BUDGET=str(BUDGET))
    proc = start_worker("docbus.ops.cli", env, tmp_path / "worker.log")
    try:
        connection = await aio_pika.connect(own_rabbit_url)
        async with connection:
            channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            replies = await channel.get_queue("amq.rabbitmq.reply-to", ensure=False)
            client = Client(channel, replies)
            await replies.consume(client.on_reply, no_ack=True)  # type: ignore[arg-type]
            await _scenario(client, own_rabbit_url, cerbos_path, port, cerbos,
                            tmp_path / "worker.log")
    finally:
        proc.terminate()
        proc.wait(30)
        cerbos.stop()


async def _scenario(
    client: Client, rabbit_url: str, cerbos_path: str, port: int, cerbos: object,
    log: Path,
) -> None:
    uid = uuid.uuid4().hex[:8]
    await org(client, uid, alice="member", bob="member")
    await folder(client, uid, "reports", "alice")
    assert (await client.request("document.upload", upload_body(uid, "d1", "reports",
                                                                "alice")))["ok"]
    doc = {"doc_id": f"d1-{uid}"}
    assert (await client.request("document.share", {
        **doc, "shared_by": f"alice-{uid}", "shared_with": f"bob-{uid}", "role": "viewer",
    }))["ok"]
    assert (await client.request("document.get", {**doc, "user_id": f"bob-{uid}"}))["ok"]

    cerbos.stop()  # type: ignore[attr-defined]
    rename = {**doc, "user_id": f"alice-{uid}", "name": "renamed.pdf"}
    for key, body in (
        ("document.rename", rename),
        ("document.get", {**doc, "user_id": f"carol-{uid}"}),  # never asked before: no cache
        ("folder.list", {"folder_id": f"reports-{uid}", "user_id": f"bob-{uid}",
                         "limit": 7}),
    ):
        message_id = f"{key}-{uid}"
        reply = await client.request(key, body, timeout=BUDGET + 15, message_id=message_id)
        assert reply == {"ok": False, "error": {
            "code": "unavailable", "message": "a dependency stayed unavailable; try again later",
            "details": []}}, (key, reply)
        text = await asyncio.to_thread(log.read_text)
        retried = [line for line in text.splitlines()
                   if message_id in line and "cerbos:" in line]
        assert len(retried) >= 3, retried  # retried within the budget, then given up
        assert any('"retry_budget_exhausted"' in line for line in retried), retried
        dead = await dead_letter(rabbit_url, message_id)
        assert b"unavailable" in str(dead.headers.get("x-docbus-error", "")).encode()

    restarted = start_cerbos(cerbos_path, grpc_port=port)
    try:
        # The worker's gRPC channel reconnects with a backoff of up to a second (plus
        # jitter), and a decision waits only the retry budget (2 s here): on a busy machine
        # the first read after the restart can still be `unavailable` (no effect). Ask
        # again until the worker has reconnected.
        got = await _until_available(client, {**doc, "user_id": f"alice-{uid}"}, within=20.0)
        assert got["ok"] and got["data"]["name"] == "d1.pdf", got  # the rename never happened
        renamed = await client.request("document.rename", {**rename}, timeout=15)
        assert renamed["ok"] and renamed["data"]["name"] == "renamed.pdf", renamed
    finally:
        restarted.stop()


async def _until_available(
    client: Client, body: dict[str, str], *, within: float
) -> dict[str, Any]:
    """document.get until its reply is not `unavailable` (or ``within`` seconds passed)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        got = await client.request("document.get", body, timeout=15)
        unavailable = not got["ok"] and got["error"]["code"] == "unavailable"
        if not unavailable or asyncio.get_running_loop().time() > deadline:
            return got
        await asyncio.sleep(0.5)
