"""The unit tier's world: use cases wired with the in-memory fakes, and a small org to play in.

Arrangement writes straight into the fake database (no events, no inbox rows), so that
what a test then sees in the outbox is what the action under test did. Every action goes
through the real CommandBus and the real query handlers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from docbus.adapters.memory import (
    FixedClock,
    InMemoryDatabase,
    InMemoryReplyCache,
    InMemoryUnitOfWorkFactory,
    SequentialIds,
)
from docbus.core.cursor import CursorCodec
from docbus.core.entities import Content, Folder
from docbus.core.idempotency import IdempotencyKey
from docbus.core.ports import Json
from docbus.core.values import OrgRole, Role
from docbus.handlers.bus import CommandBus, Commands, Outcome
from docbus.handlers.create_folder import CreateFolder, CreateFolderHandler
from docbus.handlers.get_document import GetDocument, GetDocumentHandler
from docbus.handlers.list_folder import ListFolder, ListFolderHandler
from docbus.handlers.revoke_share import RevokeShare, RevokeShareHandler
from docbus.handlers.set_membership import RemoveMembership, SetMembership, SetMembershipHandler
from docbus.handlers.share_document import ShareDocument, ShareDocumentHandler
from docbus.handlers.upload_document import UploadDocument, UploadDocumentHandler

CURSORS = CursorCodec(b"unit-test-cursor-key")
ORG = "acme"
OTHER_ORG = "globex"
REPORTS = "f-reports"  # root folder of acme
ARCHIVE = "f-archive"  # another root folder of acme
ELSEWHERE = "f-globex"  # root folder of globex

ALICE = "alice"  # member; uploads the documents in most tests
BOB = "bob"  # member
CAROL = "carol"  # member
DAVE = "dave"  # member who is never given a role on anything
ADA = "ada"  # org admin
MALLORY = "mallory"  # member of globex only
NOBODY = "nobody"  # member of no org


def encode(data: Json) -> bytes:
    return json.dumps(data).encode()


def content(name: str = "report.pdf", **changes: Any) -> Content:
    fields: dict[str, Any] = {
        "name": name, "mime_type": "application/pdf", "blob_uri": f"s3://blobs/{name}",
        "tags": ("q3",), "size_bytes": 1024, "sha256": "a" * 64,
    }
    fields.update(changes)
    return Content(**fields)


def error_code(reply: Json | bytes) -> str | None:
    decoded = json.loads(reply) if isinstance(reply, bytes) else reply
    return None if decoded["ok"] else decoded["error"]["code"]


def key_of(command: Any, message_id: str, sender: str = "upstream") -> IdempotencyKey:
    """The key a subscriber would give the command: its type stands for the routing key,
    its repr (a frozen dataclass: every field) for the canonical body."""
    return IdempotencyKey.of(sender, message_id, type(command).__name__, repr(command).encode())


@dataclass
class World:
    """One org (acme) with members, an admin and folders; a second org (globex) beside it."""

    clock: FixedClock = field(default_factory=FixedClock)
    ids: SequentialIds = field(default_factory=SequentialIds)
    cache: InMemoryReplyCache = field(default_factory=InMemoryReplyCache)

    def __post_init__(self) -> None:
        self.db = InMemoryDatabase(self.clock)
        self.uow = InMemoryUnitOfWorkFactory(self.db)
        self.bus: Commands = CommandBus(self.uow, self.cache)
        self.use_cases: dict[type, Any] = {
            CreateFolder: CreateFolderHandler(self.clock, self.ids),
            UploadDocument: UploadDocumentHandler(self.clock, self.ids),
            ShareDocument: ShareDocumentHandler(self.clock, self.ids),
            RevokeShare: RevokeShareHandler(self.clock, self.ids),
            SetMembership: SetMembershipHandler(self.clock, self.ids),
            RemoveMembership: SetMembershipHandler(self.clock, self.ids),
        }
        self.get_document = GetDocumentHandler(self.uow, self.cache, encode)
        self.list_folder = ListFolderHandler(self.uow, self.cache, encode, CURSORS)
        for user in (ALICE, BOB, CAROL, DAVE):
            self.member(ORG, user)
        self.member(ORG, ADA, OrgRole.ADMIN)
        self.member(OTHER_ORG, MALLORY)
        self.folder(Folder.root(REPORTS, ORG, "reports"))
        self.folder(Folder.root(ARCHIVE, ORG, "archive"))
        self.folder(Folder.root(ELSEWHERE, OTHER_ORG, "reports"))

    # arrangement, straight into the committed state
    def member(self, org_id: str, user_id: str, role: OrgRole = OrgRole.MEMBER) -> None:
        self.db.state.memberships[(org_id, user_id)] = role

    def folder(self, folder: Folder) -> None:
        self.db.state.folders[folder.folder_id] = folder

    # commands, through the bus
    async def run(
        self, command: Any, message_id: str | None = None, sender: str = "upstream"
    ) -> Outcome:
        key = None if message_id is None else key_of(command, message_id, sender)
        return await self.bus.execute(self.use_cases[type(command)], command, key)

    async def upload(
        self, doc_id: str, by: str = ALICE, folder_id: str = REPORTS, org_id: str = ORG,
        message_id: str | None = None, sender: str = "upstream", **changes: Any,
    ) -> Outcome:
        command = UploadDocument(doc_id, org_id, folder_id, by, content(**changes))
        return await self.run(command, message_id, sender)

    async def share(
        self, doc_id: str, with_: str, role: Role, by: str = ALICE, message_id: str | None = None
    ) -> Outcome:
        return await self.run(ShareDocument(doc_id, by, with_, role), message_id)

    async def revoke(
        self, doc_id: str, user_id: str, by: str = ALICE, message_id: str | None = None
    ) -> Outcome:
        return await self.run(RevokeShare(doc_id, by, user_id), message_id)

    async def set_member(
        self, user_id: str, role: OrgRole = OrgRole.MEMBER, org_id: str = ORG
    ) -> Outcome:
        return await self.run(SetMembership(org_id, user_id, role))

    async def remove_member(self, user_id: str, org_id: str = ORG) -> Outcome:
        return await self.run(RemoveMembership(org_id, user_id))

    # queries, decoded
    async def get(self, doc_id: str, user_id: str) -> Json:
        reply: Json = json.loads(await self.get_document(GetDocument(doc_id, user_id)))
        return reply

    async def listing(
        self, user_id: str, folder_id: str = REPORTS, limit: int = 50, cursor: str | None = None
    ) -> Json:
        query = ListFolder(folder_id, user_id, limit, cursor)
        reply: Json = json.loads(await self.list_folder(query))
        return reply

    async def listed(self, user_id: str, folder_id: str = REPORTS) -> list[str]:
        reply = await self.listing(user_id, folder_id)
        assert reply["ok"], reply
        return [d["doc_id"] for d in reply["data"]["documents"]]

    # what came out
    @property
    def events(self) -> list[Json]:
        """Bodies of the events in the outbox, in commit order."""
        return [json.loads(m.body) for m in self.db.state.outbox]

    @property
    def routing_keys(self) -> list[str]:
        return [m.routing_key for m in self.db.state.outbox]

    def role(self, doc_id: str, user_id: str) -> Role | None:
        return self.db.state.shares.get((doc_id, user_id))


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
async def shared_doc(world: World) -> World:
    """d1 in reports, uploaded by alice (owner), bob editor, carol viewer; outbox emptied."""
    await world.upload("d1")
    await world.share("d1", BOB, Role.EDITOR)
    await world.share("d1", CAROL, Role.VIEWER)
    world.db.state.outbox.clear()
    return world
