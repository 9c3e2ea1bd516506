"""The fuzzing tier's servers and worker: a database, a RabbitMQ vhost and a Valkey
database of its own, so that the e2e tier's worker (same pytest session) never takes
its messages and its dead letters are all its own to read."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.e2e.conftest import WorkerProcess, worker_env
from tests.fixtures.postgres import migrated_scratch_database
from tests.fixtures.rabbit import BASE, own_vhost
from tests.fuzz.harness import Harness
from tests.fuzz.world import World, build_world

# The e2e worker uses database 0 of the same server; keys of two workers never meet.
FUZZ_VALKEY_DB = 7


@pytest.fixture(scope="session")
def fuzz_vhost() -> Iterator[str]:
    if shutil.which("rabbitmqctl") is None:
        pytest.skip("rabbitmqctl not found: the fuzzing tier needs a vhost of its own")
    with own_vhost("docbus-fuzz") as url:
        yield url.removeprefix(BASE)


@pytest.fixture(scope="session")
async def fuzz_pg_url() -> AsyncIterator[str]:
    async for url in migrated_scratch_database("docbus_fuzz"):
        yield url


@pytest.fixture(scope="session")
def fuzz_worker(
    fuzz_pg_url: str, valkey_url: str, fuzz_vhost: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    log_path = tmp_path_factory.mktemp("fuzz-worker") / "worker.log"
    cache_url = valkey_url.rsplit("/", 1)[0] + f"/{FUZZ_VALKEY_DB}"
    process = WorkerProcess(worker_env(fuzz_pg_url, cache_url, BASE + fuzz_vhost), log_path)
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
async def harness(fuzz_worker: WorkerProcess, fuzz_vhost: str) -> AsyncIterator[Harness]:
    async with Harness.connect(BASE + fuzz_vhost, fuzz_vhost, fuzz_worker) as harness:
        yield harness


@pytest.fixture(scope="session")
async def world(harness: Harness) -> World:
    return await build_world(harness)
