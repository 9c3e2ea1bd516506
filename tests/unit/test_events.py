"""Events: each one's routing key on doc.events and its body, field for field as the contract
lists them ("Events out")."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from docbus.core.entities import Document, Folder
from docbus.core.events import (
    DocumentShared,
    DocumentUnshared,
    DocumentUploaded,
    DomainEvent,
    FolderCreated,
    MembershipChanged,
)
from docbus.core.values import OrgRole, Role
from docbus.core.views import document_view, folder_view
from tests.unit.conftest import content

AT = datetime(2026, 11, 24, 10, 0, 0, 500000, tzinfo=UTC)
AT_TEXT = "2026-11-24T10:00:00.500000Z"
ENVELOPE = {"event_id", "type", "org_id", "occurred_at"}
FOLDER = Folder.root("f1", "acme", "reports")
DOC = Document.create("d1", FOLDER, "alice", content(), AT)[0]
COMMON = {"event_id": "e1", "org_id": "acme", "occurred_at": AT}


def _shared(role: Role) -> DocumentShared:
    return DocumentShared(
        **COMMON, document_id="d1", shared_with="bob", shared_by="alice", role=role
    )


def test_every_body_starts_with_the_envelope_fields() -> None:
    body = FolderCreated(**COMMON, folder=FOLDER).body()
    assert {k: body[k] for k in ENVELOPE} == {
        "event_id": "e1", "type": "FolderCreated", "org_id": "acme", "occurred_at": AT_TEXT,
    }


@pytest.mark.parametrize("role", list(Role))
def test_document_shared_routes_by_role_and_carries_the_seed_fields(role: Role) -> None:
    event = _shared(role)
    assert event.routing_key == f"document.shared.{role.value}"
    assert event.body() == {
        "event_id": "e1", "type": "DocumentShared", "org_id": "acme", "occurred_at": AT_TEXT,
        "document_id": "d1", "shared_with": "bob", "shared_by": "alice",
        "role": role.value, "expires_at": None, "at": AT_TEXT,  # expires_at: contract v2
    }


def test_document_uploaded_carries_the_document_and_the_uploader() -> None:
    event = DocumentUploaded(**COMMON, document=DOC, uploaded_by="bob")
    assert event.routing_key == "document.uploaded"
    assert event.body() == {
        "event_id": "e1", "type": "DocumentUploaded", "org_id": "acme", "occurred_at": AT_TEXT,
        "document": document_view(DOC), "uploaded_by": "bob",
    }


def test_document_unshared_carries_document_user_and_revoker() -> None:
    event = DocumentUnshared(**COMMON, document_id="d1", user_id="bob", revoked_by="alice")
    assert event.routing_key == "document.unshared"
    assert event.body() == {
        "event_id": "e1", "type": "DocumentUnshared", "org_id": "acme", "occurred_at": AT_TEXT,
        "document_id": "d1", "user_id": "bob", "revoked_by": "alice",
    }


def test_folder_created_carries_the_folder() -> None:
    event = FolderCreated(**COMMON, folder=FOLDER)
    assert event.routing_key == "folder.created"
    assert event.body() == {
        "event_id": "e1", "type": "FolderCreated", "org_id": "acme", "occurred_at": AT_TEXT,
        "folder": folder_view(FOLDER),
    }


@pytest.mark.parametrize(("role", "text"), [(OrgRole.ADMIN, "admin"), (None, None)])
def test_membership_changed_carries_user_and_role_null_when_removed(
    role: OrgRole | None, text: str | None
) -> None:
    event = MembershipChanged(**COMMON, user_id="bob", role=role)
    assert event.routing_key == "org.member.changed"
    assert event.body() == {
        "event_id": "e1", "type": "MembershipChanged", "org_id": "acme", "occurred_at": AT_TEXT,
        "user_id": "bob", "role": text,
    }


ALL_EVENTS: list[DomainEvent] = [
    FolderCreated(**COMMON, folder=FOLDER),
    DocumentUploaded(**COMMON, document=DOC, uploaded_by="alice"),
    _shared(Role.OWNER),
    DocumentUnshared(**COMMON, document_id="d1", user_id="bob", revoked_by="alice"),
    MembershipChanged(**COMMON, user_id="bob", role=None),
]


@pytest.mark.parametrize("event", ALL_EVENTS, ids=lambda e: e.type)
def test_every_body_is_plain_json_with_utc_z_timestamps(event: DomainEvent) -> None:
    text = json.dumps(event.body())
    stamps = re.findall(r'"(\d{4}-\d\d-\d\dT[^"]*)"', text)
    assert stamps
    assert all(s.endswith("Z") for s in stamps)
    assert json.loads(text) == event.body()
