"""document.shares and access.explain on the in-memory adapters (contract v2): who may
read a document and why; what one user may do and why; denials."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from docbus.core.values import Role
from docbus.handlers.create_folder import CreateFolder
from docbus.handlers.explain_access import (
    DocumentSharesHandler,
    ExplainAccess,
    ExplainAccessHandler,
    ListDocumentShares,
)
from docbus.handlers.share_folder import ShareFolder, ShareFolderHandler
from tests.unit.conftest import ADA, ALICE, BOB, CAROL, DAVE, MALLORY, NOBODY, ORG, World, encode


@pytest.fixture
async def tree(world: World) -> World:
    """alice owns /projects/x; d1 in x by carol (owner); bob viewer on /projects until
    +1 h, editor on d1."""
    world.use_cases[ShareFolder] = ShareFolderHandler(world.clock, world.ids)
    await world.run(CreateFolder("f-projects", ORG, None, "projects", ALICE))
    await world.run(CreateFolder("f-x", ORG, "f-projects", "x", ALICE))
    await world.upload("d1", by=CAROL, folder_id="f-x")
    until = world.clock.now() + timedelta(hours=1)
    await world.run(ShareFolder("f-projects", ALICE, BOB, Role.VIEWER, until))
    await world.share("d1", BOB, Role.EDITOR, by=CAROL)
    return world


async def shares(world: World, doc_id: str, user: str) -> dict[str, object]:
    handler = DocumentSharesHandler(world.uow, world.clock, encode)
    reply: dict[str, object] = json.loads(await handler(ListDocumentShares(doc_id, user)))
    return reply


async def why(world: World, doc_id: str, user: str, about: str | None = None) -> dict[str, object]:
    handler = ExplainAccessHandler(world.uow, world.clock, encode)
    reply: dict[str, object] = json.loads(await handler(ExplainAccess(doc_id, user, about)))
    return reply


def grant(
    source: str, role: str, folder: str | None = None, until: str | None = None
) -> dict[str, object]:
    return {"source": source, "role": role, "folder_id": folder, "expires_at": until}


async def test_document_shares_lists_every_grant_and_every_admin(tree: World) -> None:
    reply = await shares(tree, "d1", CAROL)
    assert reply == {"ok": True, "data": {"doc_id": "d1", "shares": [
        {"user_id": ADA, **grant("org_admin", "owner")},
        {"user_id": ALICE, **grant("folder", "owner", "f-projects")},
        {"user_id": ALICE, **grant("folder", "owner", "f-x")},
        {"user_id": BOB, **grant("document", "editor")},
        {"user_id": BOB, **grant("folder", "viewer", "f-projects", "2026-11-24T11:00:00.000000Z")},
        {"user_id": CAROL, **grant("document", "owner")},
    ]}}


async def test_explain_gives_the_role_its_capabilities_and_the_grants_highest_first(
    tree: World,
) -> None:
    reply = await why(tree, "d1", BOB)
    assert reply["data"] == {
        "doc_id": "d1", "user_id": BOB, "role": "editor", "capabilities": ["read", "write"],
        "grants": [grant("document", "editor"),
                   grant("folder", "viewer", "f-projects", "2026-11-24T11:00:00.000000Z")],
    }
    admin = await why(tree, "d1", CAROL, about=ADA)
    assert admin["data"]["role"] == "owner" and admin["data"]["grants"] == [  # type: ignore[index]
        grant("org_admin", "owner")]
    nobody = await why(tree, "d1", CAROL, about=DAVE)
    assert nobody["data"] == {"doc_id": "d1", "user_id": DAVE, "role": None,
                              "capabilities": [], "grants": []}


async def test_an_expired_grant_is_neither_listed_nor_explained(tree: World) -> None:
    tree.clock.advance(3600)
    reply = await why(tree, "d1", BOB)
    assert reply["data"]["grants"] == [grant("document", "editor")]  # type: ignore[index]
    users = [s["user_id"] for s in (await shares(tree, "d1", CAROL))["data"]["shares"]]  # type: ignore[index]
    assert users == [ADA, ALICE, ALICE, BOB, CAROL]


@pytest.mark.parametrize(("user", "about", "code"), [
    (DAVE, None, "not_found"),  # a member who cannot read it
    (MALLORY, None, "not_found"),  # another org
    (NOBODY, None, "not_found"),
    (BOB, CAROL, "forbidden"),  # a reader without share asking about someone else
])
async def test_who_may_not_ask_learns_nothing(
    tree: World, user: str, about: str | None, code: str
) -> None:
    reply = await why(tree, "d1", user, about)
    assert reply["ok"] is False and reply["error"]["code"] == code  # type: ignore[index]


async def test_document_shares_needs_share(tree: World) -> None:
    assert (await shares(tree, "d1", BOB))["error"]["code"] == "forbidden"  # type: ignore[index]
    assert (await shares(tree, "d1", DAVE))["error"]["code"] == "not_found"  # type: ignore[index]
    assert (await shares(tree, "nope", ADA))["error"]["code"] == "not_found"  # type: ignore[index]
    for outsider in (MALLORY, NOBODY):  # another org's member, a member of no org
        assert (await shares(tree, "d1", outsider))["error"]["code"] == "not_found"  # type: ignore[index]
