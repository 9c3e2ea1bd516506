"""The operator's command line against real servers: one line for an unreachable server,
a doctor that says what to fix, dead letters an operator can paste and parse."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid

import aio_pika
import orjson
import pytest

from tests.e2e.conftest import ROOT, WorkerProcess, worker_env

pytestmark = pytest.mark.e2e
PG_DOWN = "postgresql://postgres:pw@127.0.0.1:1/x"  # port 1: nothing listens there
RABBIT_DOWN = "amqp://guest:pw@127.0.0.1:1/"


def docbus(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "docbus.ops.cli", *args], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=60, check=False,
    )


def closed_port_env(base: dict[str, str], **urls: str) -> dict[str, str]:
    env = dict(base)
    env.update(urls)
    return env


@pytest.fixture
def env(worker_pg_url: str, valkey_url: str, rabbit_url: str) -> dict[str, str]:
    # No start-up wait for RabbitMQ (test_the_worker_waits_for_rabbitmq_within_its_budget)
    return worker_env(worker_pg_url, valkey_url, rabbit_url, DOCBUS_RABBIT_CONNECT_BUDGET="0")


@pytest.mark.parametrize(
    ("args", "setting", "url", "server"),
    [
        (("worker",), "DOCBUS_DATABASE_URL", PG_DOWN, "PostgreSQL"),
        (("worker",), "DOCBUS_RABBIT_URL", RABBIT_DOWN, "RabbitMQ"),
        (("demo",), "DOCBUS_RABBIT_URL", RABBIT_DOWN, "RabbitMQ"),
        (("dead", "list"), "DOCBUS_RABBIT_URL", RABBIT_DOWN, "RabbitMQ"),
        (("migrate",), "DOCBUS_DATABASE_URL", PG_DOWN, "PostgreSQL"),
    ],
)
def test_an_unreachable_server_is_one_line_naming_it_the_address_and_the_setting(
    env: dict[str, str], args: tuple[str, ...], setting: str, url: str, server: str
) -> None:
    done = docbus(closed_port_env(env, **{setting: url}), *args)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert server in lines[0] and setting in lines[0] and "127.0.0.1:1" in lines[0]
    assert "pw" not in lines[0], "passwords are masked"
    assert "Traceback" not in done.stdout + done.stderr


def test_the_worker_waits_for_rabbitmq_within_its_budget(env: dict[str, str]) -> None:
    """A node that is down at start-up (a cluster restarting) is waited for, then the
    worker stops with the one line."""
    two_dead = f"{RABBIT_DOWN},amqp://guest:pw@127.0.0.1:2/"
    started = time.monotonic()
    done = docbus(closed_port_env(
        env, DOCBUS_RABBIT_URL=two_dead, DOCBUS_RABBIT_CONNECT_BUDGET="1.5",
        DOCBUS_RABBIT_RECONNECT_INTERVAL="0.3",
    ), "worker")
    assert 1.2 <= time.monotonic() - started < 30
    assert done.returncode == 2, done.stderr
    assert (done.stdout + done.stderr).count("rabbitmq_unreachable") >= 3
    assert "RabbitMQ" in done.stderr.strip().splitlines()[-1]
    assert "pw" not in done.stdout + done.stderr


def test_doctor_passes_against_a_migrated_stack(env: dict[str, str], worker: WorkerProcess) -> None:
    done = docbus(env, "doctor", "--json")
    checks = [json.loads(line) for line in done.stdout.splitlines()]
    assert {c["name"] for c in checks} == {
        "configuration", "postgresql", "migrations", "rabbitmq", "topology", "valkey"
    }
    assert all(c["ok"] for c in checks), checks
    assert done.returncode == 0


def test_doctor_says_what_to_fix_for_a_vhost_without_topology(
    env: dict[str, str], rabbit_url: str
) -> None:
    vhost = f"docbus-doctor-{uuid.uuid4().hex[:8]}"
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], check=True, timeout=60)
    try:
        subprocess.run(
            ["rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
            check=True, timeout=60,
        )
        base = rabbit_url.rsplit("/", 1)[0]
        done = docbus(closed_port_env(env, DOCBUS_RABBIT_URL=f"{base}/{vhost}"), "doctor", "--json")
    finally:
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], check=False, timeout=60)
    checks = {c["name"]: c for c in map(json.loads, done.stdout.splitlines())}
    assert done.returncode == 1
    assert not checks["topology"]["ok"]
    assert "queue docbus.document.upload" in checks["topology"]["detail"]
    assert "docbus migrate" in checks["topology"]["fix"]


def test_doctor_reports_an_unmigrated_database(env: dict[str, str], worker_pg_url: str) -> None:
    missing = worker_pg_url.rsplit("/", 1)[0] + f"/docbus_missing_{uuid.uuid4().hex[:6]}"
    done = docbus(closed_port_env(env, DOCBUS_DATABASE_URL=missing), "doctor")
    assert done.returncode == 1
    assert "FAIL" in done.stdout and "DOCBUS_DATABASE_URL" in done.stdout


async def test_dead_list_json_has_full_ids_and_the_reason(
    env: dict[str, str], worker: WorkerProcess, rabbit_url: str
) -> None:
    message_id = "a-very-long-message-id-" + "x" * 90  # a table would have cut it
    connection = await aio_pika.connect(rabbit_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        commands = await channel.get_exchange("docbus.commands", ensure=False)
        await commands.publish(
            aio_pika.Message(orjson.dumps({"org_id": "o"}), content_type="application/json",
                             message_id=message_id),
            "org.member.set",
        )
    letters: list[dict[str, object]] = []
    for _ in range(50):
        done = await asyncio.to_thread(docbus, env, "dead", "list", "--json", "--limit", "1000")
        letters = [json.loads(line) for line in done.stdout.splitlines()]
        if any(letter["message_id"] == message_id for letter in letters):
            break
        await asyncio.sleep(0.2)
    mine = [letter for letter in letters if letter["message_id"] == message_id]
    assert mine, letters
    assert str(mine[0]["reason"]).startswith("invalid:")
    assert mine[0]["routing_key"] == "org.member.set"
    assert json.loads(str(mine[0]["body"])) == {"org_id": "o"}
