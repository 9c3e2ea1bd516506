"""Contract v2, lives of documents and folders, through a real worker with a plain AMQP
client: every command's reply and event, the subtree rules, invalid bodies dead-lettered.

Commands are sent one at a time, so each runs alone (no group commit forms)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Client, EventTap
from tests.e2e.test_contract import dead_letter, folder, org, upload_body

pytestmark = pytest.mark.e2e

ENVELOPE = {"event_id", "type", "org_id", "occurred_at"}


class Story:
    """An org (alice member, ada admin, bob member) with /reports/2026 and /archive (by
    alice and ada), and document d1 in /reports/2026 (alice owner, bob viewer)."""

    def __init__(self, client: Client, events: EventTap, uid: str) -> None:
        self.client, self.events, self.uid = client, events, uid

    def id(self, name: str) -> str:
        return f"{name}-{self.uid}"

    async def setup(self) -> Story:
        await org(self.client, self.uid, alice="member", ada="admin", bob="member")
        await folder(self.client, self.uid, "reports", "alice")
        await folder(self.client, self.uid, "2026", "alice", "reports")
        await folder(self.client, self.uid, "archive", "ada")
        await self.ok("document.upload", upload_body(self.uid, "d1", "2026", "alice"))
        await self.ok("document.share", {"doc_id": self.id("d1"), "shared_by": self.id("alice"),
                                         "shared_with": self.id("bob"), "role": "viewer"})
        await self.events.collect(8)
        self.events.seen.clear()
        return self

    async def ok(self, key: str, body: dict[str, Any]) -> dict[str, Any]:
        reply = await self.client.request(key, body)
        assert reply["ok"], reply
        return reply["data"]  # type: ignore[no-any-return]

    async def error(self, key: str, body: dict[str, Any]) -> str:
        reply = await self.client.request(key, body)
        assert reply["ok"] is False, reply
        return reply["error"]["code"]  # type: ignore[no-any-return]

    async def event(self, routing_key: str, **fields: Any) -> dict[str, Any]:
        """The one event the last command published; exactly the contract's fields."""
        [(key, body)] = await self.events.collect(1)
        self.events.seen.clear()
        assert key == routing_key
        assert set(body) == ENVELOPE | set(fields)
        assert {k: body[k] for k in fields} == fields
        return body

    def doc(self, user: str, **more: Any) -> dict[str, Any]:
        return {"doc_id": self.id("d1"), "user_id": self.id(user), **more}

    def fold(self, folder: str, user: str, **more: Any) -> dict[str, Any]:
        return {"folder_id": self.id(folder), "user_id": self.id(user), **more}


@pytest.fixture
async def story(client: Client, events: EventTap, uid: str) -> Story:
    return await Story(client, events, uid).setup()


async def test_document_rename(story: Story) -> None:
    assert await story.error("document.rename", story.doc("bob", name="x")) == "forbidden"
    data = await story.ok("document.rename", story.doc("alice", name="final.pdf"))
    assert data["name"] == "final.pdf" and data["trashed_at"] is None
    await story.event("document.renamed", document_id=story.id("d1"), name="final.pdf",
                      previous_name="d1.pdf", renamed_by=story.id("alice"))


async def test_document_move(story: Story) -> None:
    data = await story.ok("document.move", story.doc("alice", folder_id=story.id("archive")))
    assert data["folder_id"] == story.id("archive")
    await story.event("document.moved", document_id=story.id("d1"),
                      from_folder_id=story.id("2026"), to_folder_id=story.id("archive"),
                      moved_by=story.id("alice"))
    listing = await story.ok("folder.list", {"folder_id": story.id("archive"),
                                             "user_id": story.id("alice")})
    assert [d["doc_id"] for d in listing["documents"]] == [story.id("d1")]


async def test_document_revert(story: Story) -> None:
    await story.ok("document.upload", upload_body(story.uid, "d1", "2026", "alice", name="v2"))
    await story.events.collect(1)
    story.events.seen.clear()
    data = await story.ok("document.revert", story.doc("alice", version=1))
    assert (data["version"], data["name"]) == (3, "d1.pdf")
    body = await story.event("document.uploaded", reverted_from=1,
                             uploaded_by=story.id("alice"), document=data)
    assert body["document"]["version"] == 3
    assert await story.error("document.revert", story.doc("alice", version=9)) == "not_found"


async def test_document_trash_restore_and_purge(story: Story) -> None:
    get = story.doc("alice")
    assert (await story.ok("document.get", get))["version"] == 1  # cached now
    trashed = await story.ok("document.trash", story.doc("alice"))
    assert trashed["trashed_at"] is not None
    await story.event("document.trashed", document_id=story.id("d1"),
                      trashed_by=story.id("alice"))
    assert await story.error("document.get", get) == "not_found"
    await story.ok("document.restore", story.doc("alice"))
    await story.event("document.restored", document_id=story.id("d1"),
                      restored_by=story.id("alice"))
    assert (await story.ok("document.get", get))["trashed_at"] is None
    assert await story.error("document.purge", story.doc("alice")) == "conflict"
    await story.ok("document.trash", story.doc("alice"))
    await story.events.collect(1)
    story.events.seen.clear()
    purged = await story.ok("document.purge", story.doc("alice"))
    blobs = [f"s3://bucket/d1-{story.uid}"]
    assert purged == {"doc_id": story.id("d1"), "documents": 1, "blob_uris": blobs}
    await story.event("document.purged", document_id=story.id("d1"), blob_uris=blobs,
                      purged_by=story.id("alice"))


async def test_folder_rename_and_children(story: Story) -> None:
    roots = {"org_id": story.id("org"), "folder_id": None, "user_id": story.id("bob")}
    assert [f["name"] for f in (await story.ok("folder.children", roots))["folders"]] == [
        "archive", "reports"]
    assert await story.error("folder.rename", story.fold("reports", "bob", name="x")) == (
        "forbidden")
    data = await story.ok("folder.rename", story.fold("reports", "alice", name="finance"))
    assert data["path"] == "/finance"
    await story.event("folder.renamed", folder_id=story.id("reports"), name="finance",
                      previous_name="reports", renamed_by=story.id("alice"))
    below = {**roots, "folder_id": story.id("reports")}
    [child] = (await story.ok("folder.children", below))["folders"]
    assert child["path"] == "/finance/2026"
    assert [f["name"] for f in (await story.ok("folder.children", roots))["folders"]] == [
        "archive", "finance"]


async def test_folder_move(story: Story) -> None:
    assert await story.error(
        "folder.move", story.fold("reports", "alice", parent_id=story.id("2026"))) == "conflict"
    data = await story.ok("folder.move", story.fold("2026", "alice", parent_id=story.id("archive")))
    assert data["path"] == "/archive/2026"
    await story.event("folder.moved", folder_id=story.id("2026"),
                      from_parent_id=story.id("reports"), to_parent_id=story.id("archive"),
                      moved_by=story.id("alice"))


async def test_folder_trash_restore_purge_and_the_trash_listing(story: Story) -> None:
    listing = {"folder_id": story.id("2026"), "user_id": story.id("alice")}
    assert len((await story.ok("folder.list", listing))["documents"]) == 1  # cached now
    await story.ok("folder.trash", story.fold("reports", "alice"))
    await story.event("folder.trashed", folder_id=story.id("reports"),
                      trashed_by=story.id("alice"))
    assert await story.error("folder.list", listing) == "not_found"
    assert await story.error("document.get", story.doc("alice")) == "not_found"
    trash = await story.ok("trash.list", {"org_id": story.id("org"),
                                          "user_id": story.id("alice")})
    assert [(i["kind"], i["folder"]["folder_id"]) for i in trash["items"]] == [
        ("folder", story.id("reports"))]
    await story.ok("folder.restore", story.fold("reports", "alice"))
    await story.event("folder.restored", folder_id=story.id("reports"),
                      restored_by=story.id("alice"))
    assert len((await story.ok("folder.list", listing))["documents"]) == 1
    await story.ok("folder.trash", story.fold("reports", "alice"))
    await story.events.collect(1)
    story.events.seen.clear()
    purged = await story.ok("folder.purge", story.fold("reports", "ada"))
    assert purged == {"folder_id": story.id("reports"), "documents": 1, "blob_uris": []}
    seen = await story.events.collect(2)
    assert [k for k, _ in seen] == ["document.purged", "folder.purged"]
    assert seen[1][1]["documents"] == 1 and seen[1][1]["purged_by"] == story.id("ada")


async def test_a_command_that_changes_nothing_publishes_nothing(story: Story) -> None:
    await story.ok("document.rename", story.doc("alice", name="d1.pdf"))
    await story.ok("folder.restore", story.fold("reports", "alice"))
    await story.ok("folder.move", story.fold("2026", "alice", parent_id=story.id("reports")))
    assert await story.events.quiet(1.0) == []


async def test_an_invalid_lifecycle_command_is_dead_lettered(
    client: Client, rabbit_url: str, uid: str
) -> None:
    raw = b'{"folder_id": "f", "user_id": "u", "parent_id": "p", "extra": 1}'
    reply = await client.request("folder.move", raw, message_id=f"bad-move-{uid}")
    assert reply["error"]["code"] == "invalid"
    dead = await dead_letter(rabbit_url, f"bad-move-{uid}")
    assert dead.headers["x-docbus-original-routing-key"] == "folder.move"
    reply = await client.request("document.revert", {"doc_id": "d", "user_id": "u",
                                                     "version": 0})
    assert reply["error"]["code"] == "invalid"
