"""The typed methods of contract v2's sharing: the bodies they send and the models they
return (against a stand-in responder on RabbitMQ)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest

from docbus_client import DocbusClient, Explanation, FolderShare, Share, SharedWithMe, ShareList
from tests.client.responder import Responder
from tests.client.test_typed_api import ok

pytestmark = pytest.mark.integration

UNTIL = datetime(2026, 12, 4, 17, 0, tzinfo=UTC)
UNTIL_TEXT = "2026-12-04T17:00:00Z"
PARIS = timezone(timedelta(hours=1))
GRANT = {"source": "folder", "role": "viewer", "folder_id": "f1", "expires_at": UNTIL_TEXT}
Call = Callable[[DocbusClient], Awaitable[Any]]

CASES: list[tuple[str, Call, dict[str, Any], dict[str, Any], type]] = [
    ("folder.share",
     lambda c: c.share_folder("f1", "u1", "u2", "viewer", expires_at=UNTIL.astimezone(PARIS)),
     {"folder_id": "f1", "shared_by": "u1", "shared_with": "u2", "role": "viewer",
      "expires_at": UNTIL_TEXT},
     {"folder_id": "f1", "user_id": "u2", "role": "viewer", "expires_at": UNTIL_TEXT},
     FolderShare),
    ("folder.unshare", lambda c: c.unshare_folder("f1", "u1", "u2"),
     {"folder_id": "f1", "revoked_by": "u1", "user_id": "u2"},
     {"folder_id": "f1", "user_id": "u2", "role": None, "expires_at": None}, FolderShare),
    ("document.share",
     lambda c: c.share_document("d1", "u1", "u2", "editor", expires_at=UNTIL),
     {"doc_id": "d1", "shared_by": "u1", "shared_with": "u2", "role": "editor",
      "expires_at": UNTIL_TEXT},
     {"doc_id": "d1", "user_id": "u2", "role": "editor", "expires_at": UNTIL_TEXT}, Share),
    ("document.shares", lambda c: c.document_shares("d1", "u1"),
     {"doc_id": "d1", "user_id": "u1"},
     {"doc_id": "d1", "shares": [{"user_id": "u2", **GRANT}]}, ShareList),
    ("access.explain", lambda c: c.explain_access("d1", "u1", about="u2"),
     {"doc_id": "d1", "user_id": "u1", "about": "u2"},
     {"doc_id": "d1", "user_id": "u2", "role": "viewer", "capabilities": ["read"],
      "grants": [GRANT]}, Explanation),
    ("shared.with_me", lambda c: c.shared_with_me("o1", "u2", limit=3),
     {"org_id": "o1", "user_id": "u2", "limit": 3},
     {"items": [{"kind": "folder", "folder": {"folder_id": "f1", "org_id": "o1",
                 "parent_id": None, "name": "Docs", "path": "/Docs", "trashed_at": None},
                 "role": "viewer", "shared_by": "u1", "shared_at": UNTIL_TEXT,
                 "expires_at": None}], "next_cursor": None}, SharedWithMe),
]


@pytest.mark.parametrize(("key", "call", "body", "data", "model"), CASES,
                         ids=[c[0] for c in CASES])
async def test_each_sharing_method_sends_its_body_and_parses_its_reply(
    docbus: DocbusClient, responder: Responder, key: str, call: Call, body: dict[str, Any],
    data: dict[str, Any], model: type,
) -> None:
    responder.answer(key, lambda _: ok(data))
    result = await call(docbus)
    message = responder.received[-1]
    assert (message.routing_key, orjson.loads(message.body)) == (key, body)
    assert isinstance(result, model) and result.raw == data


async def test_expiries_are_parsed_and_naive_ones_refused(
    docbus: DocbusClient, responder: Responder
) -> None:
    explained = next(case[3] for case in CASES if case[0] == "access.explain")
    responder.answer("access.explain", lambda _: ok(explained))
    explanation = await docbus.explain_access("d1", "u1")
    assert explanation.grants[0].expires_at == UNTIL
    assert explanation.capabilities == ("read",)
    with pytest.raises(ValueError, match="timezone-aware"):
        await docbus.share_folder("f1", "u1", "u2", "viewer", expires_at=datetime(2026, 12, 4))
