"""RevokeShare through the bus."""

from __future__ import annotations

import pytest

from docbus.core.values import Role
from tests.unit.conftest import ADA, ALICE, BOB, CAROL, DAVE, NOBODY, World, error_code


async def test_an_owner_revokes_a_share_and_the_reply_role_is_null(shared_doc: World) -> None:
    outcome = await shared_doc.revoke("d1", BOB)
    assert outcome.decoded == {
        "ok": True, "data": {"doc_id": "d1", "user_id": BOB, "role": None, "expires_at": None},
    }
    assert shared_doc.role("d1", BOB) is None


async def test_revoking_emits_document_unshared(shared_doc: World) -> None:
    await shared_doc.revoke("d1", CAROL, by=ADA)
    assert shared_doc.routing_keys == ["document.unshared"]
    [event] = shared_doc.events
    assert {k: v for k, v in event.items() if k != "event_id"} == {
        "type": "DocumentUnshared", "org_id": "acme", "occurred_at": "2026-11-24T10:00:00.000000Z",
        "document_id": "d1", "user_id": CAROL, "revoked_by": ADA,
    }


async def test_revoking_a_user_who_holds_no_role_is_a_no_op_without_event(
    shared_doc: World,
) -> None:
    outcome = await shared_doc.revoke("d1", DAVE)
    assert outcome.decoded == {
        "ok": True, "data": {"doc_id": "d1", "user_id": DAVE, "role": None, "expires_at": None},
    }
    assert shared_doc.events == []


async def test_revoking_the_last_owner_is_a_conflict(shared_doc: World) -> None:
    outcome = await shared_doc.revoke("d1", ALICE, by=ADA)
    assert error_code(outcome.reply) == "conflict"
    assert shared_doc.role("d1", ALICE) is Role.OWNER
    assert shared_doc.events == []


async def test_an_owner_can_step_down_once_there_is_another_owner(shared_doc: World) -> None:
    await shared_doc.share("d1", BOB, Role.OWNER)
    outcome = await shared_doc.revoke("d1", ALICE, by=ALICE)
    assert outcome.decoded["ok"]
    assert shared_doc.role("d1", ALICE) is None


@pytest.mark.parametrize(("revoker", "code"), [(BOB, "forbidden"), (CAROL, "forbidden"),
                                                (DAVE, "not_found"), (NOBODY, "not_found")])
async def test_revoking_needs_share(shared_doc: World, revoker: str, code: str) -> None:
    outcome = await shared_doc.revoke("d1", CAROL, by=revoker)
    assert error_code(outcome.reply) == code
    assert shared_doc.role("d1", CAROL) is Role.VIEWER
    assert shared_doc.events == []


async def test_revoking_on_a_missing_document_is_not_found(world: World) -> None:
    outcome = await world.revoke("ghost", BOB)
    assert error_code(outcome.reply) == "not_found"
