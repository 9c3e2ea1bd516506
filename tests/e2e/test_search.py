"""Contract v2, document.search, through a real worker (PostgreSQL, RabbitMQ, Valkey) with
a plain AMQP client: each command's effect is in the very next search (beside cached
listings and gets that must agree with it), strangers get not_found, expiry counts from
its instant, a bad body is invalid and dead-lettered."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.e2e.conftest import Client, EventTap
from tests.e2e.test_contract import dead_letter, upload_body
from tests.e2e.test_lifecycle import Story
from tests.e2e.test_sharing import rfc3339, share

pytestmark = pytest.mark.e2e


@pytest.fixture
async def story(client: Client, events: EventTap, uid: str) -> Story:
    story = await Story(client, events, uid).setup()  # d1 in /reports/2026, bob a viewer
    await story.ok("org.member.set", {"org_id": story.id("org"), "user_id": story.id("carol"),
                                      "role": "member"})
    return story


async def found(story: Story, user: str, **filters: Any) -> list[str]:
    body = {"org_id": story.id("org"), "user_id": story.id(user), **filters}
    data = await story.ok("document.search", body)
    return [d["doc_id"] for d in data["documents"]]


async def test_every_command_shows_in_the_very_next_search(story: Story) -> None:
    d1 = story.id("d1")
    assert await found(story, "bob", text="D1") == [d1]
    listed = await story.ok("folder.list", story.fold("2026", "bob"))  # cached from here on
    assert [d["doc_id"] for d in listed["documents"]] == [d1]
    await story.ok("document.rename", story.doc("alice", name="Crème Brûlée budget.pdf"))
    assert await found(story, "bob", text="d1") == []
    assert await found(story, "bob", text="creme BUDG") == [d1]
    listed = await story.ok("folder.list", story.fold("2026", "bob"))
    assert listed["documents"][0]["name"] == "Crème Brûlée budget.pdf"  # the cache agrees
    await story.ok("folder.share", share(story, "2026", "carol", "viewer"))
    assert await found(story, "carol", text="budget") == [d1]
    await story.ok("document.move", story.doc("alice", folder_id=story.id("archive")))
    assert await found(story, "carol", text="budget") == []  # out of her folder share
    assert await found(story, "bob", text="budget") == [d1]  # his document share stays
    assert await found(story, "ada", folder_id=story.id("archive")) == [d1]
    await story.ok("document.trash", story.doc("ada"))
    assert await found(story, "ada") == []
    await story.ok("document.restore", story.doc("ada"))
    assert await found(story, "ada", text="budget") == [d1]
    new = upload_body(story.uid, "d2", "2026", "alice", name="budget 2027.pdf", tags=["plan"])
    await story.ok("document.upload", new)
    assert await found(story, "alice", text="budget", tags=["plan"]) == [story.id("d2")]


async def test_folder_shares_reach_the_subtree_and_revokes_end_it(story: Story) -> None:
    assert await found(story, "carol") == []
    await story.ok("folder.share", share(story, "reports", "carol", "viewer"))
    assert await found(story, "carol", text="d1") == [story.id("d1")]
    await story.ok("folder.trash", story.fold("reports", "alice"))
    assert await found(story, "carol") == []
    await story.ok("folder.restore", story.fold("reports", "alice"))
    assert await found(story, "carol") == [story.id("d1")]
    await story.ok("folder.unshare", {"folder_id": story.id("reports"),
                                      "revoked_by": story.id("alice"),
                                      "user_id": story.id("carol")})
    assert await found(story, "carol") == []


async def test_an_expired_grant_finds_nothing_from_its_expiry_on(story: Story) -> None:
    until = datetime.now(UTC) + timedelta(seconds=2)
    await story.ok("folder.share", share(story, "2026", "carol", "viewer",
                                         expires_at=rfc3339(until)))
    assert await found(story, "carol") == [story.id("d1")]
    await asyncio.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 0.05)
    assert await found(story, "carol") == []


async def test_strangers_get_not_found_and_bad_bodies_are_dead_lettered(
    story: Story, client: Client, rabbit_url: str, uid: str
) -> None:
    for body in ({"org_id": story.id("org"), "user_id": "nobody"},
                 {"org_id": "no-such-org", "user_id": story.id("ada")},
                 {"org_id": story.id("org"), "user_id": story.id("ada"),
                  "folder_id": "no-such-folder"}):
        assert await story.error("document.search", body) == "not_found"
    bad = {"org_id": story.id("org"), "user_id": story.id("ada"), "mime_type": "image"}
    reply = await client.request("document.search", bad, message_id=f"bad-search-{uid}")
    assert reply["error"]["code"] == "invalid"
    letter = await dead_letter(rabbit_url, f"bad-search-{uid}")
    assert letter.headers["x-docbus-original-routing-key"] == "document.search"
