"""A small org wired to every use case, over any unit-of-work factory: the lifecycle
rules (contract v2) run through the real CommandBus and query handlers on the in-memory
fakes (tests/unit) and on PostgreSQL (tests/integration) alike.

Ids carry a per-test prefix, since PostgreSQL is shared by the whole session. The org:
alice, bob, carol, dave members, ada admin, mallory in another org. Folders: reports
(by alice) / 2026 (alice) / q3 (alice), and archive (by ada), all via folder.create.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from docbus.adapters.memory import FixedClock, InMemoryReplyCache, SequentialIds
from docbus.core.cursor import CursorCodec
from docbus.core.entities import Content
from docbus.core.ports import Json, UnitOfWorkFactory
from docbus.core.values import OrgRole, Role
from docbus.handlers.bus import CommandBus, Outcome
from docbus.handlers.create_folder import CreateFolder, CreateFolderHandler
from docbus.handlers.folder_children import FolderChildrenHandler, ListChildren
from docbus.handlers.get_document import GetDocument, GetDocumentHandler
from docbus.handlers.list_folder import ListFolder, ListFolderHandler
from docbus.handlers.move_document import MoveDocument, MoveDocumentHandler
from docbus.handlers.move_folder import MoveFolder, MoveFolderHandler
from docbus.handlers.purge import (
    PurgeDocument,
    PurgeDocumentHandler,
    PurgeFolder,
    PurgeFolderHandler,
)
from docbus.handlers.rename_document import RenameDocument, RenameDocumentHandler
from docbus.handlers.rename_folder import RenameFolder, RenameFolderHandler
from docbus.handlers.restore_document import RestoreDocument, RestoreDocumentHandler
from docbus.handlers.restore_folder import RestoreFolder, RestoreFolderHandler
from docbus.handlers.revert_document import RevertDocument, RevertDocumentHandler
from docbus.handlers.set_membership import SetMembership, SetMembershipHandler
from docbus.handlers.share_document import ShareDocument, ShareDocumentHandler
from docbus.handlers.sweep_trash import SweepTrash
from docbus.handlers.trash_document import TrashDocument, TrashDocumentHandler
from docbus.handlers.trash_folder import TrashFolder, TrashFolderHandler
from docbus.handlers.trash_list import ListTrash, TrashListHandler
from docbus.handlers.upload_document import UploadDocument, UploadDocumentHandler
from tests.unit.conftest import key_of

ALICE, BOB, CAROL, DAVE, ADA, MALLORY = "alice", "bob", "carol", "dave", "ada", "mallory"

HANDLERS: dict[type, Any] = {
    CreateFolder: CreateFolderHandler, UploadDocument: UploadDocumentHandler,
    ShareDocument: ShareDocumentHandler, SetMembership: SetMembershipHandler,
    RenameDocument: RenameDocumentHandler, MoveDocument: MoveDocumentHandler,
    TrashDocument: TrashDocumentHandler, RestoreDocument: RestoreDocumentHandler,
    PurgeDocument: PurgeDocumentHandler, RevertDocument: RevertDocumentHandler,
    RenameFolder: RenameFolderHandler, MoveFolder: MoveFolderHandler,
    TrashFolder: TrashFolderHandler, RestoreFolder: RestoreFolderHandler,
    PurgeFolder: PurgeFolderHandler,
}


def encode(data: Json) -> bytes:
    return json.dumps(data).encode()


def code(outcome: Outcome | Json) -> str | None:
    reply = outcome.decoded if isinstance(outcome, Outcome) else outcome
    return None if reply["ok"] else str(reply["error"]["code"])


@dataclass
class Life:
    uow: UnitOfWorkFactory
    prefix: str = ""
    clock: FixedClock = field(default_factory=FixedClock)
    cache: InMemoryReplyCache = field(default_factory=InMemoryReplyCache)

    def __post_init__(self) -> None:
        ids = SequentialIds(f"{self.prefix}evt-")
        self.sweep_ids = SequentialIds(f"{self.prefix}sweep-")
        self.bus = CommandBus(self.uow, self.cache)
        self.use_cases = {cmd: make(self.clock, ids) for cmd, make in HANDLERS.items()}
        self.get_document = GetDocumentHandler(self.uow, self.cache, encode)
        self.cursors = CursorCodec(b"lifecycle-tests-cursor-key")
        self.list_folder = ListFolderHandler(self.uow, self.cache, encode, self.cursors)
        self.children_of = FolderChildrenHandler(self.uow, self.cache, encode, self.cursors)
        self.trash_of = TrashListHandler(self.uow, self.cache, encode, self.cursors)
        self.org = self.id("acme")
        self.other_org = self.id("globex")
        self.reports, self.y2026, self.q3 = self.id("f-reports"), self.id("f-2026"), self.id("f-q3")
        self.archive = self.id("f-archive")

    def id(self, name: str) -> str:
        return f"{self.prefix}{name}"

    async def setup(self) -> Life:
        for user in (ALICE, BOB, CAROL, DAVE):
            await self.run(SetMembership(self.org, user, OrgRole.MEMBER))
        await self.run(SetMembership(self.org, ADA, OrgRole.ADMIN))
        await self.run(SetMembership(self.other_org, MALLORY, OrgRole.MEMBER))
        await self.ok(CreateFolder(self.reports, self.org, None, "reports", ALICE))
        await self.ok(CreateFolder(self.y2026, self.org, self.reports, "2026", ALICE))
        await self.ok(CreateFolder(self.q3, self.org, self.y2026, "q3", ALICE))
        await self.ok(CreateFolder(self.archive, self.org, None, "archive", ADA))
        await self.ok(CreateFolder(self.id("f-globex"), self.other_org, None, "g", MALLORY))
        return self

    # commands
    async def run(self, command: Any, message_id: str | None = None) -> Outcome:
        self.clock.advance(1)
        key = None if message_id is None else key_of(command, message_id)
        return await self.bus.execute(self.use_cases[type(command)], command, key)

    async def ok(self, command: Any) -> Json:
        reply = (await self.run(command)).decoded
        assert reply["ok"], reply
        data: Json = reply["data"]
        return data

    async def upload(self, doc: str, folder: str | None = None, by: str = ALICE,
                     name: str = "report.pdf") -> Outcome:
        content = Content(name, "application/pdf", f"s3://b/{doc}/{name}", ("q3",), 10, None)
        return await self.run(UploadDocument(doc, self.org, folder or self.q3, by, content))

    async def document(self, name: str, folder: str | None = None, *, viewer: str = CAROL,
                       editor: str = BOB) -> str:
        """A new document by alice (owner), bob editor, carol viewer."""
        doc = self.id(name)
        assert (await self.upload(doc, folder)).decoded["ok"]
        await self.ok(ShareDocument(doc, ALICE, editor, Role.EDITOR))
        await self.ok(ShareDocument(doc, ALICE, viewer, Role.VIEWER))
        return doc

    def sweeper(self, days: float = 30, batch: int = 100) -> SweepTrash:
        return SweepTrash(self.uow, self.cache, self.clock, self.sweep_ids,
                          retention=timedelta(days=days), batch=batch)

    # queries, decoded
    async def get(self, doc_id: str, user: str = ALICE) -> Json:
        reply: Json = json.loads(await self.get_document(GetDocument(doc_id, user)))
        return reply

    async def listing(self, folder_id: str, user: str = ALICE) -> Json:
        reply: Json = json.loads(await self.list_folder(ListFolder(folder_id, user)))
        return reply

    async def listed(self, folder_id: str, user: str = ALICE) -> list[str]:
        reply = await self.listing(folder_id, user)
        assert reply["ok"], reply
        return [d["doc_id"] for d in reply["data"]["documents"]]

    async def children(self, folder_id: str | None, user: str = ALICE, limit: int = 50,
                       cursor: str | None = None, org: str | None = None) -> Json:
        query = ListChildren(org or self.org, folder_id, user, limit, cursor)
        reply: Json = json.loads(await self.children_of(query))
        return reply

    async def names(self, folder_id: str | None, user: str = ALICE) -> list[str]:
        reply = await self.children(folder_id, user)
        assert reply["ok"], reply
        return [f["name"] for f in reply["data"]["folders"]]

    async def trash(self, user: str = ALICE, limit: int = 50, cursor: str | None = None) -> Json:
        reply: Json = json.loads(await self.trash_of(ListTrash(self.org, user, limit, cursor)))
        return reply

    async def trashed(self, user: str = ALICE) -> list[tuple[str, str]]:
        reply = await self.trash(user)
        assert reply["ok"], reply
        return [
            (i["kind"], (i.get("document") or i.get("folder") or {}).get("doc_id")
             or i["folder"]["folder_id"])
            for i in reply["data"]["items"]
        ]
