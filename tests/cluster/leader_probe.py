"""Shows the RabbitMQ 3.10 behaviour behind docbus's "a nack means a fresh channel" rule.

``python -m tests.cluster.cluster start`` first, then ``python -m tests.cluster.leader_probe``.

A quorum queue is declared with its leader on node 3; a connection to node 2 is opened;
node 3 is killed (-9). A channel opened on node 2 right away (during the leader election)
gets every publish to the queue nacked, and keeps getting them nacked as long as node 3
stays down, while channels opened a few seconds later on the same connection publish
normally. Node 3 is started again and the queue deleted at the end. Touches only the
cluster of tests/cluster/cluster.py (never the machine's node on 5672).
"""

from __future__ import annotations

import asyncio
import sys
import time

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection

from tests.cluster.cluster import Cluster

QUEUE = "docbus-probe.leader"


async def publish(channel: AbstractChannel, count: int) -> tuple[int, int]:
    """(confirmed, refused) of ``count`` confirmed publishes to the probe queue."""
    ok = refused = 0
    for _ in range(count):
        try:
            await channel.default_exchange.publish(aio_pika.Message(b"x"), QUEUE, timeout=5)
            ok += 1
        except Exception:
            refused += 1
        await asyncio.sleep(0.05)
    return ok, refused


async def fresh(connection: AbstractConnection) -> AbstractChannel:
    return await connection.channel(publisher_confirms=True)


async def probe(cluster: Cluster, rounds: int = 4) -> None:
    _, second, third = cluster.nodes
    async with await aio_pika.connect(third.url) as declaring:
        channel = await declaring.channel()
        await channel.queue_delete(QUEUE)
        await channel.declare_queue(QUEUE, durable=True, arguments={
            "x-queue-type": "quorum", "x-queue-leader-locator": "client-local",
        })
    print(f"leader of {QUEUE}: {cluster.leaders('/').get(QUEUE)}")
    connection = await aio_pika.connect(second.url)
    try:
        cluster.kill9(third)
        killed = time.monotonic()
        first = await fresh(connection)
        ok, refused = await publish(first, 20)
        print(f"channel opened at once: {ok} confirmed, {refused} nacked")
        for _ in range(rounds):
            await asyncio.sleep(2)
            at = time.monotonic() - killed
            ok, refused = await publish(await fresh(connection), 10)
            again, still = await publish(first, 10)
            print(f"t+{at:4.1f} s: a new channel {ok} confirmed, {refused} nacked;"
                  f" the first channel {again} confirmed, {still} nacked")
    finally:
        await connection.close()
        cluster.restart(third)
        async with await aio_pika.connect(second.url) as cleaning:
            await (await cleaning.channel()).queue_delete(QUEUE)


def main() -> int:
    cluster = Cluster()
    if not cluster.running():
        print("no cluster runs: python -m tests.cluster.cluster start", file=sys.stderr)
        return 2
    asyncio.run(probe(cluster))
    return 0


if __name__ == "__main__":
    sys.exit(main())
