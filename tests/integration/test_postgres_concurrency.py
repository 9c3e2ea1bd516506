"""Concurrent units on real PostgreSQL: what the in-memory fake gets by running units one
at a time, PostgreSQL must get from row locks, unique constraints and advisory locks."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

import pytest

from docbus.adapters.memory import FixedClock, InMemoryReplyCache, SequentialIds
from docbus.adapters.postgres import PgDatabase, PgOutbox, PgUnitOfWorkFactory
from docbus.core.entities import Content, Folder, Membership
from docbus.core.errors import FolderNameTaken
from docbus.core.idempotency import IdempotencyKey
from docbus.core.values import OrgRole
from docbus.handlers.bus import CommandBus, Outcome
from docbus.handlers.create_folder import CreateFolder, CreateFolderHandler
from docbus.handlers.set_membership import SetMembership, SetMembershipHandler
from docbus.handlers.upload_document import UploadDocument, UploadDocumentHandler

pytestmark = pytest.mark.integration

PAUSE = 0.05  # long enough for the other unit to reach the contended row


def _key(uid: str, name: str = "m", command: object = None) -> IdempotencyKey:
    return IdempotencyKey.of("svc", f"{uid}-{name}", "x.do", repr(command).encode())


async def test_of_two_concurrent_recorders_of_one_message_id_exactly_one_wins(
    pg_db: PgDatabase, uid: str
) -> None:
    uow = PgUnitOfWorkFactory(pg_db)

    async def record() -> bool:
        async with uow() as unit:
            won = await unit.inbox.record(_key(uid), b"1", [])
            await asyncio.sleep(PAUSE)
            if won:
                await unit.commit()
            return won

    assert sorted(await asyncio.gather(record(), record())) == [False, True]


async def test_a_recorder_wins_when_the_first_one_rolls_back(pg_db: PgDatabase, uid: str) -> None:
    uow = PgUnitOfWorkFactory(pg_db)

    recorded = asyncio.Event()

    async def record(commit: bool) -> bool:
        if commit:  # the second recorder starts only once the first holds the key
            await recorded.wait()
        async with uow() as unit:
            won = await unit.inbox.record(_key(uid), b"1", [])
            recorded.set()
            await asyncio.sleep(PAUSE)
            if commit:
                await unit.commit()
            return won

    assert list(await asyncio.gather(record(commit=False), record(commit=True))) == [True, True]


async def test_concurrent_first_membership_puts_behave_as_one_after_the_other(
    pg_db: PgDatabase, uid: str
) -> None:
    uow = PgUnitOfWorkFactory(pg_db)

    async def put(role: OrgRole) -> OrgRole | None:
        async with uow() as unit:
            before = await unit.memberships.put(Membership(uid, "u1", role))
            await asyncio.sleep(PAUSE)
            await unit.commit()
            return before

    befores = await asyncio.gather(put(OrgRole.MEMBER), put(OrgRole.ADMIN))
    async with uow(read_only=True) as unit:
        final = await unit.memberships.role_of(uid, "u1")
    assert befores.count(None) == 1
    first, last = (OrgRole.MEMBER, OrgRole.ADMIN) if befores[0] is None else (
        OrgRole.ADMIN, OrgRole.MEMBER)
    assert set(befores) == {None, first}
    assert final is last


async def test_a_locked_document_holds_off_a_second_locker_until_commit(
    pg_db: PgDatabase, uid: str
) -> None:
    uow = PgUnitOfWorkFactory(pg_db)
    bus, clock, ids = _bus(pg_db, uid)
    folder = await _folder_with_member(bus, clock, ids, uid)
    await bus.execute(UploadDocumentHandler(clock, ids), _upload(uid, folder, 1), None)
    async with uow() as first:
        assert await first.documents.lock(f"{uid}-doc") is not None

        async def second_lock() -> None:
            async with uow() as second:
                await second.documents.lock(f"{uid}-doc")

        waiting = asyncio.create_task(second_lock())
        await asyncio.sleep(PAUSE * 2)
        assert not waiting.done()
        await first.commit()
    await asyncio.wait_for(waiting, 2)


async def test_of_two_concurrent_siblings_with_one_name_one_is_refused(
    pg_db: PgDatabase, uid: str
) -> None:
    uow = PgUnitOfWorkFactory(pg_db)

    async def add(folder_id: str) -> str:
        async with uow() as unit:
            await unit.folders.add(Folder.root(folder_id, uid, "same"))
            await asyncio.sleep(PAUSE)
            await unit.commit()
            return folder_id

    results = await asyncio.gather(add(f"{uid}-a"), add(f"{uid}-b"), return_exceptions=True)
    assert sum(isinstance(r, FolderNameTaken) for r in results) == 1


# The command bus and the use cases, end to end over PostgreSQL


def _bus(db: PgDatabase, uid: str) -> tuple[CommandBus, FixedClock, SequentialIds]:
    return CommandBus(PgUnitOfWorkFactory(db), InMemoryReplyCache()), FixedClock(), \
        SequentialIds(f"{uid}-evt-")


async def _folder_with_member(
    bus: CommandBus, clock: FixedClock, ids: SequentialIds, uid: str
) -> str:
    member = SetMembership(uid, "alice", OrgRole.MEMBER)
    await bus.execute(SetMembershipHandler(clock, ids), member, _key(uid, "member", member))
    folder = CreateFolder(f"{uid}-f", uid, None, "root", "alice")
    create = CreateFolderHandler(clock, ids)
    created = await bus.execute(create, folder, _key(uid, "folder", folder))
    assert created.decoded["ok"]
    return f"{uid}-f"


def _upload(uid: str, folder_id: str, n: int) -> UploadDocument:
    content = Content(f"v{n}.pdf", "application/pdf", f"s3://b/{uid}/{n}", (), n, None)
    return UploadDocument(f"{uid}-doc", uid, folder_id, "alice", content)


async def test_concurrent_uploads_of_a_new_doc_id_store_consecutive_versions(
    pg_db: PgDatabase, uid: str
) -> None:
    bus, clock, ids = _bus(pg_db, uid)
    folder_id = await _folder_with_member(bus, clock, ids, uid)
    upload = UploadDocumentHandler(clock, ids)
    runs: list[Awaitable[Outcome]] = [
        bus.execute(upload, c, _key(uid, c.content.name, c))
        for c in (_upload(uid, folder_id, n) for n in range(1, 5))
    ]
    outcomes = await asyncio.gather(*runs)
    assert all(o.decoded["ok"] for o in outcomes)
    assert sorted(o.decoded["data"]["version"] for o in outcomes) == [1, 2, 3, 4]
    async with PgUnitOfWorkFactory(pg_db)(read_only=True) as unit:
        versions = await unit.documents.versions(f"{uid}-doc")
        document = await unit.documents.get(f"{uid}-doc")
    assert [v.version for v in versions] == [1, 2, 3, 4]
    assert len({v.content.blob_uri for v in versions}) == 4
    assert document is not None
    assert document.version == 4
    async with PgOutbox(pg_db).claim(100) as batch:
        uploaded = [m for m in batch.messages if m.routing_key == "document.uploaded"]
    assert len(uploaded) == 4


async def test_a_message_delivered_twice_at_once_takes_effect_once(
    pg_db: PgDatabase, uid: str
) -> None:
    bus, clock, ids = _bus(pg_db, uid)
    folder_id = await _folder_with_member(bus, clock, ids, uid)
    upload = UploadDocumentHandler(clock, ids)
    command = _upload(uid, folder_id, 1)
    outcomes = await asyncio.gather(
        bus.execute(upload, command, _key(uid, "up", command)),
        bus.execute(upload, command, _key(uid, "up", command)),
    )
    assert outcomes[0].reply == outcomes[1].reply
    assert sorted(o.duplicate for o in outcomes) == [False, True]
    async with PgUnitOfWorkFactory(pg_db)(read_only=True) as unit:
        assert len(await unit.documents.versions(f"{uid}-doc")) == 1
