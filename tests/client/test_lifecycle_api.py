"""The typed methods of contract v2's lifecycle: the bodies they send and the models
they return (against a stand-in responder on RabbitMQ)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from docbus_client import DocbusClient, Document, Folder, FolderChildren, Purged, TrashListing
from tests.client.responder import Responder
from tests.client.test_typed_api import NOW, document, ok

pytestmark = pytest.mark.integration

FOLDER = {"folder_id": "f1", "org_id": "o1", "parent_id": None, "name": "Docs",
          "path": "/Docs", "trashed_at": None}
Call = Callable[[DocbusClient], Awaitable[Any]]

CASES: list[tuple[str, Call, dict[str, Any], dict[str, Any], type]] = [
    ("document.rename", lambda c: c.rename_document("d1", "u1", "n.pdf"),
     {"doc_id": "d1", "user_id": "u1", "name": "n.pdf"}, document("d1"), Document),
    ("document.move", lambda c: c.move_document("d1", "u1", "f2"),
     {"doc_id": "d1", "user_id": "u1", "folder_id": "f2"}, document("d1"), Document),
    ("document.revert", lambda c: c.revert_document("d1", "u1", 1),
     {"doc_id": "d1", "user_id": "u1", "version": 1}, document("d1"), Document),
    ("document.trash", lambda c: c.trash_document("d1", "u1"),
     {"doc_id": "d1", "user_id": "u1"}, document("d1", trashed_at=NOW), Document),
    ("document.restore", lambda c: c.restore_document("d1", "u1"),
     {"doc_id": "d1", "user_id": "u1"}, document("d1", trashed_at=None), Document),
    ("document.purge", lambda c: c.purge_document("d1", "u1"),
     {"doc_id": "d1", "user_id": "u1"},
     {"doc_id": "d1", "documents": 1, "blob_uris": ["s3://b/d1"]}, Purged),
    ("folder.rename", lambda c: c.rename_folder("f1", "u1", "Docs"),
     {"folder_id": "f1", "user_id": "u1", "name": "Docs"}, FOLDER, Folder),
    ("folder.move", lambda c: c.move_folder("f1", "u1", None),
     {"folder_id": "f1", "user_id": "u1", "parent_id": None}, FOLDER, Folder),
    ("folder.trash", lambda c: c.trash_folder("f1", "u1"),
     {"folder_id": "f1", "user_id": "u1"}, {**FOLDER, "trashed_at": NOW}, Folder),
    ("folder.restore", lambda c: c.restore_folder("f1", "u1"),
     {"folder_id": "f1", "user_id": "u1"}, FOLDER, Folder),
    ("folder.purge", lambda c: c.purge_folder("f1", "u1"),
     {"folder_id": "f1", "user_id": "u1"},
     {"folder_id": "f1", "documents": 3, "blob_uris": []}, Purged),
    ("folder.children", lambda c: c.folder_children("o1", None, "u1", limit=2),
     {"org_id": "o1", "folder_id": None, "user_id": "u1", "limit": 2},
     {"org_id": "o1", "folder_id": None, "folders": [FOLDER], "next_cursor": None},
     FolderChildren),
    ("trash.list", lambda c: c.list_trash("o1", "u1", cursor="c1"),
     {"org_id": "o1", "user_id": "u1", "cursor": "c1"},
     {"items": [{"kind": "document", "document": document("d1", trashed_at=NOW),
                 "trashed_by": "u1", "trashed_at": NOW}], "next_cursor": None},
     TrashListing),
]


@pytest.mark.parametrize(("key", "call", "body", "data", "model"), CASES,
                         ids=[c[0] for c in CASES])
async def test_each_lifecycle_method_sends_its_body_and_parses_its_reply(
    docbus: DocbusClient, responder: Responder, key: str, call: Call, body: dict[str, Any],
    data: dict[str, Any], model: type,
) -> None:
    responder.answer(key, lambda _: ok(data))
    result = await call(docbus)
    message = responder.received[-1]
    assert (message.routing_key, orjson.loads(message.body)) == (key, body)
    assert isinstance(result, model) and result.raw == data


async def test_trashed_at_is_parsed_where_the_reply_has_one(
    docbus: DocbusClient, responder: Responder
) -> None:
    responder.answer("trash.list", lambda _: ok(CASES[-1][3]))
    listing = await docbus.list_trash("o1", "u1")
    [item] = listing.items
    at = datetime(2026, 11, 24, 10, 0, 0, 123456, tzinfo=UTC)
    assert item.trashed_at == at and item.document is not None
    assert item.document.trashed_at == at and item.folder is None
