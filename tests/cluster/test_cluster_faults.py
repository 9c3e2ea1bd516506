"""The cluster tier: docbus on a three-node RabbitMQ cluster, at CI size (about 3 minutes).

Starts the cluster of tests/cluster/cluster.py on loopback (never the machine's node on
5672), runs the cluster scenarios of tests/faults/cluster_scenarios.py with real worker
subprocesses (kill -9 of the worker's node and of another member, a rolling restart, two
workers on different nodes losing one), and removes the cluster. Each must lose nothing,
double nothing, miss no audit event, dead-letter nothing, and never pause commits for
more than 10 s. Skipped, saying why, where no cluster can start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster.cluster import Cluster, available
from tests.faults.cluster_scenarios import BODIES, MAX_GAP, cluster_scenarios
from tests.faults.scenarios import Config, config
from tests.faults.suite import details, table

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    cluster = Cluster()
    if cluster.running():  # started by hand (python -m tests.cluster.cluster start): reuse
        yield cluster
        return
    if why := available():
        pytest.skip(f"no RabbitMQ cluster for the cluster tier: {why}")
    try:
        cluster.start()
    except Exception as error:
        cluster.stop()
        pytest.skip(f"the RabbitMQ cluster could not start: {error}"[:300])
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def ci_config(tmp_path_factory: pytest.TempPathFactory) -> Config:
    for name in ("aiormq", "aio_pika"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    return config("ci", Path(tmp_path_factory.mktemp("cluster-faults")))


@pytest.mark.parametrize("name", list(BODIES))
def test_cluster_scenario(cluster: Cluster, ci_config: Config, name: str) -> None:
    result = asyncio.run(cluster_scenarios(ci_config, cluster, "ci")[name]())
    report = f"{table([result])}\n{details(result)}\nlogs: {ci_config.log_root}"
    assert result.ok, report
    assert result.confirmed > 0, report
    assert result.lost == result.duplicate_effects == result.missing_audit == 0, report
    assert not result.dead, report
    assert result.commit_gap_s is not None and result.commit_gap_s <= MAX_GAP, report
