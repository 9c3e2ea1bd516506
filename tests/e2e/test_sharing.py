"""Contract v2, sharing, through a real worker (PostgreSQL, RabbitMQ, Valkey) with a
plain AMQP client: folder.share / folder.unshare replies and events, inherited access
seen by the very next query (the reply cache in the way), expiry at decision time and in
cached replies, expires_at validated (invalid + dead letter)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.e2e.conftest import Client, EventTap
from tests.e2e.test_contract import dead_letter
from tests.e2e.test_lifecycle import ENVELOPE, Story

pytestmark = pytest.mark.e2e


def rfc3339(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@pytest.fixture
async def story(client: Client, events: EventTap, uid: str) -> Story:
    story = await Story(client, events, uid).setup()
    await story.ok("org.member.set", {"org_id": story.id("org"), "user_id": story.id("carol"),
                                      "role": "member"})
    await events.collect(1)
    events.seen.clear()
    return story


def share(story: Story, folder: str, with_: str, role: str, **more: Any) -> dict[str, Any]:
    return {"folder_id": story.id(folder), "shared_by": story.id("alice"),
            "shared_with": story.id(with_), "role": role, **more}


async def one_event(story: Story, routing_key: str, **fields: Any) -> dict[str, Any]:
    [(key, body)] = await story.events.collect(1)
    story.events.seen.clear()
    assert key == routing_key
    assert set(body) - ENVELOPE == set(fields) | ({"at"} if ".shared." in key else set())
    assert {k: body[k] for k in fields} == fields
    return body


async def test_a_folder_share_is_seen_by_the_next_query_and_an_unshare_too(story: Story) -> None:
    carol = story.doc("carol")
    assert await story.error("document.get", carol) == "not_found"  # now cached
    assert (await story.ok("folder.list", story.fold("2026", "carol")))["documents"] == []
    data = await story.ok("folder.share", share(story, "reports", "carol", "viewer"))
    assert data == {"folder_id": story.id("reports"), "user_id": story.id("carol"),
                    "role": "viewer", "expires_at": None}
    await one_event(story, "folder.shared.viewer", folder_id=story.id("reports"),
                    shared_with=story.id("carol"), shared_by=story.id("alice"), role="viewer",
                    expires_at=None)
    assert (await story.ok("document.get", carol))["doc_id"] == story.id("d1")
    listed = await story.ok("folder.list", story.fold("2026", "carol"))
    assert [d["doc_id"] for d in listed["documents"]] == [story.id("d1")]
    unshare = {"folder_id": story.id("reports"), "revoked_by": story.id("alice"),
               "user_id": story.id("carol")}
    assert (await story.ok("folder.unshare", unshare))["role"] is None
    await one_event(story, "folder.unshared", folder_id=story.id("reports"),
                    user_id=story.id("carol"), revoked_by=story.id("alice"))
    assert await story.error("document.get", carol) == "not_found"
    await story.ok("folder.unshare", unshare)
    assert await story.events.quiet(0.5) == []


async def test_an_expired_grant_gives_nothing_cached_replies_included(story: Story) -> None:
    until = datetime.now(UTC) + timedelta(seconds=2)
    data = await story.ok("folder.share",
                          share(story, "2026", "carol", "editor", expires_at=rfc3339(until)))
    assert data["expires_at"] == rfc3339(until)
    carol = story.doc("carol")
    assert (await story.ok("document.get", carol))["doc_id"] == story.id("d1")
    assert (await story.ok("document.get", carol))["doc_id"] == story.id("d1")  # cached
    await asyncio.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 0.05)
    assert await story.error("document.get", carol) == "not_found"
    assert (await story.ok("folder.list", story.fold("2026", "carol")))["documents"] == []
    assert await story.error("document.rename", story.doc("carol", name="x.pdf")) == "not_found"


async def test_an_expiry_in_the_past_or_without_offset_is_invalid_and_dead_lettered(
    story: Story, client: Client, rabbit_url: str, uid: str
) -> None:
    past = rfc3339(datetime.now(UTC) - timedelta(seconds=1))
    reply = await client.request("folder.share", share(story, "2026", "carol", "viewer",
                                                       expires_at=past),
                                 message_id=f"past-{uid}")
    assert reply["error"]["code"] == "invalid"
    assert (await dead_letter(rabbit_url, f"past-{uid}")).headers[
        "x-docbus-original-routing-key"] == "folder.share"
    naive = {"doc_id": story.id("d1"), "shared_by": story.id("alice"),
             "shared_with": story.id("carol"), "role": "viewer",
             "expires_at": "2099-01-01T00:00:00"}
    reply = await client.request("document.share", naive, message_id=f"naive-{uid}")
    assert reply["error"]["code"] == "invalid"
    await dead_letter(rabbit_url, f"naive-{uid}")
    assert await story.events.quiet(0.5) == []


async def test_who_can_see_this_and_why(story: Story) -> None:
    await story.ok("folder.share", share(story, "reports", "carol", "viewer"))
    listed = await story.ok("document.shares", story.doc("alice"))
    assert listed["doc_id"] == story.id("d1")
    entries = {(s["user_id"], s["source"], s["role"], s["folder_id"]) for s in listed["shares"]}
    assert entries == {
        (story.id("ada"), "org_admin", "owner", None),
        (story.id("alice"), "document", "owner", None),
        (story.id("alice"), "folder", "owner", story.id("reports")),
        (story.id("alice"), "folder", "owner", story.id("2026")),
        (story.id("bob"), "document", "viewer", None),
        (story.id("carol"), "folder", "viewer", story.id("reports")),
    }
    why = await story.ok("access.explain", story.doc("alice", about=story.id("carol")))
    assert why == {"doc_id": story.id("d1"), "user_id": story.id("carol"), "role": "viewer",
                   "capabilities": ["read"], "grants": [
                       {"source": "folder", "role": "viewer", "folder_id": story.id("reports"),
                        "expires_at": None}]}
    assert await story.error("access.explain", story.doc("bob", about=story.id("carol"))) \
        == "forbidden"
    assert await story.error("document.shares", story.doc("bob")) == "forbidden"
    await story.ok("folder.unshare", {"folder_id": story.id("reports"),
                                      "revoked_by": story.id("alice"),
                                      "user_id": story.id("carol")})
    gone = await story.ok("access.explain", story.doc("alice", about=story.id("carol")))
    assert gone["role"] is None and gone["grants"] == []


async def test_shared_with_me_sees_a_share_as_soon_as_its_reply_is_out(story: Story) -> None:
    mine = {"org_id": story.id("org"), "user_id": story.id("carol")}
    assert (await story.ok("shared.with_me", mine))["items"] == []
    await story.ok("folder.share", share(story, "2026", "carol", "editor"))
    [item] = (await story.ok("shared.with_me", mine))["items"]
    assert (item["kind"], item["folder"]["folder_id"], item["role"], item["shared_by"]) == (
        "folder", story.id("2026"), "editor", story.id("alice"))
    await story.ok("document.share", {"doc_id": story.id("d1"), "shared_by": story.id("alice"),
                                      "shared_with": story.id("carol"), "role": "viewer"})
    items = (await story.ok("shared.with_me", mine))["items"]
    assert [i["kind"] for i in items] == ["document", "folder"]  # newest grant first
    await story.ok("folder.trash", story.fold("2026", "alice"))
    assert (await story.ok("shared.with_me", mine))["items"] == []  # both are in the trash
    outsider = {"org_id": story.id("org"), "user_id": story.id("nobody")}
    assert await story.error("shared.with_me", outsider) == "not_found"


async def expiries_of(story: Story, deadline: datetime) -> list[tuple[str, dict[str, Any]]]:
    """This story's expiry events, as they arrive before ``deadline`` (other tests' grants
    expire on the same exchange: theirs are passed over)."""
    while datetime.now(UTC) < deadline:
        seen = await story.events.quiet(0.25)
        mine = [(k, b) for k, b in seen
                if k.endswith(".expired") and b.get("user_id") == story.id("carol")]
        if len(mine) >= 2:
            return mine
    raise AssertionError(f"no two expiries of this story within 10 s: {story.events.seen}")


async def test_docbus_publishes_each_expiry_once_within_ten_seconds(story: Story) -> None:
    until = datetime.now(UTC) + timedelta(seconds=1)
    await story.ok("folder.share", share(story, "2026", "carol", "viewer",
                                         expires_at=rfc3339(until)))
    await story.ok("document.share", {"doc_id": story.id("d1"), "shared_by": story.id("alice"),
                                      "shared_with": story.id("carol"), "role": "editor",
                                      "expires_at": rfc3339(until)})
    await story.events.collect(2)
    story.events.seen.clear()
    mine = await expiries_of(story, deadline=until + timedelta(seconds=10))
    bodies = dict(mine)
    assert set(bodies) == {"folder.share.expired", "document.share.expired"}
    assert {k: bodies["folder.share.expired"][k] for k in
            ("folder_id", "user_id", "role", "expired_at")} == {
        "folder_id": story.id("2026"), "user_id": story.id("carol"), "role": "viewer",
        "expired_at": rfc3339(until)}
    assert bodies["document.share.expired"]["expired_at"] == rfc3339(until)
    story.events.seen.clear()
    late = [k for k, b in await story.events.quiet(2.5) if b.get("user_id") == story.id("carol")]
    assert late == []  # once each
