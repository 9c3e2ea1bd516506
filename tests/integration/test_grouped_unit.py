"""A grouped unit of work on real PostgreSQL, and group commit end to end.

A grouped unit reads ahead (what use cases declared: core.reads) and writes behind (new
documents, share changes and inbox rows queued, flushed before the next statement or at
commit). Its answers must be the
ones a plain unit gives, its own queued writes included; a queued document that a
concurrent transaction created first must fail the flush (Unavailable), never vanish.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

import asyncpg
import pytest

from docbus.adapters.memory import FixedClock, InMemoryReplyCache, SequentialIds
from docbus.adapters.postgres import PgDatabase, PgGroupedUnitFactory, PgUnitOfWorkFactory
from docbus.adapters.postgres.database import asyncpg_dsn
from docbus.core.entities import Content, Document, DocumentVersion, Folder, Membership, Share
from docbus.core.errors import Unavailable
from docbus.core.idempotency import IdempotencyKey
from docbus.core.lifecycle import FolderAccess
from docbus.core.reads import Reads
from docbus.core.values import OrgRole, Role
from docbus.handlers.bus import CommandBus, Outcome
from docbus.handlers.create_folder import CreateFolder, CreateFolderHandler
from docbus.handlers.group_commit import GroupCommit
from docbus.handlers.set_membership import RemoveMembership, SetMembership, SetMembershipHandler
from docbus.handlers.share_document import ShareDocument, ShareDocumentHandler
from docbus.handlers.upload_document import UploadDocument, UploadDocumentHandler
from tests.fixtures.postgres import migrated_scratch_database

pytestmark = pytest.mark.integration

T = TypeVar("T")
T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
LIMIT = 10.0  # seconds: every wait here is bounded
PAUSE = 0.1  # long enough for a blocked statement to reach its lock


async def bounded(awaitable: Awaitable[T], seconds: float = LIMIT) -> T:
    async with asyncio.timeout(seconds):
        return await awaitable


def content(name: str) -> Content:
    return Content(f"{name}.pdf", "application/pdf", f"s3://b/{name}", ("t",), 10, None)


class Org:
    """An org of this test: a folder, members alice/bob/carol, zed a member of nothing,
    and documents d1 (alice owner, bob editor) and d2 (bob owner)."""

    def __init__(self, uid: str) -> None:
        self.uid = uid
        self.org = f"{uid}-org"
        self.folder = Folder.root(f"{uid}-f", self.org, "root")
        self.alice, self.bob, self.carol = f"{uid}-alice", f"{uid}-bob", f"{uid}-carol"
        self.zed = f"{uid}-zed"
        self.d1, self.d2 = f"{uid}-d1", f"{uid}-d2"

    def id(self, name: str) -> str:
        return f"{self.uid}-{name}"

    def key(self, name: str) -> IdempotencyKey:
        return IdempotencyKey.of("svc", self.id(name), "x.do", b"{}")

    def new(self, doc_id: str, owner: str | None = None) -> tuple[Document, DocumentVersion]:
        return Document.create(doc_id, self.folder, owner or self.alice, content(doc_id), T0)

    async def arrange(self, uow: PgUnitOfWorkFactory) -> None:
        async with uow() as unit:
            for user in (self.alice, self.bob, self.carol):
                await unit.memberships.put(Membership(self.org, user, OrgRole.MEMBER))
            await unit.folders.add(self.folder)
            assert await unit.documents.add(
                *self.new(self.d1), [Share(self.d1, self.alice, Role.OWNER)]
            )
            assert await unit.documents.add(
                *self.new(self.d2, self.bob), [Share(self.d2, self.bob, Role.OWNER)]
            )
            await unit.shares.put(self.d1, self.bob, Role.EDITOR)
            await unit.commit()


@pytest.fixture
async def org(pg_db: PgDatabase, uid: str) -> Org:
    org = Org(uid)
    await org.arrange(PgUnitOfWorkFactory(pg_db))
    return org


async def doc_row(conn: asyncpg.Connection[Any], doc_id: str) -> Any:
    return await conn.fetchrow("SELECT * FROM documents WHERE doc_id = $1", doc_id)


# Read-ahead answers what a plain unit answers


async def test_reads_ahead_answer_what_direct_reads_answer(pg_db: PgDatabase, org: Org) -> None:
    uow = PgUnitOfWorkFactory(pg_db)
    users = [org.alice, org.bob, org.carol, org.zed]
    docs = [org.d1, org.d2, org.id("missing")]
    folder_pairs = [(f, u) for f in (org.folder.folder_id, org.id("nofolder")) for u in users]
    doc_pairs = [(d, u) for d in docs for u in users]
    member_pairs = [(o, u) for o in (org.org, org.id("other-org")) for u in users]

    async def read_all(unit: Any) -> list[Any]:
        answers: list[Any] = []
        for folder_id, user in folder_pairs:
            answers.append(await unit.folders.get_with_role(folder_id, user))
        for doc_id, user in doc_pairs:
            answers.append(await unit.documents.get_with_access(doc_id, user))
            answers.append(await unit.documents.get_with_access(doc_id, user, lock=True))
            answers.append(await unit.shares.role_of(doc_id, user))
        for org_id, user in member_pairs:
            answers.append(await unit.memberships.role_of(org_id, user))
        return answers

    async with uow() as plain:
        direct = await read_all(plain)
    async with PgGroupedUnitFactory(pg_db)() as grouped:
        await grouped.read_ahead(Reads.of([Reads(
            folder_roles=tuple(folder_pairs + folder_pairs[:2]),
            new_documents=tuple(docs),
            locked_access=tuple(doc_pairs),
            document_roles=tuple(doc_pairs),
        )]))
        preloaded = await read_all(grouped)

    assert preloaded == direct
    # A sanity check of the arrangement, so that the comparison means something.
    assert (org.folder, OrgRole.MEMBER) in direct
    _, bob_on_d1 = await _access(uow, org.d1, org.bob)
    assert bob_on_d1.doc_role is Role.EDITOR
    assert (org.d1, bob_on_d1) in [(a[0].doc_id, a[1]) for a in direct
                                   if isinstance(a, tuple) and isinstance(a[0], Document)]


async def _access(uow: PgUnitOfWorkFactory, doc_id: str, user_id: str) -> Any:
    async with uow(read_only=True) as unit:
        return await unit.documents.get_with_access(doc_id, user_id)


async def test_a_unit_that_read_ahead_answers_from_memory(
    pg_db: PgDatabase, org: Org, pg_admin: asyncpg.Connection[Any]
) -> None:
    """After a read-ahead, a committed change by another transaction is not seen by the unit's
    reads of those keys: they were answered without a round trip."""
    async with PgGroupedUnitFactory(pg_db)() as unit:
        await unit.read_ahead(Reads(
            document_roles=((org.d2, org.carol),),
            folder_roles=((org.folder.folder_id, org.zed),),
        ))
        await pg_admin.execute(
            "INSERT INTO shares (doc_id, user_id, role) VALUES ($1, $2, 'viewer')",
            org.d2, org.carol,
        )
        await pg_admin.execute(
            "INSERT INTO memberships (org_id, user_id, role) VALUES ($1, $2, 'member')",
            org.org, org.zed,
        )
        assert await unit.memberships.role_of(org.org, org.carol) is OrgRole.MEMBER
        assert await unit.shares.role_of(org.d2, org.carol) is None
        assert await unit.folders.get_with_role(org.folder.folder_id, org.zed) == (
            org.folder, None,
        )


async def test_an_upload_in_a_grouped_unit_is_seen_by_its_later_reads(
    pg_db: PgDatabase, org: Org, pg_admin: asyncpg.Connection[Any]
) -> None:
    new = org.id("new")
    async with PgGroupedUnitFactory(pg_db)() as unit:
        await unit.read_ahead(Reads(
            new_documents=(new, org.d1), document_roles=((new, org.alice), (new, org.bob))
        ))
        assert (await unit.documents.get_with_access(new, org.alice))[0] is None
        document, version = org.new(new)
        assert await unit.documents.add(document, version, [Share(new, org.alice, Role.OWNER)])
        assert not await unit.documents.add(*org.new(new))  # taken, by this very unit
        assert not await unit.documents.add(*org.new(org.d1))

        assert await unit.shares.role_of(new, org.alice) is Role.OWNER
        assert await unit.shares.role_of(new, org.bob) is None
        found, access = await unit.documents.get_with_access(new, org.alice, lock=True)
        assert found == document
        assert (access.org_role, access.doc_role) == (OrgRole.MEMBER, Role.OWNER)
        found, access = await unit.documents.get_with_access(new, org.bob)
        assert found == document
        assert (access.org_role, access.doc_role) == (OrgRole.MEMBER, None)
        assert await unit.documents.get(new) == document
        assert [v.version for v in await unit.documents.versions(new)] == [1]
        assert await unit.shares.owners(new) == 1
        assert await doc_row(pg_admin, new) is None  # not committed yet
        await unit.commit()
    row = await doc_row(pg_admin, new)
    assert row is not None and row["owner_id"] == org.alice


async def test_a_second_version_in_a_grouped_unit_is_seen_by_its_later_reads(
    pg_db: PgDatabase, org: Org
) -> None:
    async with PgGroupedUnitFactory(pg_db)() as unit:
        await unit.read_ahead(Reads(locked_access=((org.d1, org.alice),)))
        current, _ = await unit.documents.get_with_access(org.d1, org.alice, lock=True)
        assert current is not None and current.version == 1
        revised = current.revise(content("v2"), org.alice, T0)
        await unit.documents.add_version(*revised)
        after, access = await unit.documents.get_with_access(org.d1, org.alice, lock=True)
        assert after == revised[0]
        assert access.doc_role is Role.OWNER


async def test_share_changes_in_a_grouped_unit_are_seen_by_its_later_reads(
    pg_db: PgDatabase, org: Org
) -> None:
    uow = PgUnitOfWorkFactory(pg_db)
    pairs = [(org.d1, org.carol), (org.d1, org.bob), (org.d1, org.alice)]
    async with PgGroupedUnitFactory(pg_db)() as unit:
        await unit.read_ahead(Reads(locked_access=tuple(pairs), document_roles=tuple(pairs)))
        assert await unit.shares.role_of(org.d1, org.carol) is None

        await unit.shares.put(org.d1, org.carol, Role.VIEWER)
        await unit.shares.put(org.d1, org.bob, None)
        await unit.shares.put(org.d1, org.alice, Role.EDITOR)
        await unit.shares.put(org.d1, org.alice, Role.OWNER)  # back again: the last one wins

        assert await unit.shares.role_of(org.d1, org.carol) is Role.VIEWER
        assert await unit.shares.role_of(org.d1, org.bob) is None
        assert await unit.shares.role_of(org.d1, org.alice) is Role.OWNER
        _, carol = await unit.documents.get_with_access(org.d1, org.carol, lock=True)
        _, bob = await unit.documents.get_with_access(org.d1, org.bob)
        _, alice = await unit.documents.get_with_access(org.d1, org.alice, lock=True)
        assert (carol.doc_role, bob.doc_role, alice.doc_role) == (Role.VIEWER, None, Role.OWNER)
        assert await unit.shares.owners(org.d1) == 1
        reader = FolderAccess(org.carol, OrgRole.MEMBER, None)
        listed = await unit.documents.page(org.folder.folder_id, reader, limit=10, after=None)
        assert [d.doc_id for d in listed] == [org.d1]
        await unit.commit()
    async with uow(read_only=True) as unit:
        assert await unit.shares.role_of(org.d1, org.carol) is Role.VIEWER
        assert await unit.shares.role_of(org.d1, org.bob) is None
        assert await unit.shares.role_of(org.d1, org.alice) is Role.OWNER


async def test_a_membership_change_in_a_grouped_unit_is_seen_by_its_later_reads(
    pg_db: PgDatabase, org: Org
) -> None:
    folder_id = org.folder.folder_id
    async with PgGroupedUnitFactory(pg_db)() as unit:
        await unit.read_ahead(Reads(
            folder_roles=((folder_id, org.zed), (folder_id, org.bob)),
            document_roles=((org.d1, org.zed), (org.d1, org.bob)),
        ))
        assert await unit.folders.get_with_role(folder_id, org.zed) == (org.folder, None)

        assert await unit.memberships.put(Membership(org.org, org.zed, OrgRole.ADMIN)) is None
        assert await unit.memberships.put(Membership(org.org, org.bob, None)) is OrgRole.MEMBER

        assert await unit.folders.get_with_role(folder_id, org.zed) == (org.folder, OrgRole.ADMIN)
        assert await unit.folders.get_with_role(folder_id, org.bob) == (org.folder, None)
        assert await unit.memberships.role_of(org.org, org.zed) is OrgRole.ADMIN
        assert await unit.memberships.role_of(org.org, org.bob) is None
        _, zed = await unit.documents.get_with_access(org.d1, org.zed)
        _, bob = await unit.documents.get_with_access(org.d1, org.bob)
        assert (zed.org_role, bob.org_role, bob.doc_role) == (OrgRole.ADMIN, None, Role.EDITOR)


# Write-behind: committed with the unit, or not at all


async def _queue_writes(unit: Any, org: Org, names: Sequence[str]) -> None:
    ids = [org.id(n) for n in names]
    await unit.read_ahead(Reads(
        new_documents=tuple(ids),
        locked_access=((org.d1, org.alice),),
        document_roles=((org.d1, org.carol),),
    ))
    for doc_id in ids:
        assert await unit.documents.add(
            *org.new(doc_id), [Share(doc_id, org.alice, Role.OWNER), Share(doc_id, org.bob, None)]
        )
    await unit.shares.put(org.d1, org.carol, Role.VIEWER)
    await unit.shares.put(org.d1, org.bob, None)


async def test_queued_writes_are_in_the_database_after_commit(
    pg_db: PgDatabase, org: Org, pg_admin: asyncpg.Connection[Any]
) -> None:
    async with PgGroupedUnitFactory(pg_db)() as unit:
        await _queue_writes(unit, org, ["q1", "q2", "q3"])
        assert await unit.inbox.record(org.key("m1"), b"1", ["s1"])
        assert await unit.inbox.record(org.key("m2"), b"2", [])
        await unit.commit()

    for name in ("q1", "q2", "q3"):
        doc_id = org.id(name)
        assert (await doc_row(pg_admin, doc_id))["version"] == 1
        assert await pg_admin.fetchval(
            "SELECT count(*) FROM document_versions WHERE doc_id = $1", doc_id) == 1
        shares = await pg_admin.fetch("SELECT user_id, role FROM shares WHERE doc_id = $1", doc_id)
        assert [tuple(r) for r in shares] == [(org.alice, "owner")]
    shares = await pg_admin.fetch(
        "SELECT user_id, role FROM shares WHERE doc_id = $1 ORDER BY user_id", org.d1
    )
    assert sorted(tuple(r) for r in shares) == sorted([(org.alice, "owner"), (org.carol, "viewer")])
    inbox = await pg_admin.fetch(
        "SELECT message_id, scopes FROM inbox WHERE message_id = ANY($1::text[])",
        [org.id("m1"), org.id("m2")],
    )
    assert sorted((r["message_id"], list(r["scopes"])) for r in inbox) == [
        (org.id("m1"), ["s1"]), (org.id("m2"), []),
    ]


async def test_queued_writes_are_absent_after_rollback(
    pg_db: PgDatabase, org: Org, pg_admin: asyncpg.Connection[Any]
) -> None:
    async with PgGroupedUnitFactory(pg_db)() as unit:
        await _queue_writes(unit, org, ["r1", "r2"])
        assert await unit.documents.get(org.id("r1")) is not None  # flushed, in the unit
        await unit.shares.put(org.d2, org.carol, Role.EDITOR)  # queued again, never flushed
    ids = [org.id("r1"), org.id("r2")]
    assert await pg_admin.fetchval(
        "SELECT count(*) FROM documents WHERE doc_id = ANY($1::text[])", ids) == 0
    assert await pg_admin.fetchval(
        "SELECT count(*) FROM shares WHERE doc_id = ANY($1::text[])", ids) == 0
    shares = await pg_admin.fetch("SELECT user_id, role FROM shares WHERE doc_id = $1", org.d1)
    assert sorted(tuple(r) for r in shares) == sorted([(org.alice, "owner"), (org.bob, "editor")])
    assert await pg_admin.fetchval(
        "SELECT count(*) FROM shares WHERE doc_id = $1 AND user_id = $2", org.d2, org.carol
    ) == 0


async def test_a_queued_key_taken_meanwhile_fails_the_commit_and_writes_nothing(
    pg_db: PgDatabase, org: Org, pg_admin: asyncpg.Connection[Any]
) -> None:
    uow = PgUnitOfWorkFactory(pg_db)
    async with PgGroupedUnitFactory(pg_db)() as unit:
        await _queue_writes(unit, org, ["k1"])
        assert await unit.inbox.record(org.key("new"), b"1", [])
        assert await unit.inbox.record(org.key("old"), b"1", [])
        assert not await unit.inbox.record(org.key("new"), b"2", [])  # twice in the unit
        stored = await unit.inbox.find(org.key("new"))
        assert stored is not None and stored.reply == b"1"
        async with uow() as other:
            assert await other.inbox.record(org.key("old"), b"0", [])
            await other.commit()
        with pytest.raises(Unavailable, match="recorded before"):
            await unit.commit()
    rows = await pg_admin.fetch(
        "SELECT message_id, reply FROM inbox WHERE message_id LIKE $1", org.id("%"))
    assert [(r["message_id"], r["reply"]) for r in rows] == [(org.id("old"), b"0")]
    assert await doc_row(pg_admin, org.id("k1")) is None


# A concurrent creator of a queued document


async def _add_elsewhere(uow: PgUnitOfWorkFactory, org: Org, doc_id: str) -> None:
    async with uow() as other:
        assert await other.documents.add(*org.new(doc_id, org.bob))
        await other.commit()


@pytest.mark.parametrize("flushed_by", ["commit", "next statement"])
async def test_a_queued_document_created_meanwhile_elsewhere_fails_the_flush(
    pg_db: PgDatabase, org: Org, pg_admin: asyncpg.Connection[Any], flushed_by: str
) -> None:
    uow = PgUnitOfWorkFactory(pg_db)
    doc_id = org.id("raced")

    async def race() -> None:
        async with PgGroupedUnitFactory(pg_db)() as unit:
            await unit.read_ahead(Reads(new_documents=(doc_id,)))
            share = Share(doc_id, org.alice, Role.OWNER)
            assert await unit.documents.add(*org.new(doc_id), [share])
            await unit.shares.put(org.d1, org.carol, Role.VIEWER)
            await bounded(_add_elsewhere(uow, org, doc_id))
            if flushed_by == "commit":
                await bounded(unit.commit())
            else:
                await bounded(unit.documents.get(doc_id))

    with pytest.raises(Unavailable):
        await race()
    row = await doc_row(pg_admin, doc_id)
    assert row["owner_id"] == org.bob  # the other transaction's document, alone
    shares = await pg_admin.fetch("SELECT user_id FROM shares WHERE doc_id = $1", doc_id)
    assert shares == []
    assert await pg_admin.fetchval(
        "SELECT count(*) FROM shares WHERE doc_id = $1 AND user_id = $2", org.d1, org.carol
    ) == 0


async def test_a_flush_waits_for_a_concurrent_creator_and_fails_if_it_commits(
    pg_db: PgDatabase, org: Org
) -> None:
    uow = PgUnitOfWorkFactory(pg_db)
    doc_id = org.id("raced")
    async with uow() as other, PgGroupedUnitFactory(pg_db)() as unit:
        await unit.read_ahead(Reads(new_documents=(doc_id,)))
        assert await other.documents.add(*org.new(doc_id, org.bob))  # not committed yet
        assert await unit.documents.add(*org.new(doc_id))  # queued: unaware
        committing = asyncio.create_task(unit.commit())
        await asyncio.sleep(PAUSE)
        assert not committing.done()  # the flush waits for the other inserter
        await other.commit()
        with pytest.raises(Unavailable):
            await bounded(committing)


async def test_a_flush_goes_through_when_the_concurrent_creator_rolls_back(
    pg_db: PgDatabase, org: Org, pg_admin: asyncpg.Connection[Any]
) -> None:
    uow = PgUnitOfWorkFactory(pg_db)
    doc_id = org.id("raced")
    async with PgGroupedUnitFactory(pg_db)() as unit:
        await unit.read_ahead(Reads(new_documents=(doc_id,)))
        async with uow() as other:
            assert await other.documents.add(*org.new(doc_id, org.bob))
            assert await unit.documents.add(*org.new(doc_id))
            committing = asyncio.create_task(unit.commit())
            await asyncio.sleep(PAUSE)
            assert not committing.done()
        await bounded(committing)  # the other one rolled back on exit
    assert (await doc_row(pg_admin, doc_id))["owner_id"] == org.alice


# Locks


async def _nowait(conn: asyncpg.Connection[Any], doc_id: str) -> bool:
    """Whether another connection can lock the document row right now."""
    try:
        await conn.fetchval(
            "SELECT doc_id FROM documents WHERE doc_id = $1 FOR UPDATE NOWAIT", doc_id
        )
    except asyncpg.LockNotAvailableError:
        return False
    return True


async def test_a_locking_read_ahead_really_locks_the_documents(
    pg_db: PgDatabase, org: Org, pg_admin: asyncpg.Connection[Any]
) -> None:
    async with PgGroupedUnitFactory(pg_db)() as unit:
        await unit.read_ahead(Reads(locked_access=(
            (org.d2, org.alice), (org.d1, org.bob), (org.id("missing"), org.alice)
        )))
        assert not await _nowait(pg_admin, org.d1)
        assert not await _nowait(pg_admin, org.d2)
        # The later locked read is answered from memory, and the lock still holds.
        document, _ = await unit.documents.get_with_access(org.d1, org.bob, lock=True)
        assert document is not None
        assert not await _nowait(pg_admin, org.d1)
    assert await _nowait(pg_admin, org.d1)
    assert await _nowait(pg_admin, org.d2)


async def test_a_plain_read_ahead_does_not_lock_but_a_later_locked_read_does(
    pg_db: PgDatabase, org: Org, pg_admin: asyncpg.Connection[Any]
) -> None:
    async with PgGroupedUnitFactory(pg_db)() as unit:
        await unit.read_ahead(Reads(document_roles=((org.d1, org.alice),)))
        assert await _nowait(pg_admin, org.d1)
        assert (await unit.documents.get_with_access(org.d1, org.alice))[0] is not None
        assert await _nowait(pg_admin, org.d1)
        assert (await unit.documents.get_with_access(org.d1, org.alice, lock=True))[0] is not None
        assert not await _nowait(pg_admin, org.d1)
        await unit.read_ahead(Reads(document_roles=((org.d2, org.alice),)))
        await unit.read_ahead(Reads(locked_access=((org.d2, org.alice),)))
        assert not await _nowait(pg_admin, org.d2)


# End to end: group commit gives the state one command at a time gives


ORG_ID, FOLDER_ID = "acme", "f-reports"
ALICE, BOB, CAROL, DAVE, ZED = "alice", "bob", "carol", "dave", "zed"  # zed: no member
N = 200


@asynccontextmanager
async def fresh_database(prefix: str) -> AsyncIterator[PgDatabase]:
    async with asynccontextmanager(migrated_scratch_database)(prefix) as url:
        db = await PgDatabase.connect(url, min_size=2, max_size=16, command_timeout=10)
        try:
            yield db
        finally:
            await db.close()


def doc(i: int) -> str:
    return f"doc-{i:03d}"


def phases() -> list[list[tuple[str, Any, str]]]:
    """(use case, command, message_id) in two phases; each phase is delivered at once.

    Phase one: N new documents, and a twin delivery (same doc_id, same content, another
    message_id) of every 20th, a group's length later (so that two groups in flight may
    both find it new: the second one's flush then fails); then uploads by a non-member
    and into a missing folder. Phase two: new versions, shares (one per document and
    user), then shares by a user who holds nothing on the document. The failing commands
    come last, so that the groups before them commit (a group with a failing command
    splits). Within a phase, the final state does not depend on the order (only the
    twins' version numbers do)."""
    def upload(i: int, message_id: str) -> tuple[str, Any, str]:
        command = UploadDocument(doc(i), ORG_ID, FOLDER_ID, ALICE, content(doc(i)))
        return ("upload", command, message_id)

    twins = [i for i in range(N) if i % 20 == 7]
    one = [upload(i, f"up-{i}") for i in range(N)]
    for i in reversed(twins):
        one.insert(min(i + 64, N), upload(i, f"twin-{i}"))
    for i in range(13, N, 50):
        one.append(("upload", UploadDocument(f"zed-{i}", ORG_ID, FOLDER_ID, ZED, content("z")),
                    f"zed-{i}"))
    one.append(("upload", UploadDocument("lost", ORG_ID, "f-missing", ALICE, content("l")),
                "lost"))
    two: list[tuple[str, Any, str]] = []
    for i in range(N):
        if i % 3 == 0:
            two.append(("share", ShareDocument(doc(i), ALICE, BOB, Role.EDITOR), f"sh-bob-{i}"))
        if i % 4 == 1:
            two.append(("share", ShareDocument(doc(i), ALICE, CAROL, Role.VIEWER),
                        f"sh-carol-{i}"))
        if i % 10 == 5:
            two.append(("upload", UploadDocument(doc(i), ORG_ID, FOLDER_ID, ALICE,
                                                 content(f"{doc(i)}-v2")), f"v2-{i}"))
    for i in range(9, N, 40):
        two.append(("share", ShareDocument(doc(i), DAVE, CAROL, Role.OWNER), f"sh-dave-{i}"))
    two.append(("share", ShareDocument("nowhere", ALICE, BOB, Role.VIEWER), "sh-nowhere"))
    return [one, two, *undeclared()]


def undeclared() -> list[list[tuple[str, Any, str]]]:
    """Phases three and four: use cases that declare no reads. New members and a member
    removed; then a folder by each new member (under reports), and a root folder whose
    name is taken (conflict, at the end)."""
    three: list[tuple[str, Any, str]] = [
        ("member", SetMembership(ORG_ID, f"new-{i}", OrgRole.MEMBER), f"mem-{i}")
        for i in range(40)
    ]
    three.append(("member", RemoveMembership(ORG_ID, DAVE), "mem-dave"))
    four: list[tuple[str, Any, str]] = [
        ("folder", CreateFolder(f"f-{i}", ORG_ID, FOLDER_ID, f"sub-{i}", f"new-{i}"), f"fold-{i}")
        for i in range(40)
    ]
    four.append(("folder", CreateFolder("f-twin", ORG_ID, None, "reports", ALICE), "twin"))
    return [three, four]


def _key(kind: str, command: Any, message_id: str) -> IdempotencyKey:
    return IdempotencyKey.of("svc", message_id, kind, repr(command).encode())


async def run_scenario(db: PgDatabase, group_size: int) -> tuple[GroupCommit, list[Outcome]]:
    uow = PgUnitOfWorkFactory(db)
    async with uow() as unit:
        for user in (ALICE, BOB, CAROL, DAVE):
            await unit.memberships.put(Membership(ORG_ID, user, OrgRole.MEMBER))
        await unit.folders.add(Folder.root(FOLDER_ID, ORG_ID, "reports"))
        await unit.commit()
    clock, ids = FixedClock(T0), SequentialIds()
    use_cases: dict[str, Any] = {
        "upload": UploadDocumentHandler(clock, ids), "share": ShareDocumentHandler(clock, ids),
        "member": SetMembershipHandler(clock, ids), "folder": CreateFolderHandler(clock, ids),
    }
    cache = InMemoryReplyCache()
    bus = GroupCommit(
        CommandBus(uow, cache), PgGroupedUnitFactory(db), cache, group_size=group_size
    )
    outcomes: list[Outcome] = []
    for phase in phases():
        outcomes += await bounded(asyncio.gather(
            *(bus.execute(use_cases[kind], command, _key(kind, command, mid))
              for kind, command, mid in phase)
        ), 30)
    return bus, outcomes


def _without_version(reply: Any) -> Any:
    if reply.get("ok") and "version" in reply["data"]:
        return {**reply, "data": {**reply["data"], "version": None}}
    return reply


async def snapshot(db: PgDatabase) -> dict[str, Any]:
    conn = await asyncpg.connect(asyncpg_dsn(db.dsn))
    try:
        async def rows(sql: str) -> list[tuple[Any, ...]]:
            return [tuple(r) for r in await conn.fetch(sql)]

        inbox = {r[0]: (json.loads(r[1]), tuple(r[2]))
                 for r in await rows("SELECT message_id, reply, scopes FROM inbox")}
        versions_by_doc: dict[str, list[Any]] = {}
        for reply, _ in inbox.values():
            if reply["ok"] and "version" in reply["data"]:
                versions_by_doc.setdefault(reply["data"]["doc_id"], []).append(
                    reply["data"]["version"])
        return {
            "documents": await rows("SELECT * FROM documents ORDER BY doc_id"),
            "versions": await rows("SELECT * FROM document_versions ORDER BY doc_id, version"),
            "shares": await rows("SELECT * FROM shares ORDER BY doc_id, user_id"),
            "memberships": await rows("SELECT * FROM memberships ORDER BY org_id, user_id"),
            "folders": await rows(
                "SELECT folder_id, org_id, parent_id, name, path FROM folders ORDER BY folder_id"
            ),
            # The twins' version numbers depend on which came first: compared per document.
            "inbox": {mid: (_without_version(r), s) for mid, (r, s) in inbox.items()},
            "inbox versions": {d: sorted(v) for d, v in versions_by_doc.items()},
            "outbox": Counter(r[0] for r in await rows("SELECT routing_key FROM outbox")),
        }
    finally:
        await conn.close()


async def test_group_commit_leaves_the_state_one_command_at_a_time_leaves(pg_url: str) -> None:
    async with fresh_database("docbus_grouped") as grouped_db:
        grouped_bus, grouped = await run_scenario(grouped_db, group_size=64)
        grouped_state = await snapshot(grouped_db)
    async with fresh_database("docbus_alone") as alone_db:
        alone_bus, alone = await run_scenario(alone_db, group_size=1)
        alone_state = await snapshot(alone_db)

    assert grouped_bus.groups > 0, grouped_bus.split_reason
    assert grouped_bus.grouped > 0
    assert alone_bus.groups == 0
    for key in grouped_state:
        assert grouped_state[key] == alone_state[key], key
    assert [_without_version(o.decoded) for o in grouped] == [
        _without_version(o.decoded) for o in alone
    ]
    # The scenario is what it claims to be.
    state = grouped_state
    assert len(state["documents"]) == N
    codes = Counter(
        r["error"]["code"] for r, _ in state["inbox"].values() if not r["ok"]
    )
    # 4 uploads by non-members among the not_found (docs/decisions.md)
    assert codes == Counter({"not_found": 11, "conflict": 1})
    assert len(state["folders"]) == 1 + 40
    assert state["inbox versions"][doc(7)] == [1, 2]
    assert state["inbox versions"][doc(5)] == [1, 2]
    assert state["outbox"]["document.uploaded"] == N + 10 + 20
    assert sum(n for k, n in state["outbox"].items() if k.startswith("document.shared")) == (
        67 + 50
    )
