"""Reply shapes: exactly the contract's field names, timestamps in RFC 3339 UTC with a Z.

The field lists below are quoted from the contract ("Replies' data"); the tests compare
key sets, so a field added, dropped or renamed on either side fails here.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from docbus.core.entities import Document, DocumentPage, DocumentVersion, Folder, Membership, Share
from docbus.core.values import OrgRole, Role
from docbus.core.views import (
    document_view,
    document_with_versions_view,
    folder_view,
    membership_view,
    page_view,
    share_view,
    timestamp,
)
from tests.unit.conftest import content

DOCUMENT = (
    "Document: `doc_id`, `org_id`, `folder_id`, `owner_id`, `name`, `mime_type`, `version`,"
    " `blob_uri`, `size_bytes`, `sha256`, `tags`, `created_at`, `updated_at`."
    # contract v2, "Replies' new data"
    " Document: also `trashed_at`."
)
VERSION = (
    "`versions`: a list of `{version, blob_uri, name, mime_type, size_bytes, sha256,"
    " uploaded_by, uploaded_at}`, oldest first."
)
FOLDER = "Folder: `folder_id`, `org_id`, `parent_id`, `name`, `path`. Folder: also `trashed_at`."
SHARE = (
    "Share: `doc_id`, `user_id`, `role` (null after a revoke)."
    " Share: also `expires_at` (null: no expiry)."  # contract v2
)
MEMBERSHIP = "Membership: `org_id`, `user_id`, `role` (null after a remove)."
LISTING = (
    "FolderListing: `folder_id`, `documents` (Documents the reader may read, newest"
    " `updated_at` first), `next_cursor` (null on the last page)."
)

RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")
T0 = datetime(2026, 11, 24, 10, 0, 0, 123456, tzinfo=UTC)


def fields(quote: str) -> set[str]:
    """The field names a contract sentence lists (backticked, or inside a {...} literal)."""
    if "{" in quote:
        return set(re.findall(r"[a-z0-9_]+", quote[quote.index("{") : quote.index("}")]))
    return set(re.findall(r"`([a-z0-9_]+)`", re.sub(r"\([^)]*\)", "", quote)))


def _doc() -> tuple[Document, list[DocumentVersion]]:
    folder = Folder.root("f1", "acme", "reports")
    doc, v1 = Document.create("d1", folder, "alice", content(), T0)
    doc2, v2 = doc.revise(content("v2.pdf", size_bytes=None, sha256=None), "bob", T0)
    return doc2, [v1, v2]


def test_the_quoted_contract_lists_are_read_whole() -> None:
    counts = [len(fields(q)) for q in (DOCUMENT, VERSION, FOLDER, SHARE, MEMBERSHIP, LISTING)]
    assert counts == [14, 8, 6, 4, 3, 3]


def test_a_document_reply_has_exactly_the_contract_fields() -> None:
    assert set(document_view(_doc()[0])) == fields(DOCUMENT)


def test_a_document_get_reply_adds_versions_with_exactly_the_contract_fields() -> None:
    doc, versions = _doc()
    view = document_with_versions_view(doc, versions)
    assert set(view) == fields(DOCUMENT) | {"versions"}
    assert [set(v) for v in view["versions"]] == [fields(VERSION)] * 2
    assert [v["version"] for v in view["versions"]] == [1, 2]


def test_a_folder_reply_has_exactly_the_contract_fields() -> None:
    view = folder_view(Folder.root("f1", "acme", "reports"))
    assert set(view) == fields(FOLDER)
    assert view["parent_id"] is None


def test_a_share_reply_has_exactly_the_contract_fields_and_role_null_after_revoke() -> None:
    assert share_view(Share("d1", "bob", Role.EDITOR)) == {
        "doc_id": "d1", "user_id": "bob", "role": "editor", "expires_at": None,
    }
    assert set(share_view(Share("d1", "bob", None))) == fields(SHARE)
    assert share_view(Share("d1", "bob", None))["role"] is None


def test_a_membership_reply_has_exactly_the_contract_fields_and_role_null_after_remove() -> None:
    assert membership_view(Membership("acme", "bob", OrgRole.ADMIN)) == {
        "org_id": "acme", "user_id": "bob", "role": "admin",
    }
    assert set(membership_view(Membership("acme", "bob", None))) == fields(MEMBERSHIP)
    assert membership_view(Membership("acme", "bob", None))["role"] is None


def test_a_listing_reply_has_exactly_the_contract_fields() -> None:
    view = page_view(DocumentPage("f1", (_doc()[0],), None))
    assert set(view) == fields(LISTING)
    assert view["next_cursor"] is None
    assert [set(d) for d in view["documents"]] == [fields(DOCUMENT)]


def test_document_values_are_json_ready() -> None:
    view = document_view(_doc()[0])
    assert view["tags"] == ["q3"]
    assert (view["version"], view["owner_id"], view["name"]) == (2, "alice", "v2.pdf")
    assert (view["size_bytes"], view["sha256"]) == (None, None)


def test_every_timestamp_in_replies_is_rfc3339_utc_ending_in_z() -> None:
    doc, versions = _doc()
    view = document_with_versions_view(doc, versions)
    stamps = [view["created_at"], view["updated_at"], *(v["uploaded_at"] for v in view["versions"])]
    assert all(RFC3339_UTC.match(s) for s in stamps), stamps
    assert view["created_at"] == "2026-11-24T10:00:00.123456Z"


def test_a_timestamp_in_another_zone_is_converted_to_utc() -> None:
    at = datetime(2026, 11, 24, 12, 30, tzinfo=timezone(timedelta(hours=2)))
    assert timestamp(at) == "2026-11-24T10:30:00.000000Z"
    assert datetime.fromisoformat(timestamp(at)) == at
