"""One case (or a scenario of a few) through the worker, and every check of the tier:
the answer, the dead letters, the existence twin, the health of the worker."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import replace
from typing import Any

from tests.fuzz.cases import Case
from tests.fuzz.harness import Harness
from tests.fuzz.oracle import (
    Expect,
    NotAnswered,
    Violation,
    asked_us,
    check_answer,
    check_letters,
    code_of,
    envelope,
    expect,
)
from tests.fuzz.world import World

REFUSAL_WAIT = 10.0  # a refused message's dead letter is confirmed before its reply
QUIET_WAIT = 0.2  # after the sentinel: time for a late dead letter to show up


class ExistenceLeak(Violation): ...
class BrokenRule(Violation): ...
class ConsumerLost(Violation): ...
class WorkerDied(Violation): ...
class DuplicateAnsweredDifferently(Violation): ...


# (field naming the object, field naming the actor, which world map holds the object)
TWINS = {
    "document.upload": ("folder_id", "owner_id", "folders"),
    "folder.create": ("parent_id", "actor_id", "folders"),
    "document.share": ("doc_id", "shared_by", "docs"),
    "document.unshare": ("doc_id", "revoked_by", "docs"),
    **{f"document.{verb}": ("doc_id", "user_id", "docs") for verb in
       ("get", "rename", "move", "revert", "trash", "restore", "purge")},
    **{f"folder.{verb}": ("folder_id", "user_id", "folders") for verb in
       ("list", "children", "rename", "move", "trash", "restore", "purge")},
}


def fit(text: str, limit: int = 255) -> str:
    """At most ``limit`` UTF-8 bytes (AMQP short strings), cut at a character."""
    return text.encode()[:limit].decode(errors="ignore")


def unique(case: Case, message_prefix: str) -> Case:
    """Generated message_id and correlation_id are suffixes: a prefix makes them unique at
    run time (a message_id reused by accident would be answered from the inbox).

    A message without message_id cannot be sent with aio-pika: aiormq gives every publish
    without one (or with "") a random one, from ``random``, which Hypothesis seeds alike
    for every example: the same id again and again. A raw sender can (see cases.py)."""
    correlation = case.correlation_id
    return replace(case, message_id=fit(message_prefix + (case.message_id or "")),
                   correlation_id=None if correlation is None
                   else fit(uuid.uuid4().hex + correlation))


async def run_case(harness: Harness, world: World, case: Case, *,
                   settle: float = QUIET_WAIT, twin: bool = True) -> dict[str, Any] | None:
    """Send the case and check everything; the reply's envelope if it came to us. A
    failure also names what the dead-letter watch saw meanwhile (it belongs to this case
    or to one just before; left alone it would fail the next test instead)."""
    try:
        return await _run_case(harness, world, case, settle, twin)
    except Violation as error:
        if seen := harness.dead.take_violations():
            error.args = (f"{error}\nmeanwhile in docbus.dead:\n" + "\n".join(seen)[:2000],)
        raise


async def _run_case(
    harness: Harness, world: World, case: Case, settle: float, twin: bool
) -> dict[str, Any] | None:
    verdict, _ = expect(case, world)
    trace = uuid.uuid4().hex
    reply = await harness.send(case, trace)
    if asked_us(case) and reply is None:
        raise NotAnswered(f"{case.note}: no reply")
    body = envelope(case, reply) if reply is not None else None
    if body is not None:
        check_answer(case, verdict, body)
    refused = verdict is Expect.INVALID or (body is not None and code_of(body) == "invalid")
    wait = REFUSAL_WAIT if refused else settle if body is None else 0.05
    letters = await harness.dead.letters(trace, wait)
    if verdict is Expect.EITHER and body is None:
        refused = bool(letters)
    check_letters(case, refused, letters)
    if (case.reply_to or "").startswith("docbus."):  # a stray answer takes another round
        await asyncio.sleep(settle)
    if twin and body is not None and verdict is Expect.VALID:
        await check_twin(harness, world, case, code_of(body))
    await check_health(harness, case.route)
    return body


async def check_twin(harness: Harness, world: World, case: Case, code: str) -> None:
    """A stranger to an object's org gets the same answer as for an object that does not
    exist: no answer may reveal that another org has it."""
    if case.route not in TWINS:
        return
    ref, actor, where = TWINS[case.route]
    body = json.loads(case.body)
    objects: dict[str, str] = getattr(world, where)
    if body.get(ref) not in objects or not world.stranger(body[actor], objects[body[ref]]):
        return
    twin = await harness.request(case.route, {**body, ref: f"ghost-{uuid.uuid4().hex}"})
    if code_of(twin) != code:
        raise ExistenceLeak(f"{case.route} {body!r}: {code} for {objects[body[ref]]}'s "
                            f"{body[ref]}, {code_of(twin)} for one that does not exist")


async def check_health(harness: Harness, route: str | None = None) -> None:
    """No broken rule seen in docbus.dead, the worker alive, and consumers on every queue
    (on the route's own and the audit queue only, after a case: a lost connection takes
    them all; the run's end checks every queue and that no consumer was ever replaced)."""
    if broken := harness.dead.take_violations():
        raise BrokenRule("\n".join(broken)[:2000])
    lost = [q for q, n in (await harness.consumer_counts(route)).items() if n < 1]
    if lost:
        raise ConsumerLost(f"no consumer on {lost}")
    if not harness.worker_alive():
        raise WorkerDied("the worker process exited")


async def run_pair(harness: Harness, world: World, first: Case, second: Case) -> None:
    """Two messages with one message_id: a duplicate gets the same reply; anything else
    must be answered about itself (run_case checks that), never with the other's reply.
    (No existence twin for the second: a reused message_id may be refused as a conflict,
    which its twin, with a message_id of its own, is not.)"""
    prefix = uuid.uuid4().hex
    one = await run_case(harness, world, unique(first, prefix))
    two = await run_case(harness, world, unique(second, prefix), twin=False)
    duplicate = (first.route, first.body) == (second.route, second.body)
    if duplicate and one is not None and two is not None and one != two:
        raise DuplicateAnsweredDifferently(f"{one!r} then {two!r}")
