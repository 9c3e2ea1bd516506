"""core.decisions.AccessDecider on Cerbos (DOCBUS_ACCESS_DECIDER=cerbos), over gRPC with the
official SDK's async client.

- Rules: the policies in deploy/cerbos/policies (docs/access-policies.md). This adapter
  passes facts, never verdicts: the principal's org role as its role, the instant of the
  decision (``P.attr.now``), and on the resource the user's grants (``R.attr.doc_role``,
  ``R.attr.doc_expires_at``, ``R.attr.folder_grants``).
- One CheckResources call per user in a batch (a group's questions by the same user go
  together; different users' calls run concurrently).
- Listings: one PlanResources call (action ``read`` on kind ``document``) with the
  folder's grants known, so the plan's residual condition is over the document share
  alone (adapters.postgres.access_filter turns it into SQL).
- Fail closed: Cerbos unreachable, slow or failing raises Unavailable (the command is
  retried within its budget, then answered ``unavailable``); a result that does not
  answer an action allows nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, cast

import grpc
from cerbos.effect.v1 import effect_pb2
from cerbos.engine.v1 import engine_pb2
from cerbos.request.v1 import request_pb2
from cerbos.response.v1 import response_pb2
from cerbos.sdk.grpc.client import AsyncCerbosClient
from google.protobuf import struct_pb2
from google.protobuf.json_format import MessageToDict, ParseDict

from docbus.core.access import Grant
from docbus.core.decisions import Kind, Question, ReadableFilter
from docbus.core.errors import Unavailable
from docbus.core.values import ALL_CAPABILITIES, Capability, OrgRole

ACTIONS = [c.value for c in sorted(ALL_CAPABILITIES)]
NOT_A_MEMBER = "nonmember"
Plan = response_pb2.PlanResourcesResponse


# gRPC's reconnect backoff grows to 120 s by default: Cerbos back after an outage would
# stay unused for up to two minutes. Capped at 1 s, docbus decides again within a second.
RECONNECT = {
    "grpc.initial_reconnect_backoff_ms": 100,
    "grpc.min_reconnect_backoff_ms": 100,
    "grpc.max_reconnect_backoff_ms": 1000,
}


def connect(address: str) -> AsyncCerbosClient:
    """A client that fails fast when Cerbos is down (no waiting for a connection) and
    finds it again within a second of its return.

    Its own ``timeout_secs`` is not used: with this grpcio, a service-config deadline of
    a second or less failed every call at once with DEADLINE_EXCEEDED (measured); the
    decider bounds each call itself."""
    return AsyncCerbosClient(address, wait_for_ready=False, channel_options=RECONNECT)


class CerbosDecider:
    def __init__(
        self, client: AsyncCerbosClient, now: Callable[[], datetime], *, timeout: float = 1.0
    ) -> None:
        self._client = client
        self._now = now
        self._timeout = timeout

    async def decide(self, questions: Sequence[Question]) -> list[frozenset[Capability]]:
        now = self._now()
        by_user: dict[tuple[str, str], list[int]] = {}
        for i, q in enumerate(questions):
            by_user.setdefault((q.user_id, _role(q)), []).append(i)
        answers = await asyncio.gather(
            *(self._check([questions[i] for i in at], now) for at in by_user.values())
        )
        decided: list[frozenset[Capability]] = [frozenset()] * len(questions)
        for at, answer in zip(by_user.values(), answers, strict=True):
            for i, capabilities in zip(at, answer, strict=True):
                decided[i] = capabilities
        return decided

    async def readable(self, folder: Question) -> ReadableFilter:
        resource = engine_pb2.PlanResourcesInput.Resource(
            kind="document", attr={"folder_grants": _value(_grants(folder.folder_grants))}
        )
        plan = await self._call(self._client.plan_resources(
            "read", _principal(folder, self._now()), resource
        ))
        return readable_of(plan)

    async def anywhere(
        self, user_id: str, org_role: OrgRole | None, kind: Kind, capability: Capability
    ) -> ReadableFilter:
        """A plan with nothing of the resource known: over every grant of the user."""
        question = Question(user_id, kind, "", org_role)
        plan = await self._call(self._client.plan_resources(
            capability.value, _principal(question, self._now()),
            engine_pb2.PlanResourcesInput.Resource(kind=kind),
        ))
        return readable_of(plan)

    async def _check(
        self, questions: list[Question], now: datetime
    ) -> list[frozenset[Capability]]:
        entries = [
            request_pb2.CheckResourcesRequest.ResourceEntry(actions=ACTIONS, resource=_resource(q))
            for q in questions
        ]
        principal = _principal(questions[0], now)
        reply = await self._call(self._client.check_resources(principal, entries))
        if len(reply.results) != len(questions):
            raise Unavailable("cerbos answered another number of resources than asked")
        return [_allowed(q, r) for q, r in zip(questions, reply.results, strict=True)]

    async def _call(self, call: Any) -> Any:
        """The RPC's reply; Unavailable for any failure to get one in time (fail closed)."""
        try:
            async with asyncio.timeout(self._timeout):
                return await call
        except TimeoutError as error:
            raise Unavailable(f"cerbos: no answer within {self._timeout} s") from error
        except grpc.aio.AioRpcError as error:
            raise Unavailable(f"cerbos: {error.code().name}: {error.details()}") from error


def readable_of(plan: Plan) -> ReadableFilter:
    kind = plan.filter.kind
    if kind == engine_pb2.PlanResourcesFilter.KIND_ALWAYS_ALLOWED:
        return ReadableFilter("all")
    if kind == engine_pb2.PlanResourcesFilter.KIND_CONDITIONAL:
        return ReadableFilter("plan", MessageToDict(plan.filter.condition))
    return ReadableFilter("none")  # always denied, or a kind this adapter does not know


def _allowed(question: Question, result: Any) -> frozenset[Capability]:
    if result.resource.id != question.resource_id:
        raise Unavailable("cerbos answered about another resource than asked")
    allow = effect_pb2.EFFECT_ALLOW
    return frozenset(c for c in ALL_CAPABILITIES if result.actions.get(c.value) == allow)


def _role(question: Question) -> str:
    return question.org_role.value if question.org_role is not None else NOT_A_MEMBER


def _principal(question: Question, now: datetime) -> engine_pb2.Principal:
    return engine_pb2.Principal(
        id=question.user_id, roles=[_role(question)], attr={"now": _value(now.isoformat())}
    )


def _resource(question: Question) -> engine_pb2.Resource:
    attr = {"folder_grants": _value(_grants(question.folder_grants))}
    if question.kind == "document":
        share = question.document_grant
        attr["doc_role"] = _value(share.role.value if share else "")
        attr["doc_expires_at"] = _value(_instant(share.expires_at if share else None))
    return engine_pb2.Resource(kind=question.kind, id=question.resource_id, attr=attr)


def _grants(grants: Sequence[Grant]) -> list[dict[str, str | None]]:
    return [{"role": g.role.value, "expires_at": _instant(g.expires_at)} for g in grants]


def _instant(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def _value(data: object) -> struct_pb2.Value:
    value = struct_pb2.Value()
    ParseDict(cast(Any, data), value)
    return value
