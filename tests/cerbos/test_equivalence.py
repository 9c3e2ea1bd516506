"""Equivalence of the deciders: the model-based generator of the access model test
(tests/unit/test_access_model.py: random org trees, memberships, document and folder
shares with and without expiry, moves, trashes, time passing) drives the built-in decider
and Cerbos (the real server, docbus's policies) side by side.

After every step, every user's question about every document and folder (with every
grant gathered, expired ones included) gets the same capabilities from both, and those
of the reference model; and docbus itself, wired to Cerbos, answers gets, listings,
explanations and share lists exactly as the reference model does.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from docbus.adapters.cerbos_decider import CerbosDecider, connect
from docbus.adapters.memory_tree import document_grants, folder_grants
from docbus.core.decisions import BuiltInDecider, Question
from docbus.devtools.embedded_cerbos import EmbeddedCerbos
from tests.unit.access_reference import CAPABILITIES, RANKS
from tests.unit.test_access_model import CHECKED, USERS, Run, step

COMPARED = {"questions": 0}


def _questions(run: Run) -> list[Question]:
    state = run.db.state
    asked = []
    for user in USERS:
        for doc_id, document in state.documents.items():
            grants = tuple(document_grants(state, doc_id, user))
            org_role = state.memberships.get((document.org_id, user))
            asked.append(Question(user, "document", doc_id, org_role, grants))
        for folder_id, folder in state.folders.items():
            grants = tuple(folder_grants(state, folder_id, user))
            org_role = state.memberships.get((folder.org_id, user))
            asked.append(Question(user, "folder", folder_id, org_role, grants))
    return asked


def _model_role(run: Run, question: Question) -> str | None:
    if question.kind == "document":
        return run.model.role_on_document(question.user_id, question.resource_id)
    org = run.model.folder_org[question.resource_id]
    member = run.model.members.get((org, question.user_id))
    if member is None:
        return None
    if member == "admin":
        return "owner"
    roles = [run.model.counts(run.model.folder_shares.get((f, question.user_id)))
             for f in run.model.chain(question.resource_id)]
    held = [r for r in roles if r is not None]
    return max(held, key=lambda r: RANKS[r]) if held else None


async def _compare(run: Run, cerbos: CerbosDecider) -> None:
    questions = _questions(run)
    built_in = await BuiltInDecider(run.clock.now).decide(questions)
    by_cerbos = await cerbos.decide(questions)
    for question, ours, theirs in zip(questions, built_in, by_cerbos, strict=True):
        assert ours == theirs, (question, ours, theirs)
        expected = CAPABILITIES[_model_role(run, question)]
        assert {c.value for c in theirs} == expected, (question, theirs, expected)
    COMPARED["questions"] += len(questions)


def _run(address: str, steps: list[tuple[tuple[Any, ...], int]]) -> None:
    async def go() -> None:
        client = connect(address)
        try:
            run = Run()
            # the world's clock: the model's time
            cerbos = CerbosDecider(client, run.clock.now, timeout=5.0)
            run.db.decider = cerbos
            await run.seed()
            for op, seconds in steps:
                await run.apply(op)
                await _compare(run, cerbos)
                await run.check()  # docbus on Cerbos against the reference model
                if seconds:
                    await run.apply(("tick", seconds))
                    await _compare(run, cerbos)
        finally:
            await client.close()
    asyncio.run(go())


def test_cerbos_decides_as_the_built_in_decider_and_the_model(
    cerbos_server: EmbeddedCerbos,
) -> None:
    @settings(max_examples=40, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(step, min_size=1, max_size=12))
    def matches(steps: list[tuple[tuple[Any, ...], int]]) -> None:
        _run(cerbos_server.address, steps)

    before, answers = COMPARED["questions"], CHECKED["cases"]
    matches()
    compared, answered = COMPARED["questions"] - before, CHECKED["cases"] - answers
    print(f"deciders compared on {compared} random questions (built-in = Cerbos = model);"
          f" docbus on Cerbos gave the model's answer {answered} times")
    assert compared >= 2000
    assert answered >= 2000
