"""``docbus demo``: a short story told to a running worker, printed as a person reads it.

Alice uploads a contract, shares it with Bob, Bob revises it, Carol (an admin) lists the
folder, a stranger is turned away, a retry is recognised as a duplicate, a malformed
message is refused and dead-lettered. Then (contract v2) Alice renames the contract,
files /contracts under a new /archive, trashes /archive with everything below, finds it
in the trash, restores it and reverts the contract to version 1. Then (contract v2,
sharing) Alice shares /archive with Dan, a contractor, until Friday: Dan sees the whole
subtree, ``access.explain`` says why, and at the expiry (in a demo run, a few seconds from
now: ``--share-seconds``) Dan sees nothing any more and ``folder.share.expired`` is
published. Every event the worker published is shown.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console
from rich.table import Table

from docbus_client import DocbusClient, Reply
from docbus_client.events import Event, EventStream

SHARE_SECONDS = 6.0
"""How long the contractor's share lasts in a demo run ("until Friday")."""
EXPIRY_WAIT = 15.0
"""How long to wait for the expiry event (the contract: within 10 s of expires_at)."""


class Story:
    def __init__(self, client: DocbusClient, console: Console, events: EventStream,
                 share_seconds: float = SHARE_SECONDS) -> None:
        self.client = client
        self.console = console
        self.events = events
        self.seen: list[Event] = []
        self.share_seconds = share_seconds
        self.run = uuid.uuid4().hex[:6]
        self.org = f"acme-{self.run}"

    def id(self, name: str) -> str:
        return f"{name}-{self.run}"

    async def step(
        self, title: str, key: str, body: dict[str, Any], *, message_id: str | None = None
    ) -> Reply:
        reply = await self.client.request(key, body, message_id=message_id)
        mark = "[green]ok[/green]" if reply.ok else f"[red]{reply.error['code']}[/red]"  # type: ignore[index]
        self.console.print(f"\n[bold]{title}[/bold]  [dim]{key}[/dim] -> {mark}")
        self.console.print(reply.data if reply.ok else reply.error, highlight=True)
        return reply

    def upload(self, by: str, name: str, version_note: str) -> dict[str, Any]:
        return {
            "doc_id": self.id("nda"),
            "org_id": self.org,
            "folder_id": self.id("contracts"),
            "owner_id": self.id(by),
            "name": name,
            "mime_type": "application/pdf",
            "blob_uri": f"s3://docs/{self.id('nda')}/{version_note}",
            "tags": ["legal"],
            "size_bytes": 48213,
        }

    async def tell(self) -> None:
        for user, role in (("alice", "member"), ("bob", "member"), ("carol", "admin")):
            await self.step(
                f"The identity service makes {user} a {role}",
                "org.member.set",
                {"org_id": self.org, "user_id": self.id(user), "role": role},
            )
        await self.step(
            "Alice creates /contracts",
            "folder.create",
            {
                "folder_id": self.id("contracts"),
                "org_id": self.org,
                "parent_id": None,
                "name": "contracts",
                "actor_id": self.id("alice"),
            },
        )
        first = self.id("upload-1")
        await self.step(
            "Alice uploads nda.pdf (version 1)",
            "document.upload",
            self.upload("alice", "nda.pdf", "v1"),
            message_id=first,
        )
        await self.step(
            "Her client retries with the same message_id: the same reply, no second effect",
            "document.upload",
            self.upload("alice", "nda.pdf", "v1"),
            message_id=first,
        )
        await self.step(
            "Alice shares it with Bob as editor",
            "document.share",
            {
                "doc_id": self.id("nda"),
                "shared_by": self.id("alice"),
                "shared_with": self.id("bob"),
                "role": "editor",
            },
        )
        await self.step(
            "Bob uploads version 2", "document.upload", self.upload("bob", "nda-signed.pdf", "v2")
        )
        await self.step(
            "Bob may edit but not share",
            "document.share",
            {
                "doc_id": self.id("nda"),
                "shared_by": self.id("bob"),
                "shared_with": self.id("carol"),
                "role": "viewer",
            },
        )
        await self.step(
            "Bob reads the document with its versions",
            "document.get",
            {"doc_id": self.id("nda"), "user_id": self.id("bob")},
        )
        await self.step(
            "Carol, an admin, lists /contracts",
            "folder.list",
            {"folder_id": self.id("contracts"), "user_id": self.id("carol")},
        )
        await self.step(
            "A stranger cannot even learn that it exists",
            "document.get",
            {"doc_id": self.id("nda"), "user_id": "stranger"},
        )
        await self.step(
            "Alice revokes Bob",
            "document.unshare",
            {
                "doc_id": self.id("nda"),
                "revoked_by": self.id("alice"),
                "user_id": self.id("bob"),
            },
        )
        await self.step(
            "...which takes effect for Bob's very next query",
            "document.get",
            {"doc_id": self.id("nda"), "user_id": self.id("bob")},
        )
        await self.tell_lifecycle()
        await self.tell_sharing()
        await self.step(
            "A malformed message is refused (and dead-lettered)",
            "document.share",
            {"doc_id": "no spaces allowed", "role": "boss"},
        )


    async def tell_lifecycle(self) -> None:
        alice = self.id("alice")
        nda = {"doc_id": self.id("nda"), "user_id": alice}
        archive = {"folder_id": self.id("archive"), "user_id": alice}
        await self.step("Alice renames the contract", "document.rename",
                        {**nda, "name": "nda-final.pdf"})
        await self.step("Alice creates /archive", "folder.create", {
            "folder_id": self.id("archive"), "org_id": self.org, "parent_id": None,
            "name": "archive", "actor_id": alice,
        })
        await self.step("...and files /contracts under it", "folder.move", {
            "folder_id": self.id("contracts"), "user_id": alice, "parent_id": self.id("archive"),
        })
        await self.step("Carol sees the tree", "folder.children",
                        {"org_id": self.org, "folder_id": self.id("archive"),
                         "user_id": self.id("carol")})
        await self.step("Alice trashes /archive, and everything below goes with it",
                        "folder.trash", archive)
        await self.step("So the contract is gone, even for Carol", "document.get",
                        {"doc_id": self.id("nda"), "user_id": self.id("carol")})
        await self.step("Alice finds it in the trash", "trash.list",
                        {"org_id": self.org, "user_id": alice})
        await self.step("...and restores it, with its subtree", "folder.restore", archive)
        await self.step("Alice reverts the contract to version 1", "document.revert",
                        {**nda, "version": 1})

    async def tell_sharing(self) -> None:
        """A folder shared with a contractor until Friday; Friday comes (early, here)."""
        alice, dan = self.id("alice"), self.id("dan")
        nda = {"doc_id": self.id("nda"), "user_id": dan}
        contracts = {"folder_id": self.id("contracts"), "user_id": dan}
        await self.step("The identity service makes dan, a contractor, a member",
                        "org.member.set", {"org_id": self.org, "user_id": dan, "role": "member"})
        until = datetime.now(UTC) + timedelta(seconds=self.share_seconds)
        await self.step(
            f"Alice shares /archive with Dan as viewer until Friday (in this demo run:"
            f" {self.share_seconds:g} s from now, {until:%H:%M:%S} UTC)",
            "folder.share",
            {"folder_id": self.id("archive"), "shared_by": alice, "shared_with": dan,
             "role": "viewer", "expires_at": until.isoformat()},
        )
        await self.step("Dan sees the whole subtree: /archive/contracts and its contract",
                        "folder.list", contracts)
        await self.step("Alice asks why Dan can read the contract", "access.explain",
                        {"doc_id": self.id("nda"), "user_id": alice, "about": dan})
        await self.step("Dan finds it under 'shared with me'", "shared.with_me",
                        {"org_id": self.org, "user_id": dan})
        self.console.print(f"\n[bold]...Friday comes[/bold] [dim](waiting until"
                           f" {until:%H:%M:%S} UTC)[/dim]")
        await asyncio.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 0.2)
        await self.step("From the expiry on, Dan sees nothing in /archive/contracts",
                        "folder.list", contracts)
        await self.step("...and for Dan the contract does not exist", "document.get", nda)
        expired = await self.event("folder.share.expired")
        if expired is None:
            self.console.print(f"\n[red]no folder.share.expired within {EXPIRY_WAIT:g} s"
                               " (is a worker with the commands role running?)[/red]")
            return
        self.console.print("\n[bold]docbus removed the grant and published[/bold]"
                           " [dim]folder.share.expired[/dim]")
        self.console.print(expired, highlight=True)

    async def event(self, routing_key: str, timeout: float = EXPIRY_WAIT) -> Event | None:
        """The first event of this story with ``routing_key`` (every event read on the
        way is kept for the table); None if none came within ``timeout``."""
        for event in self.seen:
            if event["routing_key"] == routing_key and event.get("org_id") == self.org:
                return event
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (left := deadline - loop.time()) > 0:
            try:
                event = await self.events.receive(timeout=left)
            except TimeoutError:
                break
            self.seen.append(event)
            if event["routing_key"] == routing_key and event.get("org_id") == self.org:
                return event
        return None


async def run_demo(url: str, console: Console, *, timeout: float = 10.0,
                   share_seconds: float = SHARE_SECONDS) -> None:
    async with (
        DocbusClient(url, timeout=timeout) as client,
        client.subscribe_events(("#",)) as events,
    ):
        story = Story(client, console, events, share_seconds)
        console.rule(f"docbus demo, org {story.org}")
        await story.tell()
        table = Table("routing key", "type", "what", title="Events published on doc.events")
        while True:
            try:
                story.seen.append(await events.receive(timeout=2.0))
            except TimeoutError:
                break
        for event in story.seen:
            if event.get("org_id") == story.org:
                table.add_row(event["routing_key"], event["type"], _summary(event))
        console.print(table)
        console.print("[dim]The malformed message is in docbus.dead: docbus dead list[/dim]")


def _summary(event: dict[str, Any]) -> str:
    if "document" in event:
        doc = event["document"]
        return f"{doc['name']} v{doc['version']} by {event['uploaded_by']}"
    if "shared_with" in event:
        until = f" until {event['expires_at']}" if event.get("expires_at") else ""
        return f"{event['shared_with']} is now {event['role']}{until}"
    if "revoked_by" in event:
        return f"{event['user_id']} removed by {event['revoked_by']}"
    if "folder" in event:
        return event["folder"]["path"]  # type: ignore[no-any-return]
    if "role" in event and "expired_at" not in event:
        return f"{event.get('user_id')} -> {event.get('role')}"
    return _lifecycle_summary(event)


def _lifecycle_summary(event: dict[str, Any]) -> str:
    """Contract v2's lifecycle and expiry events."""
    if "expired_at" in event:
        return f"{event['user_id']}'s {event['role']} share expired at {event['expired_at']}"
    if "previous_name" in event:
        return f"{event['previous_name']} -> {event['name']}"
    if "to_parent_id" in event or "to_folder_id" in event:
        return f"now in {event.get('to_parent_id') or event.get('to_folder_id') or '/'}"
    item = event.get("document_id") or event.get("folder_id")
    by = event.get("trashed_by") or event.get("restored_by") or event.get("purged_by")
    return f"{item} by {by}"


if __name__ == "__main__":
    asyncio.run(run_demo("amqp://guest:guest@127.0.0.1:5672/", Console()))
