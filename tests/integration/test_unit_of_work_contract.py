"""The persistence ports' contract, run over the in-memory fakes and PostgreSQL alike.

Every test here runs twice, once per adapter set, so the fake the unit tests rely on
cannot drift from the real thing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from docbus.adapters.memory import (
    InMemoryAuditLog,
    InMemoryDatabase,
    InMemoryMissedInvalidations,
    InMemoryOutbox,
    InMemoryUnitOfWorkFactory,
)
from docbus.adapters.postgres import (
    PgAuditLog,
    PgGroupedUnitFactory,
    PgMissedInvalidations,
    PgOutbox,
    PgUnitOfWorkFactory,
)
from docbus.core.cursor import Cursor
from docbus.core.entities import Content, Document, DocumentVersion, Folder, Membership
from docbus.core.errors import FolderIdTaken, FolderNameTaken, Unavailable
from docbus.core.events import FolderCreated, MembershipChanged
from docbus.core.idempotency import IdempotencyKey, MessageIdReused, StoredReply
from docbus.core.lifecycle import FolderAccess
from docbus.core.ports import (
    AuditEntry,
    AuditLog,
    GroupedUnitFactory,
    MissedInvalidations,
    Outbox,
    UnitOfWorkFactory,
)
from docbus.core.reads import Reads
from docbus.core.values import OrgRole, Role

# Readers of a listing, as tree.find gives them (no folder share: an admin reads all).
ADMIN_READER = FolderAccess("anyone", OrgRole.ADMIN, None)
MEMBER_READER = FolderAccess("reader", OrgRole.MEMBER, None)

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@dataclass
class Adapters:
    kind: str
    uow: UnitOfWorkFactory
    grouped: GroupedUnitFactory
    outbox: Outbox
    audit: AuditLog
    misses: MissedInvalidations
    uid: str

    def id(self, name: str) -> str:
        """An id unique to this test (PostgreSQL is shared by the whole session)."""
        return f"{self.uid}-{name}"

    def key(
        self, message_id: str, sender: str = "svc", routing_key: str = "x.do", body: bytes = b"{}"
    ) -> IdempotencyKey:
        """An idempotency key whose message_id is unique to this test."""
        return IdempotencyKey.of(sender, self.id(message_id), routing_key, body)


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.integration)])
def adapters(request: pytest.FixtureRequest, uid: str) -> Adapters:
    if request.param == "memory":
        db = InMemoryDatabase()
        fake = InMemoryUnitOfWorkFactory(db)
        return Adapters(
            "memory",
            fake,
            fake.grouped,
            InMemoryOutbox(db),
            InMemoryAuditLog(),
            InMemoryMissedInvalidations(),
            uid,
        )
    pg = request.getfixturevalue("pg_db")
    return Adapters(
        "postgres",
        PgUnitOfWorkFactory(pg),
        PgGroupedUnitFactory(pg),
        PgOutbox(pg),
        PgAuditLog(pg),
        PgMissedInvalidations(pg),
        uid,
    )


def content(name: str) -> Content:
    return Content(f"{name}.pdf", "application/pdf", f"s3://bucket/{name}", ("a", "b"), 10, None)


def new_document(folder: Folder, doc_id: str, at: datetime) -> tuple[Document, DocumentVersion]:
    return Document.create(doc_id, folder, "owner", content(doc_id), at)


def folder_created(a: Adapters, folder: Folder, n: int = 1) -> FolderCreated:
    return FolderCreated(
        event_id=a.id(f"evt{n}"), org_id=folder.org_id, occurred_at=T0, folder=folder
    )


async def given_folder(a: Adapters, name: str = "root") -> Folder:
    folder = Folder.root(a.id(name), a.id("org"), name)
    async with a.uow() as uow:
        await uow.folders.add(folder)
        await uow.commit()
    return folder


async def given_documents(a: Adapters, folder: Folder, *docs: tuple[str, int]) -> None:
    """Documents (name, seconds after T0) in the folder, committed."""
    async with a.uow() as uow:
        for name, seconds in docs:
            assert await uow.documents.add(
                *new_document(folder, a.id(name), T0 + timedelta(seconds=seconds))
            )
        await uow.commit()


# Units of work


async def test_a_unit_left_without_commit_leaves_no_trace(adapters: Adapters) -> None:
    folder = Folder.root(adapters.id("f"), adapters.id("org"), "root")
    async with adapters.uow() as uow:
        await uow.folders.add(folder)
        await uow.memberships.put(Membership(adapters.id("org"), "u1", OrgRole.MEMBER))
        uow.emit(folder_created(adapters, folder), ["f:x"])
    async with adapters.uow(read_only=True) as uow:
        assert await uow.folders.get(folder.folder_id) is None
        assert await uow.memberships.role_of(adapters.id("org"), "u1") is None
    async with adapters.outbox.claim(10) as batch:
        assert batch.messages == []


async def test_a_unit_whose_block_raises_leaves_no_trace(adapters: Adapters) -> None:
    folder = Folder.root(adapters.id("f"), adapters.id("org"), "root")

    async def add_then_fail() -> None:
        async with adapters.uow() as uow:
            await uow.folders.add(folder)
            raise LookupError

    with pytest.raises(LookupError):
        await add_then_fail()
    async with adapters.uow(read_only=True) as uow:
        assert await uow.folders.get(folder.folder_id) is None


async def test_committed_writes_are_seen_by_later_units(adapters: Adapters) -> None:
    folder = await given_folder(adapters)
    async with adapters.uow(read_only=True) as uow:
        assert await uow.folders.get(folder.folder_id) == folder


async def test_a_read_only_unit_cannot_commit(adapters: Adapters) -> None:
    async with adapters.uow(read_only=True) as uow:
        with pytest.raises(RuntimeError):
            await uow.commit()


async def test_committed_events_land_in_the_outbox_in_order_with_scopes(
    adapters: Adapters,
) -> None:
    folder = Folder.root(adapters.id("f"), adapters.id("org"), "root")
    events = [
        folder_created(adapters, folder, 1),
        MembershipChanged(
            event_id=adapters.id("evt2"),
            org_id=folder.org_id,
            occurred_at=T0,
            user_id="u1",
            role=None,
        ),
    ]
    async with adapters.uow() as uow:
        uow.emit(events[0], ["f:1", "d:1"])
        uow.emit(events[1], ["u:1"])
        await uow.commit()
    async with adapters.outbox.claim(10) as batch:
        messages = batch.messages
    assert [m.event_id for m in messages] == [e.event_id for e in events]
    assert [m.routing_key for m in messages] == ["folder.created", "org.member.changed"]
    assert [m.scopes for m in messages] == [("f:1", "d:1"), ("u:1",)]
    assert [json.loads(m.body) for m in messages] == [e.body() for e in events]
    assert messages[0].id < messages[1].id
    assert all(m.created_at.tzinfo is not None for m in messages)


async def test_events_emitted_around_the_inbox_row_reach_the_outbox_once_in_order(
    adapters: Adapters,
) -> None:
    folder = Folder.root(adapters.id("f"), adapters.id("org"), "root")
    async with adapters.uow() as uow:
        uow.emit(folder_created(adapters, folder, 1), ["f:1"])
        assert await uow.inbox.record(adapters.key("m1"), b'{"ok":true}', uow.scopes)
        uow.emit(folder_created(adapters, folder, 2), ["f:2"])
        await uow.commit()
    async with adapters.outbox.claim(10) as batch:
        assert [m.event_id for m in batch.messages] == [adapters.id("evt1"), adapters.id("evt2")]


async def test_a_unit_refused_by_the_inbox_publishes_nothing(adapters: Adapters) -> None:
    folder = Folder.root(adapters.id("f"), adapters.id("org"), "root")
    async with adapters.uow() as uow:
        assert await uow.inbox.record(adapters.key("m1"), b'{"ok":true}', [])
        await uow.commit()
    async with adapters.uow() as uow:
        uow.emit(folder_created(adapters, folder), ["f:1"])
        assert not await uow.inbox.record(adapters.key("m1"), b'{"ok":true}', uow.scopes)
    async with adapters.outbox.claim(10) as batch:
        assert batch.messages == []


async def test_scopes_are_those_of_the_emitted_events_without_repeats(
    adapters: Adapters,
) -> None:
    folder = Folder.root(adapters.id("f"), adapters.id("org"), "root")
    async with adapters.uow() as uow:
        assert not uow.scopes
        uow.emit(folder_created(adapters, folder, 1), ["f:1", "u:1"])
        uow.emit(folder_created(adapters, folder, 2), ["u:1", "d:1"])
        assert uow.scopes == ("f:1", "u:1", "d:1")


async def test_scopes_still_answer_after_commit(adapters: Adapters) -> None:
    """A caller may still ask a committed unit which scopes it changed."""
    folder = Folder.root(adapters.id("f"), adapters.id("org"), "root")
    async with adapters.uow() as uow:
        uow.emit(folder_created(adapters, folder), ["f:1"])
        await uow.commit()
        assert uow.scopes == ("f:1",)


# Folders


async def test_a_taken_folder_id_is_a_conflict(adapters: Adapters) -> None:
    folder = await given_folder(adapters)
    clash = Folder.root(folder.folder_id, adapters.id("org"), "other")
    with pytest.raises(FolderIdTaken):
        async with adapters.uow() as uow:
            await uow.folders.add(clash)


async def test_a_taken_sibling_name_is_a_conflict_among_roots(adapters: Adapters) -> None:
    await given_folder(adapters, "root")
    with pytest.raises(FolderNameTaken):
        async with adapters.uow() as uow:
            await uow.folders.add(Folder.root(adapters.id("other"), adapters.id("org"), "root"))


async def test_a_taken_sibling_name_is_a_conflict_under_a_parent(adapters: Adapters) -> None:
    parent = await given_folder(adapters)
    async with adapters.uow() as uow:
        await uow.folders.add(parent.child(adapters.id("c1"), "docs"))
        await uow.commit()
    with pytest.raises(FolderNameTaken):
        async with adapters.uow() as uow:
            await uow.folders.add(parent.child(adapters.id("c2"), "docs"))


async def test_the_same_name_elsewhere_is_fine(adapters: Adapters) -> None:
    parent = await given_folder(adapters, "docs")
    other_org = Folder.root(adapters.id("f2"), adapters.id("org2"), "docs")
    child = parent.child(adapters.id("c1"), "docs")
    async with adapters.uow() as uow:
        await uow.folders.add(other_org)
        await uow.folders.add(child)
        await uow.commit()
    async with adapters.uow(read_only=True) as uow:
        assert await uow.folders.get(child.folder_id) == child
        assert await uow.folders.get(other_org.folder_id) == other_org


# Documents


async def test_a_new_document_is_stored_with_its_first_version(adapters: Adapters) -> None:
    folder = await given_folder(adapters)
    document, version = new_document(folder, adapters.id("d1"), T0)
    async with adapters.uow() as uow:
        assert await uow.documents.add(document, version)
        await uow.commit()
    async with adapters.uow(read_only=True) as uow:
        assert await uow.documents.get(document.doc_id) == document
        assert await uow.documents.versions(document.doc_id) == [version]
        assert await uow.documents.get(adapters.id("nope")) is None
        assert await uow.documents.versions(adapters.id("nope")) == []


async def test_adding_an_existing_doc_id_stores_nothing_and_the_unit_goes_on(
    adapters: Adapters,
) -> None:
    folder = await given_folder(adapters)
    await given_documents(adapters, folder, ("d1", 0))
    again = new_document(folder, adapters.id("d1"), T0 + timedelta(hours=1))
    async with adapters.uow() as uow:
        assert not await uow.documents.add(*again)
        await uow.shares.put(adapters.id("d1"), "u1", Role.VIEWER)
        await uow.commit()
    async with adapters.uow(read_only=True) as uow:
        stored = await uow.documents.get(adapters.id("d1"))
        assert stored is not None
        assert stored.created_at == T0
        assert len(await uow.documents.versions(adapters.id("d1"))) == 1
        assert await uow.shares.role_of(adapters.id("d1"), "u1") is Role.VIEWER


async def test_a_new_version_becomes_current_and_joins_the_history(adapters: Adapters) -> None:
    folder = await given_folder(adapters)
    first = new_document(folder, adapters.id("d1"), T0)
    revised = first[0].revise(content("v2"), "editor", T0 + timedelta(minutes=5))
    async with adapters.uow() as uow:
        await uow.documents.add(*first)
        await uow.commit()
    async with adapters.uow() as uow:
        assert await uow.documents.lock(adapters.id("d1")) == first[0]
        await uow.documents.add_version(*revised)
        await uow.commit()
    async with adapters.uow(read_only=True) as uow:
        assert await uow.documents.get(adapters.id("d1")) == revised[0]
        assert await uow.documents.versions(adapters.id("d1")) == [first[1], revised[1]]


async def test_locking_a_missing_document_gives_none(adapters: Adapters) -> None:
    async with adapters.uow() as uow:
        assert await uow.documents.lock(adapters.id("nope")) is None


async def test_a_page_lists_newest_first_with_doc_id_breaking_ties(adapters: Adapters) -> None:
    folder = await given_folder(adapters)
    await given_documents(adapters, folder, ("a", 1), ("b", 3), ("c", 3), ("d", 2))
    async with adapters.uow(read_only=True) as uow:
        page = await uow.documents.page(
            folder.folder_id, ADMIN_READER, limit=10, after=None
        )
    assert [d.doc_id for d in page] == [adapters.id(n) for n in ("c", "b", "d", "a")]


async def test_a_page_continues_strictly_after_its_cursor(adapters: Adapters) -> None:
    folder = await given_folder(adapters)
    await given_documents(adapters, folder, ("a", 1), ("b", 3), ("c", 3), ("d", 2), ("e", 0))
    async with adapters.uow(read_only=True) as uow:
        first = await uow.documents.page(
            folder.folder_id, ADMIN_READER, limit=2, after=None
        )
        after = Cursor(first[-1].updated_at, first[-1].doc_id)
        second = await uow.documents.page(
            folder.folder_id, ADMIN_READER, limit=2, after=after
        )
        last = Cursor(second[-1].updated_at, second[-1].doc_id)
        third = await uow.documents.page(
            folder.folder_id, ADMIN_READER, limit=2, after=last
        )
    names = [d.doc_id for d in first + second + third]
    assert names == [adapters.id(n) for n in ("c", "b", "d", "a", "e")]


async def test_a_page_shows_a_member_only_what_they_hold_a_role_on(adapters: Adapters) -> None:
    folder = await given_folder(adapters)
    await given_documents(adapters, folder, ("a", 1), ("b", 2), ("c", 3))
    async with adapters.uow() as uow:
        await uow.shares.put(adapters.id("a"), "reader", Role.VIEWER)
        await uow.shares.put(adapters.id("c"), "reader", Role.OWNER)
        await uow.shares.put(adapters.id("b"), "someone-else", Role.OWNER)
        await uow.commit()
    async with adapters.uow(read_only=True) as uow:
        mine = await uow.documents.page(
            folder.folder_id, MEMBER_READER, limit=10, after=None
        )
        after_c = Cursor(mine[0].updated_at, mine[0].doc_id)
        rest = await uow.documents.page(
            folder.folder_id, MEMBER_READER, limit=10, after=after_c
        )
        everything = await uow.documents.page(
            folder.folder_id, ADMIN_READER, limit=10, after=None
        )
    assert [d.doc_id for d in mine] == [adapters.id("c"), adapters.id("a")]
    assert [d.doc_id for d in rest] == [adapters.id("a")]
    assert len(everything) == 3


async def test_a_folder_is_read_with_the_readers_role_in_its_org(adapters: Adapters) -> None:
    folder = await given_folder(adapters)
    async with adapters.uow() as uow:
        await uow.memberships.put(Membership(folder.org_id, "admin", OrgRole.ADMIN))
        await uow.memberships.put(Membership("another-org", "outsider", OrgRole.ADMIN))
        await uow.commit()
    async with adapters.uow(read_only=True) as uow:
        assert await uow.folders.get_with_role(folder.folder_id, "admin") == (
            folder,
            OrgRole.ADMIN,
        )
        assert await uow.folders.get_with_role(folder.folder_id, "outsider") == (folder, None)
        assert await uow.folders.get_with_role(adapters.id("nope"), "admin") == (None, None)


async def test_a_document_is_read_with_what_the_reader_holds_on_it(adapters: Adapters) -> None:
    folder = await given_folder(adapters)
    await given_documents(adapters, folder, ("a", 1))
    doc_id = adapters.id("a")
    async with adapters.uow() as uow:
        await uow.memberships.put(Membership(folder.org_id, "ed", OrgRole.MEMBER))
        await uow.shares.put(doc_id, "ed", Role.EDITOR)
        await uow.shares.put(doc_id, "gone", Role.OWNER)
        await uow.commit()
    async with adapters.uow() as uow:
        document, ed = await uow.documents.get_with_access(doc_id, "ed", lock=True)
        _, gone = await uow.documents.get_with_access(doc_id, "gone")
        missing, nobody = await uow.documents.get_with_access(adapters.id("x"), "ed")
    assert document is not None and document.doc_id == doc_id
    assert (ed.org_role, ed.doc_role) == (OrgRole.MEMBER, Role.EDITOR)
    assert (gone.org_role, gone.doc_role, gone.capabilities) == (None, Role.OWNER, frozenset())
    assert missing is None and nobody.capabilities == frozenset()


async def test_a_page_keeps_to_its_folder(adapters: Adapters) -> None:
    here = await given_folder(adapters, "here")
    there = await given_folder(adapters, "there")
    await given_documents(adapters, here, ("a", 1))
    await given_documents(adapters, there, ("b", 2))
    async with adapters.uow(read_only=True) as uow:
        page = await uow.documents.page(here.folder_id, ADMIN_READER, limit=10, after=None)
        empty = await uow.documents.page(
            adapters.id("nowhere"), ADMIN_READER, limit=10, after=None
        )
    assert [d.doc_id for d in page] == [adapters.id("a")]
    assert empty == []


# Memberships and shares


async def test_putting_a_membership_returns_the_role_held_before(adapters: Adapters) -> None:
    org = adapters.id("org")
    async with adapters.uow() as uow:
        assert await uow.memberships.put(Membership(org, "u1", OrgRole.MEMBER)) is None
        assert await uow.memberships.put(Membership(org, "u1", OrgRole.ADMIN)) is OrgRole.MEMBER
        await uow.commit()
    async with adapters.uow() as uow:
        assert await uow.memberships.role_of(org, "u1") is OrgRole.ADMIN
        assert await uow.memberships.role_of(org, "u2") is None
        assert await uow.memberships.put(Membership(org, "u1", None)) is OrgRole.ADMIN
        assert await uow.memberships.put(Membership(org, "u1", None)) is None
        await uow.commit()
    async with adapters.uow(read_only=True) as uow:
        assert await uow.memberships.role_of(org, "u1") is None


async def test_shares_are_granted_replaced_revoked_and_owners_counted(
    adapters: Adapters,
) -> None:
    folder = await given_folder(adapters)
    await given_documents(adapters, folder, ("d1", 0))
    doc = adapters.id("d1")
    async with adapters.uow() as uow:
        await uow.shares.put(doc, "u1", Role.OWNER)
        await uow.shares.put(doc, "u2", Role.VIEWER)
        await uow.shares.put(doc, "u2", Role.OWNER)
        await uow.shares.put(doc, "u3", Role.EDITOR)
        await uow.commit()
    async with adapters.uow() as uow:
        assert await uow.shares.owners(doc) == 2
        assert await uow.shares.role_of(doc, "u2") is Role.OWNER
        await uow.shares.put(doc, "u2", None)
        await uow.shares.put(doc, "nobody", None)
        assert await uow.shares.role_of(doc, "u2") is None
        assert await uow.shares.owners(doc) == 1
        assert await uow.shares.role_of(doc, "u3") is Role.EDITOR
        assert await uow.shares.owners(adapters.id("nope")) == 0


# Inbox


async def test_the_inbox_keeps_a_reply_and_refuses_a_second_one(adapters: Adapters) -> None:
    key = adapters.key("m1")
    reply = b'{"ok":true,"data":{"tags":["a"],"folder_id":"f1","size":null}}'
    async with adapters.uow() as uow:
        assert await uow.inbox.find(key) is None
        assert await uow.inbox.record(key, reply, ["f:1", "u:2"])
        await uow.commit()
    async with adapters.uow() as uow:
        assert not await uow.inbox.record(key, b'{"ok":false}', [])
    async with adapters.uow(read_only=True) as uow:
        stored = await uow.inbox.find(key)
    assert stored == StoredReply(reply, ("f:1", "u:2"), "x.do", key.fingerprint)
    assert stored.refusal(key) is None


async def test_the_inbox_slot_is_the_message_id_of_one_sender(adapters: Adapters) -> None:
    mine, theirs = adapters.key("m1", sender="a"), adapters.key("m1", sender="b")
    async with adapters.uow() as uow:
        assert await uow.inbox.record(mine, b"1", [])
        assert await uow.inbox.record(theirs, b"2", [])
        await uow.commit()
    async with adapters.uow(read_only=True) as uow:
        found = [await uow.inbox.find(k) for k in (mine, theirs)]
    assert [f.reply for f in found if f is not None] == [b"1", b"2"]


async def test_another_command_under_a_taken_key_finds_the_row_and_is_refused(
    adapters: Adapters,
) -> None:
    first = adapters.key("m1", routing_key="document.upload", body=b'{"doc_id":"a"}')
    other_body = adapters.key("m1", routing_key="document.upload", body=b'{"doc_id":"b"}')
    other_route = adapters.key("m1", routing_key="org.member.set", body=b'{"doc_id":"a"}')
    async with adapters.uow() as uow:
        assert await uow.inbox.record(first, b"secret", [])
        await uow.commit()
    for key in (other_body, other_route):
        async with adapters.uow() as uow:
            assert not await uow.inbox.record(key, b"mine", [])
            stored = await uow.inbox.find(key)
        assert stored is not None
        assert isinstance(stored.refusal(key), MessageIdReused)


# Grouped units: whatever they defer, they commit what a plain unit commits, or nothing


async def test_a_grouped_unit_commits_its_writes_events_and_inbox_rows(
    adapters: Adapters,
) -> None:
    folder = await given_folder(adapters)
    doc_id, key = adapters.id("d1"), adapters.key("m1")
    async with adapters.grouped() as unit:
        await unit.read_ahead(Reads(new_documents=(doc_id,), folder_roles=(
            (folder.folder_id, "owner"),
        )))
        assert await unit.documents.add(*new_document(folder, doc_id, T0))
        await unit.shares.put(doc_id, "u2", Role.EDITOR)
        assert await unit.shares.role_of(doc_id, "u2") is Role.EDITOR
        unit.emit(folder_created(adapters, folder), ["f:1"])
        assert await unit.inbox.record(key, b"1", ["f:1"])
        await unit.commit()
    async with adapters.uow(read_only=True) as uow:
        assert await uow.documents.get(doc_id) is not None
        assert await uow.shares.role_of(doc_id, "u2") is Role.EDITOR
        stored = await uow.inbox.find(key)
    assert stored is not None and stored.reply == b"1"
    async with adapters.outbox.claim(10) as batch:
        assert [m.event_id for m in batch.messages] == [adapters.id("evt1")]


async def test_a_grouped_unit_never_commits_under_a_taken_key(adapters: Adapters) -> None:
    """The key's refusal may come at record() or be deferred to commit(); either way the
    unit's writes and events are not committed."""
    key = adapters.key("m1")
    async with adapters.uow() as uow:
        assert await uow.inbox.record(key, b"first", [])
        await uow.commit()
    folder = Folder.root(adapters.id("f"), adapters.id("org"), "root")
    async with adapters.grouped() as unit:
        await unit.folders.add(folder)
        unit.emit(folder_created(adapters, folder), ["f:1"])
        if await unit.inbox.record(key, b"second", []):
            with pytest.raises(Unavailable):
                await unit.commit()
    async with adapters.uow(read_only=True) as uow:
        assert await uow.folders.get(folder.folder_id) is None
        stored = await uow.inbox.find(key)
    assert stored is not None and stored.reply == b"first"
    async with adapters.outbox.claim(10) as batch:
        assert batch.messages == []


# Outbox


async def given_events(a: Adapters, count: int) -> list[str]:
    folder = Folder.root(a.id("f"), a.id("org"), "root")
    async with a.uow() as uow:
        for n in range(count):
            uow.emit(folder_created(a, folder, n), [f"s:{n}"])
        await uow.commit()
    return [a.id(f"evt{n}") for n in range(count)]


async def test_two_claims_never_hold_the_same_message(adapters: Adapters) -> None:
    events = await given_events(adapters, 3)
    async with adapters.outbox.claim(2) as first, adapters.outbox.claim(10) as second:
        assert [m.event_id for m in first.messages] == events[:2]
        assert [m.event_id for m in second.messages] == events[2:]


async def test_messages_not_marked_done_are_given_back(adapters: Adapters) -> None:
    events = await given_events(adapters, 3)
    async with adapters.outbox.claim(10) as batch:
        await batch.done([batch.messages[1].id])
    async with adapters.outbox.claim(10) as batch:
        assert [m.event_id for m in batch.messages] == [events[0], events[2]]


async def test_a_claim_whose_block_raises_keeps_what_was_done_and_gives_back_the_rest(
    adapters: Adapters,
) -> None:
    events = await given_events(adapters, 3)

    async def publish_one_then_fail() -> None:
        async with adapters.outbox.claim(10) as batch:
            await batch.done([batch.messages[0].id])
            raise LookupError

    with pytest.raises(LookupError):
        await publish_one_then_fail()
    async with adapters.outbox.claim(10) as batch:
        assert [m.event_id for m in batch.messages] == events[1:]


async def test_done_messages_are_gone_for_good(adapters: Adapters) -> None:
    await given_events(adapters, 2)
    async with adapters.outbox.claim(10) as batch:
        await batch.done([m.id for m in batch.messages])
    async with adapters.outbox.claim(10) as batch:
        assert batch.messages == []


# Audit log and missed invalidations


def audit_entry(a: Adapters, n: int) -> AuditEntry:
    return AuditEntry(
        a.id(f"evt{n}"),
        "FolderCreated",
        a.id("org"),
        T0,
        "folder.created",
        {"event_id": a.id(f"evt{n}"), "n": n},
    )


async def test_the_audit_log_counts_only_entries_it_had_not_seen(adapters: Adapters) -> None:
    assert await adapters.audit.append([audit_entry(adapters, 1), audit_entry(adapters, 2)]) == 2
    assert await adapters.audit.append([audit_entry(adapters, 2), audit_entry(adapters, 3)]) == 1
    assert await adapters.audit.append([audit_entry(adapters, 1)]) == 0
    assert await adapters.audit.append([]) == 0


async def test_an_entry_repeated_within_one_batch_counts_once(adapters: Adapters) -> None:
    assert await adapters.audit.append([audit_entry(adapters, 1), audit_entry(adapters, 1)]) == 1


async def test_missed_invalidations_wait_until_resolved(adapters: Adapters) -> None:
    await adapters.misses.record(["f:1", "u:2"])
    await adapters.misses.record(["d:3"])
    pending = await adapters.misses.pending()
    assert [scope for _, scope in pending] == ["f:1", "u:2", "d:3"]
    assert [scope for _, scope in await adapters.misses.pending(limit=1)] == ["f:1"]
    await adapters.misses.resolved([pending[0][0], pending[2][0]])
    assert [scope for _, scope in await adapters.misses.pending()] == ["u:2"]
