"""A probe of RabbitMQ itself: does basic.cancel give back messages still on their way?

``python -m tests.faults.cancel_probe`` fills a quorum queue, consumes it with a prefetch
of 64, cancels the consumer while its channel stays open, then reads what is left. On
RabbitMQ 3.10 some of what is left carries the redelivered flag although the consumer
never received it (5-35 messages per trial here): the broker requeues the deliveries that
were in transit when the cancel arrived. A graceful stop (basic.cancel, finish, ack) can
therefore cause redelivered flags without anything being redone; the fault suite judges
graceful stops by inbox duplicates (work redone), and reports the flags.
"""

from __future__ import annotations

import asyncio
import uuid

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from tests.faults.infra import RABBIT_BASE, create_vhost, delete_vhost


async def trial(url: str, n: int, messages: int = 3000) -> dict[str, int]:
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(
            f"probe-{n}-{uuid.uuid4().hex[:6]}", durable=True,
            arguments={"x-queue-type": "quorum"},
        )
        for i in range(messages):
            await channel.default_exchange.publish(
                aio_pika.Message(b"x", message_id=str(i)), queue.name
            )
        consumer = await aio_pika.connect(url)
        async with consumer:
            consuming = await consumer.channel()
            await consuming.set_qos(prefetch_count=64)
            mine = await consuming.get_queue(queue.name)
            seen: set[str | None] = set()

            async def on(message: AbstractIncomingMessage) -> None:
                seen.add(message.message_id)
                await asyncio.sleep(0.001)
                await message.ack()

            tag = await mine.consume(on)
            await asyncio.sleep(0.3)
            await mine.cancel(tag)
            await asyncio.sleep(0.3)  # the consumer's channel is still open
            unseen = left = 0
            while (message := await queue.get(no_ack=True, fail=False)) is not None:
                left += 1
                unseen += message.redelivered and message.message_id not in seen
        await queue.delete(if_unused=False, if_empty=False)
    return {"received": len(seen), "left": left, "redelivered_never_received": unseen}


async def main(trials: int = 5) -> None:
    vhost = await create_vhost("docbus-probe")
    try:
        for n in range(trials):
            print(f"trial {n}: {await trial(RABBIT_BASE + vhost, n)}")
    finally:
        await delete_vhost(vhost)


if __name__ == "__main__":
    asyncio.run(main())
