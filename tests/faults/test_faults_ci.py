"""The fault suite at its CI size, one test per scenario (about 2-3 minutes in all).

Each scenario runs real worker subprocesses against a fresh database, a vhost wiped for
it and a Valkey of its own, injects its faults (kill -9, crash points, RabbitMQ and
PostgreSQL restarts, Valkey outages, SIGTERM, duplicate deliveries) and checks that
nothing was lost or doubled. The control scenario breaks the relay on purpose and must be
caught. ``python -m tests.faults.suite`` runs the same scenarios at a larger size.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.infra import create_vhost, delete_vhost, ensure_services
from tests.faults.scenarios import Config, config, scenarios
from tests.faults.suite import details, table

pytestmark = pytest.mark.e2e

NAMES = list(scenarios(config("ci", Path("."))))


@pytest.fixture(scope="module")
def ci_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Config]:
    if shutil.which("rabbitmqctl") is None or not Path("/etc/postgresql").is_dir():
        pytest.skip("the fault suite restarts local servers: needs rabbitmqctl and pg_ctlcluster")
    for name in ("aiormq", "aio_pika"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    asyncio.run(ensure_services())  # also repairs a RabbitMQ left degraded (see infra)
    vhost = asyncio.run(create_vhost())
    try:
        yield config("ci", tmp_path_factory.mktemp("faults"), vhost=vhost)
    finally:
        asyncio.run(ensure_services())
        asyncio.run(delete_vhost(vhost))


@pytest.mark.parametrize("name", NAMES)
def test_scenario(ci_config: Config, name: str) -> None:
    result = asyncio.run(scenarios(ci_config)[name]())
    report = f"{table([result])}\n{details(result)}\nlogs: {ci_config.log_root}"
    assert result.ok, report
    if result.control:
        assert result.missing_audit > 0, report
    else:
        assert result.confirmed > 0, report
        assert result.lost == result.duplicate_effects == result.missing_audit == 0, report
