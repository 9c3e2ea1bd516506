"""The AsyncAPI document: complete for the contract, self-contained, and committed as built.

The routing keys below are quoted from the contract (shared/contract.md) as well as read
from consumers.topology, so a key dropped or renamed on either side fails here.
Validation against the AsyncAPI 3.0.0 JSON schema runs when ``jsonschema`` is importable
and DOCBUS_ASYNCAPI_SCHEMA names the schema file (``npm pack @asyncapi/specs`` has it as
``package/schemas/3.0.0-without-$id.json``); no dependency is added for it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from docbus.consumers.schemas.outbound import EVENTS
from docbus.consumers.topology import ROUTES
from docbus.ops.asyncapi import build_document

COMMAND_KEYS = (
    "folder.create", "document.upload", "document.share", "document.unshare",
    "document.get", "folder.list", "org.member.set", "org.member.remove",
    # contract v2: lives of documents and folders
    "document.rename", "document.move", "document.revert", "document.trash",
    "document.restore", "document.purge", "folder.rename", "folder.move", "folder.trash",
    "folder.restore", "folder.purge", "folder.children", "trash.list",
    # contract v2: sharing
    "folder.share", "folder.unshare", "document.shares", "access.explain",
    "shared.with_me",
    # contract v2: search
    "document.search",
)
EVENT_KEYS = (
    "folder.created", "document.uploaded", "document.shared.{role}", "document.unshared",
    "org.member.changed", "document.renamed", "document.moved", "document.trashed",
    "document.restored", "document.purged", "folder.renamed", "folder.moved",
    "folder.trashed", "folder.restored", "folder.purged",
    "folder.shared.{role}", "folder.unshared", "document.share.expired",
    "folder.share.expired",
)
ERROR_CODES = ("invalid", "not_found", "forbidden", "conflict", "unavailable")
UPLOAD_FIELDS = {
    "doc_id", "org_id", "folder_id", "owner_id", "name", "mime_type", "blob_uri", "tags",
    "size_bytes", "sha256",
}
COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.json"


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return build_document()


def resolve(doc: dict[str, Any], ref: str) -> Any:
    """Follow a local JSON pointer (``#/a/b``); KeyError if it leads nowhere."""
    assert ref.startswith("#/"), f"{ref} is not local"
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def refs_in(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from refs_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs_in(value)


def channel_id(doc: dict[str, Any], exchange: str, address: str) -> str:
    (found,) = [
        name for name, channel in doc["channels"].items()
        if channel.get("address") == address
        and channel["bindings"]["amqp"].get("exchange", {}).get("name") == exchange
    ]
    return found


def operations_on(doc: dict[str, Any], channel: str) -> list[dict[str, Any]]:
    ref = f"#/channels/{channel}"
    return [op for op in doc["operations"].values() if op["channel"]["$ref"] == ref]


def payload(doc: dict[str, Any], message_ref: str) -> dict[str, Any]:
    message = resolve(doc, message_ref)
    message = resolve(doc, message["$ref"]) if "$ref" in message else message
    return resolve(doc, message["payload"]["$ref"])  # type: ignore[no-any-return]


def test_document_is_asyncapi_3_0_0(doc: dict[str, Any]) -> None:
    assert doc["asyncapi"] == "3.0.0"
    assert doc["info"]["title"] == "docbus"
    assert doc["info"]["version"] == "1.0.0"


def test_topology_has_exactly_the_contract_routing_keys() -> None:
    assert [r.routing_key for r in ROUTES] == list(COMMAND_KEYS)
    assert list(EVENTS) == list(EVENT_KEYS)


@pytest.mark.parametrize("key", sorted({*COMMAND_KEYS, *(r.routing_key for r in ROUTES)}))
def test_every_command_is_received_and_answered(doc: dict[str, Any], key: str) -> None:
    channel = channel_id(doc, "docbus.commands", key)
    (operation,) = operations_on(doc, channel)
    assert operation["action"] == "receive"
    assert operation["reply"]["address"]["location"] == "$message.header#/reply_to"
    assert operation["reply"]["channel"] == {"$ref": "#/channels/replies"}
    replies = [payload(doc, m["$ref"])["title"] for m in operation["reply"]["messages"]]
    assert len(replies) == 2
    assert replies[0].startswith("Success[")
    assert replies[1] == "Failure"


@pytest.mark.parametrize("key", sorted({*EVENT_KEYS, *EVENTS}))
def test_every_event_is_sent_persistent_on_doc_events(doc: dict[str, Any], key: str) -> None:
    channel = channel_id(doc, "doc.events", key)
    (operation,) = operations_on(doc, channel)
    assert operation["action"] == "send"
    assert operation["bindings"]["amqp"]["deliveryMode"] == 2


def test_document_shared_role_is_a_parameter(doc: dict[str, Any]) -> None:
    channel = doc["channels"][channel_id(doc, "doc.events", "document.shared.{role}")]
    assert channel["parameters"]["role"]["enum"] == ["viewer", "editor", "owner"]


def test_requests_and_replies_carry_the_correlation_id(doc: dict[str, Any]) -> None:
    requests = [
        message["$ref"]
        for key in COMMAND_KEYS
        for message in doc["channels"][channel_id(doc, "docbus.commands", key)]["messages"].values()
    ]
    replies = [m["$ref"] for m in doc["channels"]["replies"]["messages"].values()]
    for ref in [*requests, *replies]:
        correlation = resolve(doc, resolve(doc, ref)["correlationId"]["$ref"])
        assert correlation["location"] == "$message.header#/correlation_id"


def test_dead_letters_and_audit_have_channels(doc: dict[str, Any]) -> None:
    dead = doc["channels"]["docbus.dead"]
    assert dead["bindings"]["amqp"]["exchange"]["type"] == "fanout"
    (send,) = operations_on(doc, "docbus.dead")
    assert send["action"] == "send"
    headers = resolve(doc, dead["messages"]["DeadLetter"]["$ref"])["headers"]
    assert "x-docbus-error" in headers["properties"]
    audit = doc["channels"]["docbus.audit"]["bindings"]["amqp"]
    assert audit["queue"]["name"] == "docbus.audit"
    assert audit["x-arguments"]["x-queue-type"] == "quorum"


def test_every_command_queue_is_a_durable_quorum_queue(doc: dict[str, Any]) -> None:
    for route in ROUTES:
        binding = doc["channels"][channel_id(doc, "docbus.commands", route.routing_key)]
        queue = binding["bindings"]["amqp"]["x-queue"]
        assert (queue["name"], queue["durable"]) == (route.queue, True)
        assert queue["arguments"]["x-queue-type"] == "quorum"


def test_error_codes_are_documented(doc: dict[str, Any]) -> None:
    failure = doc["components"]["messages"]["Failure"]["description"]
    for code in ERROR_CODES:
        assert f"`{code}`" in doc["info"]["description"]
        assert f"`{code}`" in failure
    codes = doc["components"]["schemas"]["ErrorOut"]["properties"]["code"]["enum"]
    assert codes == list(ERROR_CODES)


def test_every_ref_resolves_inside_the_document(doc: dict[str, Any]) -> None:
    refs = set(refs_in(doc))
    assert refs
    for ref in refs:
        assert ref.startswith(("#/components/", "#/channels/", "#/servers/")), ref
        resolve(doc, ref)
    assert "$defs" not in json.dumps(doc)


def test_upload_document_payload_lists_exactly_the_contract_fields(
    doc: dict[str, Any],
) -> None:
    channel = doc["channels"][channel_id(doc, "docbus.commands", "document.upload")]
    (message,) = channel["messages"].values()
    schema = payload(doc, message["$ref"])
    assert set(schema["properties"]) == UPLOAD_FIELDS
    assert set(schema["required"]) == UPLOAD_FIELDS - {"size_bytes", "sha256"}
    assert schema["additionalProperties"] is False


def test_committed_document_is_up_to_date(doc: dict[str, Any]) -> None:
    assert COMMITTED.exists(), "docs/asyncapi.json is missing: run `make asyncapi`"
    committed = json.loads(COMMITTED.read_text())
    assert committed == json.loads(json.dumps(doc)), (
        "docs/asyncapi.json differs from the code: run `make asyncapi` and commit it"
    )


def test_document_validates_against_the_asyncapi_3_schema(doc: dict[str, Any]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    path = os.environ.get("DOCBUS_ASYNCAPI_SCHEMA")
    if not path:
        pytest.skip("set DOCBUS_ASYNCAPI_SCHEMA to the AsyncAPI 3.0.0 JSON schema file")
    schema = json.loads(Path(path).read_text())
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(doc), key=str)
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]


def test_the_event_stream_is_documented_on_its_own_server(doc: dict[str, Any]) -> None:
    stream = doc["channels"]["eventStream"]
    assert stream["address"] == "docbus:events"
    assert stream["servers"] == [{"$ref": "#/servers/valkey"}]
    assert doc["servers"]["valkey"]["protocol"] == "redis"
    entry = doc["components"]["messages"]["StreamEntry"]["payload"]
    assert entry["required"] == ["event_id", "routing_key", "body"]
    assert set(entry["properties"]) == {"event_id", "routing_key", "body", "traceparent"}
    actions = {doc["operations"][op]["action"] for op in ("sendStreamEntry",
                                                            "receiveStreamAuditEvents")}
    assert actions == {"send", "receive"}
    others = [c for name, c in doc["channels"].items() if name != "eventStream"]
    assert all(c["servers"] == [{"$ref": "#/servers/rabbitmq"}] for c in others)
