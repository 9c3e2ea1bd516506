"""declare_topology on a real broker: quorum queues made for a cluster (leader locator,
initial group size), and queues an operator made with other arguments used as they are."""

from __future__ import annotations

from collections.abc import Iterator

import aio_pika
import pytest
from aiormq.exceptions import ChannelPreconditionFailed

from docbus.consumers.topology import AUDIT_QUEUE_NAME, ROUTES, QueueShape, declare_topology
from tests.fixtures.rabbit import own_vhost

pytestmark = pytest.mark.integration

OPERATORS = {"x-queue-type": "quorum", "x-delivery-limit": 7}


@pytest.fixture
def vhost_url() -> Iterator[str]:
    with own_vhost("docbus-topology") as url:
        yield url


async def test_new_queues_get_the_cluster_arguments(vhost_url: str) -> None:
    connection = await aio_pika.connect(vhost_url)
    async with connection:
        shape = QueueShape(delivery_limit=20, leader_locator="balanced", initial_group_size=3)
        await declare_topology(connection, shape)
        await declare_topology(connection, shape)  # idempotent
        channel = await connection.channel()
        # Declaring again with exactly these arguments succeeds only if they are the queue's.
        await channel.declare_queue(ROUTES[0].queue, durable=True, arguments=shape.arguments())


async def test_a_queue_made_with_other_arguments_is_used_as_it_is(vhost_url: str) -> None:
    connection = await aio_pika.connect(vhost_url)
    async with connection:
        channel = await connection.channel()
        await channel.declare_queue(AUDIT_QUEUE_NAME, durable=True, arguments=OPERATORS)
        await declare_topology(connection, QueueShape(declare="missing"))
        channel = await connection.channel()
        await channel.declare_queue(AUDIT_QUEUE_NAME, durable=True, arguments=OPERATORS)
        with pytest.raises(ChannelPreconditionFailed):
            await declare_topology(connection, QueueShape(declare="always"))


def test_empty_settings_leave_the_arguments_to_the_broker_and_policies() -> None:
    shape = QueueShape(leader_locator="", initial_group_size=0)
    assert "x-queue-leader-locator" not in shape.arguments()
    assert "x-quorum-initial-group-size" not in shape.arguments()
    assert QueueShape().cluster_arguments() == {
        "x-queue-leader-locator": "balanced", "x-quorum-initial-group-size": 3,
    }
