"""The typed methods: the bodies they send and the models they return."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from docbus_client import DocbusClient, Document, Folder, FolderListing, Membership, Share
from tests.client.responder import Responder

pytestmark = pytest.mark.integration

NOW = "2026-11-24T10:00:00.123456Z"


def document(doc_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "doc_id": doc_id,
        "org_id": "o1",
        "folder_id": "f1",
        "owner_id": "u1",
        "name": f"{doc_id}.pdf",
        "mime_type": "application/pdf",
        "version": 1,
        "blob_uri": f"s3://b/{doc_id}",
        "size_bytes": None,
        "sha256": None,
        "tags": ["a"],
        "created_at": NOW,
        "updated_at": "2026-11-24T10:00:01+00:00",
        **extra,
    }


def ok(data: dict[str, Any]) -> dict[str, Any]:
    return {"ok": True, "data": data}


def sent(responder: Responder) -> tuple[str | None, dict[str, Any]]:
    message = responder.received[-1]
    return message.routing_key, orjson.loads(message.body)


async def test_create_folder_sends_a_create_folder_and_returns_a_folder(
    docbus: DocbusClient, responder: Responder
) -> None:
    responder.answer("folder.create", lambda b: ok({**b, "path": "/Docs"}))
    folder = await docbus.create_folder("f1", "o1", "Docs", "u1", message_id="mk-1")
    assert sent(responder) == (
        "folder.create",
        {
            "folder_id": "f1",
            "org_id": "o1",
            "parent_id": None,
            "name": "Docs",
            "actor_id": "u1",
        },
    )
    assert folder == Folder("f1", "o1", None, "Docs", "/Docs", raw={})
    assert folder.raw["path"] == "/Docs"
    assert responder.received[-1].message_id == "mk-1"


async def test_upload_document_omits_absent_optionals_and_parses_the_document(
    docbus: DocbusClient, responder: Responder
) -> None:
    responder.answer("document.upload", lambda b: ok(document(b["doc_id"])))
    doc = await docbus.upload_document(
        "d1", "o1", "f1", "u1", "d1.pdf", "application/pdf", "s3://b/d1", tags=["a"]
    )
    assert sent(responder)[1] == {
        "doc_id": "d1",
        "org_id": "o1",
        "folder_id": "f1",
        "owner_id": "u1",
        "name": "d1.pdf",
        "mime_type": "application/pdf",
        "blob_uri": "s3://b/d1",
        "tags": ["a"],
    }
    assert isinstance(doc, Document)
    assert doc.created_at == datetime(2026, 11, 24, 10, 0, 0, 123456, tzinfo=UTC)
    assert doc.updated_at.tzinfo is not None
    assert doc.tags == ("a",)
    assert doc.versions is None


async def test_upload_document_sends_size_and_digest_when_given(
    docbus: DocbusClient, responder: Responder
) -> None:
    responder.answer("document.upload", lambda b: ok(document(b["doc_id"])))
    await docbus.upload_document(
        "d1",
        "o1",
        "f1",
        "u1",
        "d1.pdf",
        "application/pdf",
        "s3://b/d1",
        size_bytes=10,
        sha256="ab" * 32,
    )
    body = sent(responder)[1]
    assert (body["size_bytes"], body["sha256"], body["tags"]) == (10, "ab" * 32, [])


async def test_get_document_returns_its_versions(
    docbus: DocbusClient, responder: Responder
) -> None:
    version = {
        "version": 1,
        "blob_uri": "s3://b/d1",
        "name": "d1.pdf",
        "mime_type": "application/pdf",
        "size_bytes": 3,
        "sha256": None,
        "uploaded_by": "u1",
        "uploaded_at": NOW,
    }
    responder.answer("document.get", lambda b: ok(document("d1", versions=[version])))
    doc = await docbus.get_document("d1", "u1")
    assert sent(responder) == ("document.get", {"doc_id": "d1", "user_id": "u1"})
    assert doc.versions is not None
    assert [(v.version, v.uploaded_by, v.size_bytes) for v in doc.versions] == [(1, "u1", 3)]


async def test_share_and_revoke_return_shares(docbus: DocbusClient, responder: Responder) -> None:
    responder.answer(
        "document.share",
        lambda b: ok({"doc_id": b["doc_id"], "user_id": b["shared_with"], "role": b["role"]}),
    )
    responder.answer(
        "document.unshare",
        lambda b: ok({"doc_id": b["doc_id"], "user_id": b["user_id"], "role": None}),
    )
    share = await docbus.share_document("d1", "u1", "u2", "editor")
    assert sent(responder)[1] == {
        "doc_id": "d1",
        "shared_by": "u1",
        "shared_with": "u2",
        "role": "editor",
    }
    revoked = await docbus.revoke_share("d1", "u1", "u2")
    assert sent(responder) == (
        "document.unshare",
        {"doc_id": "d1", "revoked_by": "u1", "user_id": "u2"},
    )
    assert (share, revoked) == (Share("d1", "u2", "editor", {}), Share("d1", "u2", None, {}))


async def test_memberships_are_set_and_removed(docbus: DocbusClient, responder: Responder) -> None:
    responder.answer("org.member.set", ok)
    responder.answer("org.member.remove", lambda b: ok({**b, "role": None}))
    member = await docbus.set_membership("o1", "u1", "admin")
    assert sent(responder) == ("org.member.set", {"org_id": "o1", "user_id": "u1", "role": "admin"})
    removed = await docbus.remove_membership("o1", "u1")
    assert sent(responder) == ("org.member.remove", {"org_id": "o1", "user_id": "u1"})
    assert (member.role, removed.role) == ("admin", None)
    assert isinstance(removed, Membership)


def paged_folder(body: dict[str, Any]) -> dict[str, Any]:
    """Five documents, served ``limit`` at a time with the next index as the cursor."""
    start, limit = int(body.get("cursor") or 0), body.get("limit", 50)
    end = min(start + limit, 5)
    return ok(
        {
            "folder_id": body["folder_id"],
            "documents": [document(f"d{i}") for i in range(start, end)],
            "next_cursor": str(end) if end < 5 else None,
        }
    )


async def test_list_folder_returns_one_page(docbus: DocbusClient, responder: Responder) -> None:
    responder.answer("folder.list", paged_folder)
    page = await docbus.list_folder("f1", "u1", limit=2)
    assert sent(responder)[1] == {"folder_id": "f1", "user_id": "u1", "limit": 2}
    assert isinstance(page, FolderListing)
    assert ([d.doc_id for d in page.documents], page.next_cursor) == (["d0", "d1"], "2")


async def test_iter_folder_follows_next_cursor_to_the_end(
    docbus: DocbusClient, responder: Responder
) -> None:
    responder.answer("folder.list", paged_folder)
    doc_ids = [doc.doc_id async for doc in docbus.iter_folder("f1", "u1", limit=2)]
    assert doc_ids == ["d0", "d1", "d2", "d3", "d4"]
    cursors = [orjson.loads(m.body).get("cursor") for m in responder.received]
    assert cursors == [None, "2", "4"]
