"""The fuzzing tier: generated and mutated messages from a hostile publisher against a
real worker (its own database, vhost and Valkey database). See tests/fuzz/oracle.py for
what each message must get, and run.py for the checks after each one.

``make test`` runs a short fixed-seed run; ``make fuzz`` a long random one
(``DOCBUS_FUZZ_EXAMPLES``, default 100 here, 3000 there; ``DOCBUS_FUZZ_PROFILE=fuzz``
also shrinks a failure to its smallest message and keeps it in .hypothesis/).
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from docbus.consumers.topology import ROUTES
from tests.fuzz.harness import Harness
from tests.fuzz.oracle import Violation
from tests.fuzz.run import ConsumerLost, check_health, run_case, run_pair, unique
from tests.fuzz.strategies import cases, raw_cases, reuse_pairs
from tests.fuzz.world import World, fresh_document

pytestmark = pytest.mark.e2e

EXAMPLES = int(os.environ.get("DOCBUS_FUZZ_EXAMPLES", "100"))
QUIET = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
         HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile(
    "ci", max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
    phases=[Phase.explicit, Phase.generate], suppress_health_check=QUIET,
)
settings.register_profile(
    "fuzz", max_examples=EXAMPLES, deadline=None, suppress_health_check=QUIET,
    print_blob=True,
)
PROFILE = settings.get_profile(os.environ.get("DOCBUS_FUZZ_PROFILE", "ci"))
# DOCBUS_FUZZ_SURVEY=1: record every violation instead of stopping at the first, and
# fail at the end with all of them (which properties fail, how often, one example each).
SURVEY = os.environ.get("DOCBUS_FUZZ_SURVEY") == "1"
FOUND: list[tuple[str, str]] = []


@pytest.fixture(scope="session")
async def consumers_at_start(harness: Harness, world: World) -> set[tuple[str, str]]:
    tags = await harness.consumer_tags()
    assert {q for q, _ in tags} >= {r.queue for r in ROUTES}, tags
    return tags


@settings(PROFILE)
@given(data=st.data())
async def test_every_message_is_refused_or_answered_correctly(
    harness: Harness, world: World, consumers_at_start: set[tuple[str, str]], data: st.DataObject
) -> None:
    try:
        kind = data.draw(st.sampled_from(["pair", "raw", *["case"] * 8]), label="kind")
        if kind == "pair":  # two messages, one message_id
            await run_pair(harness, world, *data.draw(reuse_pairs(world), label="pair"))
        else:
            case = data.draw(raw_cases(world) if kind == "raw" else cases(world), label="case")
            await run_case(harness, world, unique(case, os.urandom(8).hex()))
    except Violation as error:
        if not SURVEY:
            raise
        FOUND.append((type(error).__name__, str(error)[:700]))


async def test_the_worker_is_whole_after_the_run(
    harness: Harness, world: World, consumers_at_start: set[tuple[str, str]]
) -> None:
    """Whatever came before: nothing left in the queues, no consumer was ever replaced
    (a new tag means it was lost and came back), and a valid command is served."""
    for _ in range(100):
        waiting = [(await harness.admin.declare_queue(r.queue, passive=True))
                   .declaration_result.message_count for r in ROUTES]
        if not any(waiting):
            break
        await asyncio.sleep(0.1)
    for route in ROUTES:
        await harness.sentinel(route.routing_key)
    await asyncio.sleep(0.5)
    await check_health(harness)
    if (now := await harness.consumer_tags()) != consumers_at_start:
        gone, new = consumers_at_start - now, now - consumers_at_start
        raise ConsumerLost(f"consumers were replaced: gone {gone}, new {new}")
    _, doc = await fresh_document(harness, world)  # a folder create and an upload served
    got = await harness.request("document.get", {"doc_id": doc, "user_id": world.id("alice")})
    assert got["ok"] and got["data"]["doc_id"] == doc, got
    member = {"org_id": world.churn_org, "user_id": world.id("mallory"), "role": "member"}
    assert (await harness.request("org.member.set", member)) == {"ok": True, "data": member}
    if FOUND:
        counts = Counter(name for name, _ in FOUND)
        first = dict(reversed(FOUND))
        raise AssertionError("the survey found:\n" + "\n".join(
            f"{name} x{n}: {first[name]}" for name, n in counts.most_common()))

