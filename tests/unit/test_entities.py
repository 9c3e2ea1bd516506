"""Entities: folder paths, and how a document moves from one version to the next."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from docbus.core.entities import Document, Folder
from tests.unit.conftest import content

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def test_a_root_folder_has_no_parent_and_a_path_of_its_name() -> None:
    folder = Folder.root("f1", "acme", "reports")
    assert folder == Folder("f1", "acme", None, "reports", "/reports")


def test_a_child_folder_lives_in_its_parents_org_under_its_parents_path() -> None:
    child = Folder.root("f1", "acme", "reports").child("f2", "2026")
    grandchild = child.child("f3", "q3")
    assert child == Folder("f2", "acme", "f1", "2026", "/reports/2026", ("f1",))
    assert grandchild == Folder("f3", "acme", "f2", "q3", "/reports/2026/q3", ("f1", "f2"))


def test_creating_a_document_gives_version_1_by_the_uploader() -> None:
    folder = Folder.root("f1", "acme", "reports")
    doc, version = Document.create("d1", folder, "alice", content(), T0)
    assert (doc.org_id, doc.folder_id, doc.owner_id, doc.version) == ("acme", "f1", "alice", 1)
    assert doc.created_at == doc.updated_at == T0
    assert (version.doc_id, version.version, version.uploaded_by) == ("d1", 1, "alice")
    assert version.uploaded_at == T0
    assert version.content == doc.content


def _doc() -> Document:
    return Document.create("d1", Folder.root("f1", "acme", "r"), "alice", content(), T0)[0]


def test_a_revision_keeps_org_folder_creator_and_creation_time() -> None:
    new = content("v2.pdf", tags=())
    doc, version = _doc().revise(new, "bob", T0 + timedelta(minutes=5))
    assert (doc.doc_id, doc.org_id, doc.folder_id, doc.owner_id) == ("d1", "acme", "f1", "alice")
    assert doc.created_at == T0
    assert (doc.version, doc.content, doc.updated_at) == (2, new, T0 + timedelta(minutes=5))
    assert (version.version, version.uploaded_by, version.content) == (2, "bob", new)


def test_a_revision_with_a_clock_behind_never_moves_updated_at_backwards() -> None:
    later = _doc().revise(content(), "bob", T0 + timedelta(hours=1))[0]
    doc, version = later.revise(content(), "bob", T0)  # another worker's clock is behind
    assert doc.updated_at == version.uploaded_at == T0 + timedelta(hours=1)
    assert doc.version == 3


def test_a_document_is_in_its_own_org_and_folder_only() -> None:
    doc = _doc()
    assert doc.is_in("acme", "f1")
    assert not doc.is_in("acme", "f2")
    assert not doc.is_in("globex", "f1")
