"""DOCBUS_RABBIT_URL and the client's URL: one node or a cluster's nodes, in two forms."""

from __future__ import annotations

import pytest

from docbus.adapters.amqp_failover import broker_urls
from docbus_client.failover import node_urls

NODES = [
    "amqp://u:p@10.0.0.1:5672/v?heartbeat=5",
    "amqp://u:p@10.0.0.2:5673/v?heartbeat=5",
    "amqp://u:p@10.0.0.3/v?heartbeat=5",
]


@pytest.mark.parametrize("parse", [broker_urls, node_urls])
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("amqp://guest:guest@127.0.0.1:5672/", ["amqp://guest:guest@127.0.0.1:5672/"]),
        (",".join(NODES), NODES),
        (" , ".join(NODES) + ",", NODES),
        ("amqp://u:p@10.0.0.1:5672,10.0.0.2:5673,10.0.0.3/v?heartbeat=5", NODES),
        ("amqp://h1,h2", ["amqp://h1", "amqp://h2"]),
    ],
)
def test_one_node_or_several(parse: object, value: str, expected: list[str]) -> None:
    assert parse(value) == expected  # type: ignore[operator]


@pytest.mark.parametrize("parse", [broker_urls, node_urls])
@pytest.mark.parametrize(
    "value",
    [
        "amqp://u:p@h1:5672/v,amqp://u:p@h2:5672/other",  # another vhost
        "amqp://u:p@h1:5672/v,amqp://x:p@h2:5672/v",  # another user
        "amqp://u:p@h1/v,amqp://u:p@h2/v?heartbeat=5",  # other options
        "amqp://u:p@h1/v,h2,amqp://u:p@h3/v",  # the two forms mixed
        "",
    ],
)
def test_a_list_that_is_not_one_cluster_is_refused(parse: object, value: str) -> None:
    with pytest.raises(ValueError, match="broker URL"):
        parse(value)  # type: ignore[operator]
