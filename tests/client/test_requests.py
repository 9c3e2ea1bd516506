"""request(): concurrency, correlation, timeouts, duplicates, AMQP properties."""

from __future__ import annotations

import asyncio
import random
import uuid

import pytest

from docbus_client import DIRECT_REPLY_TO, DocbusClient, DocbusTimeout
from tests.client.conftest import eventually
from tests.client.responder import Responder

pytestmark = pytest.mark.integration


async def test_200_concurrent_requests_each_get_their_own_reply(
    docbus: DocbusClient, responder: Responder
) -> None:
    rng = random.Random(7)
    bodies = [{"n": n, "_delay": rng.choice([0, 0, 0.01, 0.05, 0.2])} for n in range(200)]
    replies = await asyncio.gather(*(docbus.request("echo.test", body) for body in bodies))
    assert [reply.unwrap()["echo"]["n"] for reply in replies] == list(range(200))
    assert docbus.in_flight == 0


async def test_replies_out_of_order_reach_the_right_request(
    docbus: DocbusClient, responder: Responder
) -> None:
    slow = asyncio.create_task(docbus.request("echo.test", {"who": "slow", "_delay": 0.3}))
    fast = await docbus.request("echo.test", {"who": "fast"})
    assert fast.unwrap()["echo"]["who"] == "fast"
    assert not slow.done()
    assert (await slow).unwrap()["echo"]["who"] == "slow"


async def test_duplicate_replies_are_dropped_and_counted(
    docbus: DocbusClient, responder: Responder
) -> None:
    replies = await asyncio.gather(
        *(docbus.request("echo.test", {"n": n, "_dup": 2}) for n in range(10))
    )
    assert [reply.unwrap()["echo"]["n"] for reply in replies] == list(range(10))
    await eventually(lambda: docbus.dropped_replies == 20)
    assert docbus.in_flight == 0


async def test_no_reply_raises_docbus_timeout_and_forgets_the_request(
    docbus: DocbusClient, responder: Responder
) -> None:
    with pytest.raises(DocbusTimeout) as caught:
        await docbus.request("echo.test", {"_silent": True}, timeout=0.2)
    assert caught.value.code == "timeout"
    assert isinstance(caught.value, TimeoutError)
    assert docbus.in_flight == 0


async def test_many_timeouts_leak_no_futures(docbus: DocbusClient, responder: Responder) -> None:
    results = await asyncio.gather(
        *(docbus.request("echo.test", {"_silent": True}, timeout=0.1) for _ in range(50)),
        return_exceptions=True,
    )
    assert all(isinstance(result, DocbusTimeout) for result in results)
    assert docbus.in_flight == 0


async def test_a_late_reply_is_dropped_after_its_timeout(
    docbus: DocbusClient, responder: Responder
) -> None:
    with pytest.raises(DocbusTimeout):
        await docbus.request("echo.test", {"_delay": 0.3}, timeout=0.05)
    await eventually(lambda: docbus.dropped_replies == 1)
    assert (await docbus.request("echo.test", {"after": True})).unwrap()["echo"]["after"]


async def test_the_per_call_timeout_overrides_the_client_default(
    docbus: DocbusClient, responder: Responder
) -> None:
    assert docbus.timeout == 5.0
    started = asyncio.get_running_loop().time()
    with pytest.raises(DocbusTimeout):
        await docbus.request("echo.test", {"_silent": True}, timeout=0.1)
    assert asyncio.get_running_loop().time() - started < 4.0


async def test_a_cancelled_request_forgets_its_future(
    docbus: DocbusClient, responder: Responder
) -> None:
    task = asyncio.create_task(docbus.request("echo.test", {"_silent": True}))
    await eventually(lambda: docbus.in_flight == 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert docbus.in_flight == 0


async def test_the_callers_message_id_is_passed_through(
    docbus: DocbusClient, responder: Responder
) -> None:
    reply = await docbus.request("echo.test", {}, message_id="cmd-42")
    assert reply.message_id == "cmd-42"
    assert responder.received[-1].message_id == "cmd-42"


async def test_a_message_id_is_generated_when_none_is_given(
    docbus: DocbusClient, responder: Responder
) -> None:
    first = await docbus.request("echo.test", {})
    second = await docbus.request("echo.test", {})
    assert uuid.UUID(first.message_id).version == 4
    assert first.message_id != second.message_id
    assert [m.message_id for m in responder.received] == [first.message_id, second.message_id]


async def test_a_command_carries_the_contracts_amqp_properties(
    docbus: DocbusClient, responder: Responder
) -> None:
    await docbus.request("folder.create", {"folder_id": "f1"})
    message = responder.received[-1]
    assert message.routing_key == "folder.create"
    assert message.content_type == "application/json"
    assert message.delivery_mode == 2
    assert message.reply_to is not None
    assert message.reply_to.startswith(DIRECT_REPLY_TO)
    assert message.correlation_id
    assert message.body == b'{"folder_id":"f1"}'
