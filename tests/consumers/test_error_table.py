"""The error table of consumers/pipeline.py, row by row, and replies' shapes."""

from __future__ import annotations

from dataclasses import dataclass

import orjson
import pytest

from docbus.consumers.pipeline import (
    BudgetExhausted,
    Invalid,
    delivery_count,
    delivery_key,
    failure_of,
    poisoned,
)
from docbus.consumers.schemas.inbound import UploadDocumentIn
from docbus.consumers.schemas.outbound import REPLY_DATA, Failure
from docbus.core.errors import InvalidCommand
from tests.consumers.conftest import Harness, delivered

ORG, ALICE, BOB = "org-1", "alice", "bob"


async def seed(h: Harness) -> None:
    await h.send("org.member.set", {"org_id": ORG, "user_id": ALICE, "role": "member"})
    await h.send("org.member.set", {"org_id": ORG, "user_id": BOB, "role": "member"})
    await h.send(
        "folder.create",
        {"folder_id": "f1", "org_id": ORG, "parent_id": None, "name": "docs", "actor_id": ALICE},
    )


def upload(doc_id: str = "d1", **over: object) -> dict[str, object]:
    body: dict[str, object] = {
        "doc_id": doc_id,
        "org_id": ORG,
        "folder_id": "f1",
        "owner_id": ALICE,
        "name": "a.pdf",
        "mime_type": "application/pdf",
        "blob_uri": "s3://b/a",
        "tags": [],
    }
    return body | over


async def test_upload_replies_with_the_document(harness: Harness) -> None:
    await seed(harness)
    reply = await harness.send("document.upload", upload(size_bytes=3, sha256="a" * 64))
    assert reply is not None and reply["ok"] is True
    REPLY_DATA["document.upload"].model_validate(reply["data"])
    assert reply["data"]["version"] == 1 and reply["data"]["owner_id"] == ALICE


async def test_every_reply_data_fits_its_documented_schema(harness: Harness) -> None:
    await seed(harness)
    await harness.send("document.upload", upload())
    bodies = {
        "document.share": {
            "doc_id": "d1",
            "shared_by": ALICE,
            "shared_with": BOB,
            "role": "viewer",
        },
        "document.get": {"doc_id": "d1", "user_id": BOB},
        "folder.list": {"folder_id": "f1", "user_id": BOB},
        "document.unshare": {"doc_id": "d1", "revoked_by": ALICE, "user_id": BOB},
        "org.member.remove": {"org_id": ORG, "user_id": BOB},
    }
    for key, body in bodies.items():
        reply = await harness.send(key, body)
        assert reply is not None and reply["ok"], (key, reply)
        REPLY_DATA[key].model_validate(reply["data"])


async def test_reply_carries_the_request_correlation_id(harness: Harness) -> None:
    await seed(harness)
    await harness.send("folder.list", {"folder_id": "f1", "user_id": ALICE}, correlation_id="abc")
    assert harness.responder.replies[-1][0] == "abc"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (upload(doc_id="has space"), "doc_id"),
        (upload(tags="x"), "tags"),
        (upload(size_bytes=-1), "size_bytes"),
        (upload(size_bytes="5"), "size_bytes"),
        (upload(sha256="xyz"), "sha256"),
        (upload(extra=1), "extra"),
        ({k: v for k, v in upload().items() if k != "name"}, "name"),
    ],
)
async def test_schema_violation_is_invalid_and_dead_lettered(
    harness: Harness, body: dict[str, object], field: str
) -> None:
    reply = await harness.send("document.upload", body)
    assert reply is not None
    Failure.model_validate(reply)
    assert reply["error"]["code"] == "invalid"
    assert any(d["field"] == field for d in reply["error"]["details"]), reply
    reason, original = harness.responder.dead[-1]
    assert reason.startswith("invalid:") and original == orjson.dumps(body)


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b'"text"', b"", b"\xff\xfe"])
async def test_a_body_that_is_not_a_json_object_is_invalid(harness: Harness, raw: bytes) -> None:
    reply = await harness.send("folder.create", raw)
    assert reply is not None and reply["error"]["code"] == "invalid"
    assert harness.responder.dead[-1][1] == raw


async def test_another_content_type_is_invalid(harness: Harness) -> None:
    body = orjson.dumps({"org_id": ORG, "user_id": ALICE, "role": "member"})
    reply = await harness.send("org.member.set", body, content_type="text/plain")
    assert reply is not None and reply["error"]["code"] == "invalid"
    assert "content_type" in reply["error"]["message"]


async def test_a_query_without_reply_to_is_dead_lettered(harness: Harness) -> None:
    await harness.send("folder.list", {"folder_id": "f1", "user_id": ALICE}, reply_to=None)
    assert harness.responder.dead[-1][0] == "invalid: a query needs reply_to"


async def test_a_command_without_reply_to_takes_effect_without_reply(harness: Harness) -> None:
    reply = await harness.send(
        "org.member.set", {"org_id": ORG, "user_id": ALICE, "role": "admin"}, reply_to=None
    )
    assert reply is None and harness.responder.dead == []
    listing = await harness.send("folder.list", {"folder_id": "nope", "user_id": ALICE})
    assert listing is not None and listing["error"]["code"] == "not_found"


async def test_domain_errors_are_replied_and_not_dead_lettered(harness: Harness) -> None:
    await seed(harness)
    await harness.send("document.upload", upload())
    reply = await harness.send(
        "document.share", {"doc_id": "d1", "shared_by": BOB, "shared_with": BOB, "role": "owner"}
    )
    assert reply is not None and reply["error"]["code"] == "not_found"
    assert harness.responder.dead == []


async def test_a_bad_cursor_is_invalid(harness: Harness) -> None:
    await seed(harness)
    reply = await harness.send("folder.list", {"folder_id": "f1", "user_id": ALICE, "cursor": "zz"})
    assert reply is not None and reply["error"]["code"] == "invalid"


async def test_poison_is_dead_lettered_with_its_delivery_count(harness: Harness) -> None:
    await seed(harness)
    raw = delivered(
        "document.upload", upload(), redelivered=True, headers={"x-delivery-count": 5},
        message_id="m-poison", correlation_id="c-poison",
    )
    await harness.pipeline.process(
        raw, UploadDocumentIn, harness.runners["document.upload"], query=False
    )
    assert harness.responder.last()["error"]["code"] == "unavailable"
    assert harness.responder.dead[-1][0].startswith("poison: delivered 6 times")
    assert "d1" not in harness.db.state.documents


async def test_a_delivery_count_set_by_the_sender_is_ignored(harness: Harness) -> None:
    """RabbitMQ 3.10 delivers a publisher's own x-delivery-count on the first delivery."""
    await seed(harness)
    await harness.send("document.upload", upload())
    reply = await harness.send(
        "document.get", {"doc_id": "d1", "user_id": ALICE}, headers={"x-delivery-count": 99}
    )
    assert reply is not None and reply["ok"], reply
    assert harness.responder.dead == []


@pytest.mark.parametrize(
    ("redelivered", "headers", "count"),
    [
        (False, {}, 0),
        (False, {"x-delivery-count": 99}, 0),  # forged by the publisher
        (True, {"x-delivery-count": 3}, 3),
        (True, {}, 1),  # delivered before, count unknown (e.g. a classic queue)
        (True, {"x-delivery-count": "9"}, 1),
        (True, {"x-delivery-count": True}, 1),
        (True, {"x-delivery-count": -4}, 1),
    ],
)
def test_delivery_count_trusts_the_header_only_on_a_redelivery(
    redelivered: bool, headers: dict[str, object], count: int
) -> None:
    raw = delivered("document.get", b"{}", redelivered=redelivered, headers=headers)
    assert delivery_count(raw) == count


async def test_the_same_message_id_gets_the_same_reply_and_one_effect(harness: Harness) -> None:
    await seed(harness)
    first = await harness.send("document.upload", upload(), message_id="m-1")
    second = await harness.send("document.upload", upload(), message_id="m-1")
    assert first == second
    got = await harness.send("document.get", {"doc_id": "d1", "user_id": ALICE})
    assert got is not None and len(got["data"]["versions"]) == 1


# The table's rows themselves: the pipeline and the audit consumer both take them from here.


@pytest.mark.parametrize(
    ("error", "outcome", "code", "reason"),
    [
        (Invalid("no", [{"field": "x", "error": "y"}]), "invalid", "invalid", "invalid: no"),
        (InvalidCommand("bad"), "invalid", "invalid", "invalid: bad"),
        (BudgetExhausted("db down"), "unavailable", "unavailable", "unavailable: db down"),
        (KeyError("secret"), "error", "unavailable", "internal error: KeyError"),
    ],
)
def test_each_error_has_one_row(error: Exception, outcome: str, code: str, reason: str) -> None:
    row = failure_of(error)
    assert (row.outcome, row.code, row.reason) == (outcome, code, reason)
    reply = orjson.loads(row.reply())
    assert reply["error"]["code"] == code
    assert "secret" not in row.reply().decode()  # nothing internal goes back


@dataclass
class Delivered:
    headers: dict[str, object]
    redelivered: bool = True  # the broker's count is trusted only on a redelivery


@pytest.mark.parametrize(("count", "poison"), [(None, False), (4, False), (5, True)])
def test_poison_after_so_many_deliveries(count: int | None, poison: bool) -> None:
    raw = Delivered({} if count is None else {"x-delivery-count": count})
    row = poisoned(raw, 5)  # type: ignore[arg-type]
    assert (row is not None) == poison
    if row is not None:
        assert (row.outcome, row.code) == ("poison", "unavailable")
        assert row.reason == "poison: delivered 6 times without being completed"


# Poison by the attempts a worker began and never finished (production's rule).


class Attempts:
    """An AttemptLog in memory: attempts begun and not ended, by key."""

    def __init__(self) -> None:
        self.open: dict[str, int] = {}
        self.begun = 0

    async def begin(self, key: str) -> int:
        self.begun += 1
        before = self.open.get(key, 0)
        self.open[key] = before + 1
        return before

    async def end(self, key: str, *, done: bool) -> None:
        if done:
            self.open.pop(key, None)
        else:
            self.open[key] -= 1


def redelivery(count: int = 19) -> object:
    return delivered(
        "document.upload", upload(), redelivered=True, headers={"x-delivery-count": count},
        message_id="m-again", correlation_id="c-again",
    )


async def test_with_attempts_a_high_delivery_count_alone_is_not_poison(harness: Harness) -> None:
    """Deliveries lost to broker failures (x-delivery-count 19 here) count for nothing:
    the message is handled, and its record is gone once it is done."""
    attempts = Attempts()
    harness.pipeline.count_attempts(attempts)
    await seed(harness)
    await harness.pipeline.process(
        redelivery(), UploadDocumentIn, harness.runners["document.upload"], query=False  # type: ignore[arg-type]
    )
    assert harness.responder.last()["ok"] is True
    assert "d1" in harness.db.state.documents
    assert (attempts.begun, attempts.open) == (1, {})


async def test_the_first_delivery_records_nothing(harness: Harness) -> None:
    attempts = Attempts()
    harness.pipeline.count_attempts(attempts)
    await seed(harness)
    await harness.send("document.upload", upload())
    assert attempts.begun == 0


async def test_poison_after_so_many_workers_died_handling_it(harness: Harness) -> None:
    attempts = Attempts()
    harness.pipeline.count_attempts(attempts)
    await seed(harness)
    raw = redelivery(count=1)
    attempts.open[delivery_key(raw)] = 5  # type: ignore[arg-type]  # five workers began it and never ended (killed)
    await harness.pipeline.process(
        raw, UploadDocumentIn, harness.runners["document.upload"], query=False  # type: ignore[arg-type]
    )
    assert harness.responder.dead[-1][0] == "poison: 5 workers died handling it"
    assert "d1" not in harness.db.state.documents
    assert attempts.open == {}


async def test_an_attempt_handed_back_is_taken_back(harness: Harness) -> None:
    """The reply cannot go out (the broker connection went away): the delivery goes back
    to the queue, and its attempt is taken back: the worker did not die of it."""
    attempts = Attempts()
    harness.pipeline.count_attempts(attempts)
    await seed(harness)

    async def connection_lost(*_: object, **__: object) -> None:
        raise ConnectionResetError("the broker went away")

    harness.responder.reply = connection_lost  # type: ignore[method-assign]
    await harness.pipeline.process(
        redelivery(), UploadDocumentIn, harness.runners["document.upload"], query=False  # type: ignore[arg-type]
    )
    assert list(attempts.open.values()) == [0]
    assert not harness.responder.dead
