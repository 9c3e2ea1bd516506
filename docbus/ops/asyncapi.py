"""The AsyncAPI 3.0.0 document of contract version 1, generated from the code.

Point of view: the application this document describes is the docbus worker. It
*receives* commands and queries (each operation's ``reply`` is the answer it sends), it
*sends* events and dead letters, and its audit consumer *receives* every event. A client
does the mirror image of each operation.

Shapes are the pydantic models of ``consumers.schemas`` (every JSON schema sits in
``components/schemas``), names and queue arguments come from ``consumers.topology``; only
prose is written here. Output is deterministic, so ``docs/asyncapi.json`` is checked for
drift by the tests (``make asyncapi`` rewrites it).

Where the AMQP bindings (0.3.0) cannot say what docbus does, the document says it with an
extension rather than bend a field:
- a channel binding is a routing key on an exchange *or* a queue, not both: command
  channels are routing keys on ``docbus.commands`` and name their queue in ``x-queue``;
- ``deliveryMode`` is an operation binding in 0.3.0, so persistence is stated there;
- no ``contentEncoding``: AMQP's content_encoding is a transfer coding (like gzip) that
  docbus neither sets nor accepts; the charset (UTF-8) is part of the content type rule.
This module is longer than most because the document is one piece; each function builds
one object of it.
"""

from __future__ import annotations

import re
from typing import Any, get_args

from faststream.rabbit import RabbitExchange, RabbitQueue
from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, models_json_schema

from docbus.consumers.schemas import inbound as wire_in
from docbus.consumers.schemas import outbound as wire_out
from docbus.consumers.settings import RabbitSettings
from docbus.consumers.topology import (
    COMMANDS,
    DEAD,
    ERROR_HEADER,
    EVENTS,
    ROUTES,
    Route,
    audit_queue,
    command_queue,
    dead_queue,
)
from docbus.core.values import ROLE_CAPABILITIES, Capability
from docbus.ops import asyncapi_streams as streams
from docbus.ops.dead_letters import DOCBUS_HEADERS

Json = dict[str, Any]
BINDING_VERSION = "0.3.0"
REPLY_TO = "$message.header#/reply_to"
CORRELATION_ID = "$message.header#/correlation_id"
REPLIES, DEAD_CHANNEL, AUDIT_CHANNEL = "replies", "docbus.dead", "docbus.audit"
DELIVERY_LIMIT: int = RabbitSettings.model_fields["delivery_limit"].default

ERROR_CODES: dict[str, str] = {
    "invalid": "the message breaks the contract (also dead-lettered); `details` says where",
    "not_found": "no such folder or document, or the reader may not know it exists",
    "forbidden": "the actor lacks the membership or capability the command needs",
    "conflict": "the command contradicts the state (a folder name taken, a re-upload into "
    "another folder, removing the last owner, a folder moved below itself, a restore "
    "below a trashed folder, a purge of what is not in the trash)",
    "unavailable": "a dependency stayed down past the retry budget, or the message could "
    "not be processed (also dead-lettered); try again later",
}
EVENT_WHEN: dict[str, str] = {
    "folder.created": "CreateFolder took effect.",
    "document.uploaded": "A version was stored (version 1 or later).",
    "document.shared.{role}": "ShareDocument took effect; the routing key ends with the role.",
    "document.unshared": "RevokeShare took effect.",
    "org.member.changed": "SetMembership or RemoveMembership changed a membership.",
    "document.renamed": "RenameDocument took effect (contract v2).",
    "document.moved": "MoveDocument took effect (contract v2).",
    "document.trashed": "TrashDocument took effect (contract v2).",
    "document.restored": "RestoreDocument took effect (contract v2).",
    "document.purged": "A trashed document was purged for good: by PurgeDocument, by "
    "PurgeFolder (one per document) or by the retention sweeper (`purged_by` null).",
    "folder.renamed": "RenameFolder took effect (contract v2).",
    "folder.moved": "MoveFolder took effect, with the folder's subtree (contract v2).",
    "folder.trashed": "TrashFolder took effect: the folder and its subtree are in the trash.",
    "folder.restored": "RestoreFolder took effect: its subtree is back as it was trashed.",
    "folder.purged": "A trashed folder was purged with its subtree (`documents`: how many).",
    "folder.shared.{role}": "ShareFolder took effect (a new grant, or another role or "
    "expires_at); the routing key ends with the role (contract v2).",
    "folder.unshared": "UnshareFolder took effect (contract v2).",
    "document.share.expired": "A document share reached its expires_at and was removed by "
    "docbus (once per grant, within 10 s; `expired_at` is the grant's expires_at).",
    "folder.share.expired": "A folder share reached its expires_at and was removed by "
    "docbus (once per grant, within 10 s; `expired_at` is the grant's expires_at).",
}
DEAD_HEADERS: dict[str, str] = {
    ERROR_HEADER: "why the message was dead-lettered",
    "x-docbus-error-details": "for an invalid message: the validation details as a JSON list "
    "of {field, error} (the same as the `invalid` reply's details)",
    "x-docbus-original-exchange": "the exchange it was first published to",
    "x-docbus-original-routing-key": "the routing key it was first published with",
    "x-docbus-failed-at": "when it failed, RFC 3339 UTC",
    "x-docbus-original-user-id": "its user_id property, kept aside",
    "x-docbus-original-expiration": "its expiration property, kept aside (a dead letter "
    "does not expire)",
}
BROKER_DEATH = "x-death"
TRANSPORT = """\
The message contract of docbus, version 1.

**Point of view.** This document describes the docbus worker: it *receives* commands and \
queries on `{commands}` and answers each through the operation's `reply`; it *sends* \
events to `{events}` and dead letters to `{dead}`; its audit consumer *receives* every \
event from `{audit}`. A client does the opposite of each operation.

## Transport
- RabbitMQ, AMQP 0-9-1. Bodies are UTF-8 JSON objects sent with the AMQP property \
`content_type: application/json`. A body of another content type, or one that is not a \
JSON object, is `invalid`.
- Timestamps in bodies are RFC 3339 in UTC (`2026-11-24T10:00:00.123456Z` or `+00:00`).
- Identifiers (`doc_id`, `org_id`, `folder_id`, user ids) are strings of 1-128 characters \
from `[A-Za-z0-9._:@-]`, chosen by the upstream systems, not by docbus.
- `message_id` is a command's idempotency key: a command delivered twice with the same \
`message_id` has its effect once, and every delivery gets the same reply. A command \
without one is processed without that protection.
- `reply_to` + `correlation_id`: when `reply_to` is set, the worker publishes exactly one \
reply to the default exchange with routing key = `reply_to`, carrying the request's \
`correlation_id`. Direct reply-to (`amq.rabbitmq.reply-to`) works. Commands without \
`reply_to` get no reply; queries ({queries}) need one.
- The worker declares every exchange and queue at start-up (durable exchanges, durable \
quorum queues dead-lettering to `{dead}` after {limit} deliveries by default), so a \
client may publish as soon as a worker has started once.
- Events are published only for committed effects, at least once each, persistent; \
consumers de-duplicate by `event_id` (also the AMQP `message_id`).
- Dead letters: a message that is invalid, or that failed past the retry budget, ends in \
the queue `{dead}` with its original body and properties and a header `{error_header}` \
saying why; if it had `reply_to`, the sender also gets an error reply. Nothing is \
dropped silently.

## Consistency
Once a command's reply (or, for a command sent without `reply_to`, its event) has been \
published, every later query reflects it: a listing or a get never serves a cached value \
older than an acknowledged write. A revoked share or a removed membership takes effect \
for the very next command.
"""
ACCESS = """
## Roles and capabilities
{table}

An org `admin` has every capability on every document of the org. A member who holds no \
role on a document cannot see it: it is absent from their listings and `document.get` \
answers `not_found`. Nothing crosses organisations.
"""


class _ComponentNames(GenerateJsonSchema):
    """Component keys allow ``[A-Za-z0-9._-]``: ``Success[FolderOut]`` is ``Success.FolderOut``."""

    def normalize_name(self, name: str) -> str:
        return re.sub(r"[^A-Za-z0-9._-]", "", name.replace("[", "."))


def build_document() -> Json:
    """The whole AsyncAPI 3.0.0 document, as JSON-ready dicts and lists."""
    refs, component_schemas = _schemas()
    channels = _channels(component_schemas, refs)
    for channel in channels.values():  # every channel so far is RabbitMQ's
        channel["servers"] = [{"$ref": "#/servers/rabbitmq"}]
    events = [_message_name(m) for m in wire_out.EVENTS.values()]
    channels[streams.CHANNEL] = streams.channel(events)
    return {
        "asyncapi": "3.0.0",
        "info": _info(),
        "defaultContentType": "application/json",
        "servers": {**_servers(), streams.SERVER: streams.server()},
        "channels": channels,
        "operations": {**_operations(), **streams.operations()},
        "components": {
            "schemas": component_schemas,
            "messages": {**_messages(refs), streams.MESSAGE: streams.message()},
            "correlationIds": {"correlation_id": _correlation_id()},
        },
    }


# Schemas


def _reply_data() -> list[type[BaseModel]]:
    """Each reply's data model once, in routing key order."""
    return list(dict.fromkeys(wire_out.REPLY_DATA.values()))


def _success(data: type[BaseModel]) -> type[BaseModel]:
    return wire_out.Success[data]  # type: ignore[valid-type]  # a runtime parametrisation


def _schemas() -> tuple[dict[type[BaseModel], str], Json]:
    """Every payload's JSON schema in one namespace; ``$ref``s point into components."""
    inbound: list[type[BaseModel]] = list(wire_in.INBOUND.values())
    outbound: list[type[BaseModel]] = [
        *map(_success, _reply_data()), wire_out.Failure, *wire_out.EVENTS.values()
    ]
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        *((m, "validation") for m in inbound),
        *((m, "serialization") for m in outbound),
    ]
    mapping, top = models_json_schema(
        models, ref_template="#/components/schemas/{model}", schema_generator=_ComponentNames
    )
    refs: dict[type[BaseModel], str] = {
        model: ref["$ref"] for (model, _), ref in mapping.items() if issubclass(model, BaseModel)
    }
    return refs, dict(sorted(top["$defs"].items()))


def _schema_of(ref: str, component_schemas: Json) -> Json:
    schema: Json = component_schemas[ref.rsplit("/", 1)[1]]
    return schema


# Info and servers


def _info() -> Json:
    return {
        "title": "docbus",
        "version": "1.0.0",
        "description": _transport() + _access() + _error_table(),
    }


def _transport() -> str:
    queries = ", ".join(f"`{r.routing_key}`" for r in ROUTES if r.query)
    return TRANSPORT.format(
        commands=COMMANDS.name, events=EVENTS.name, dead=DEAD.name, audit=AUDIT_CHANNEL,
        queries=queries, limit=DELIVERY_LIMIT, error_header=ERROR_HEADER,
    )


def _access() -> str:
    rows = [
        f"| {role.value} | {', '.join(c.value for c in Capability if c in caps)} |"
        for role, caps in ROLE_CAPABILITIES.items()
    ]
    return ACCESS.format(table="\n".join(["| role | capabilities |", "| --- | --- |", *rows]))


def _error_table() -> str:
    codes = get_args(wire_out.ErrorOut.model_fields["code"].annotation)
    rows = [f"| `{code}` | {ERROR_CODES[code]} |" for code in codes]
    return "\n".join([
        "", "## Error codes", "A failed command or query is answered with "
        '`{"ok": false, "error": {"code", "message", "details"}}`. `message` is for people; '
        "clients branch on `code`.", "", "| code | meaning |", "| --- | --- |", *rows, "",
    ])


def _servers() -> Json:
    return {
        "rabbitmq": {
            "host": "localhost:5672",
            "protocol": "amqp",
            "protocolVersion": "0-9-1",
            "description": "RabbitMQ, virtual host `/` (the docker-compose setup).",
        }
    }


# Channels


def _exchange_binding(exchange: RabbitExchange) -> Json:
    return {
        "name": exchange.name, "type": exchange.type.value, "durable": exchange.durable,
        "autoDelete": exchange.auto_delete, "vhost": "/",
    }


def _queue_extension(queue: RabbitQueue) -> Json:
    return {
        "name": queue.name, "durable": queue.durable, "exclusive": queue.exclusive,
        "autoDelete": queue.auto_delete, "arguments": dict(queue.arguments or {}),
    }


def _routing_key_binding(exchange: RabbitExchange, queue: RabbitQueue | None = None) -> Json:
    binding: Json = {"is": "routingKey", "exchange": _exchange_binding(exchange)}
    if queue is not None:
        binding["x-queue"] = _queue_extension(queue)
    return {"amqp": {**binding, "bindingVersion": BINDING_VERSION}}


def _message_ref(name: str) -> Json:
    return {"$ref": f"#/components/messages/{name}"}


def _channels(component_schemas: Json, refs: dict[type[BaseModel], str]) -> Json:
    channels = {_command_channel_id(r): _command_channel(r) for r in ROUTES}
    channels[REPLIES] = _reply_channel()
    for key, model in wire_out.EVENTS.items():
        schema = _schema_of(refs[model], component_schemas)
        channels[_event_channel_id(key)] = _event_channel(key, model, schema)
    channels[DEAD_CHANNEL] = _dead_channel()
    channels[AUDIT_CHANNEL] = _audit_channel()
    return channels


def _command_channel_id(route: Route) -> str:
    return f"commands.{route.routing_key}"


def _command_channel(route: Route) -> Json:
    model = wire_in.INBOUND[route.routing_key]
    kind, kinds = ("Query", "Queries") if route.query else ("Command", "Commands")
    return {
        "address": route.routing_key,
        "title": f"{kind} {route.routing_key}",
        "description": f"{kinds} routed by `{route.routing_key}` on `{COMMANDS.name}` to the "
        f"quorum queue `{route.queue}`.",
        "messages": {_message_name(model): _message_ref(_message_name(model))},
        "bindings": _routing_key_binding(COMMANDS, command_queue(route, DELIVERY_LIMIT)),
    }


def _reply_channel() -> Json:
    names = [*map(_reply_name, _reply_data()), "Failure"]
    return {
        "address": None,
        "title": "Replies",
        "description": "Dynamic: the request's `reply_to`, published on the default "
        "exchange with routing key = `reply_to` (direct reply-to works).",
        "messages": {name: _message_ref(name) for name in names},
        "bindings": {"amqp": {
            "is": "routingKey", "exchange": {"name": "", "type": "default", "vhost": "/"},
            "bindingVersion": BINDING_VERSION,
        }},
    }


def _event_channel_id(routing_key: str) -> str:
    return "events." + re.sub(r"\.?\{\w+\}", "", routing_key)


def _event_channel(routing_key: str, model: type[BaseModel], schema: Json) -> Json:
    name = _message_name(model)
    channel: Json = {
        "address": routing_key,
        "title": f"Event {routing_key}",
        "description": EVENT_WHEN[routing_key],
        "messages": {name: _message_ref(name)},
        "bindings": _routing_key_binding(EVENTS),
    }
    if parameters := _parameters(routing_key, schema):
        channel["parameters"] = parameters
    return channel


def _parameters(address: str, schema: Json) -> Json:
    """``{name}`` in an address is the payload field of that name."""
    return {
        name: {
            "enum": list(schema["properties"][name]["enum"]),
            "description": f"the event's `{name}`",
            "location": f"$message.payload#/{name}",
        }
        for name in re.findall(r"\{(\w+)\}", address)
    }


def _dead_channel() -> Json:
    return {
        "address": None,
        "title": "Dead letters",
        "description": f"The fanout exchange `{DEAD.name}` and its quorum queue "
        f"`{dead_queue().name}`; the routing key is the original one (a fanout ignores it).",
        "messages": {"DeadLetter": _message_ref("DeadLetter")},
        "bindings": _routing_key_binding(DEAD, dead_queue()),
    }


def _audit_channel() -> Json:
    queue = audit_queue(DELIVERY_LIMIT)
    names = [_message_name(m) for m in wire_out.EVENTS.values()]
    binding = {
        "is": "queue",
        "queue": {k: v for k, v in _queue_extension(queue).items() if k != "arguments"},
        "x-arguments": dict(queue.arguments or {}),
        "x-bound-to": {"exchange": EVENTS.name, "routingKey": queue.routing()},
        "bindingVersion": BINDING_VERSION,
    }
    return {
        "address": queue.name,
        "title": "Audit",
        "description": f"Every event on `{EVENTS.name}` (bound to `#`), written once into "
        "the append-only audit log in PostgreSQL.",
        "messages": {name: _message_ref(name) for name in names},
        "bindings": {"amqp": binding},
    }


# Messages


def _message_name(model: type[BaseModel]) -> str:
    return model.__name__.removesuffix("In").removesuffix("Out")


def _reply_name(data: type[BaseModel]) -> str:
    return f"{_message_name(data)}Reply"


def _correlation_id() -> Json:
    return {
        "location": CORRELATION_ID,
        "description": "The AMQP correlation_id property: a reply carries its request's.",
    }


def _messages(refs: dict[type[BaseModel], str]) -> Json:
    messages = {_message_name(m): _command_message(m, refs) for m in wire_in.INBOUND.values()}
    for data in _reply_data():
        messages[_reply_name(data)] = _reply_message(data, refs)
    messages["Failure"] = _failure_message(refs)
    for key, model in wire_out.EVENTS.items():
        messages[_message_name(model)] = _event_message(key, model, refs)
    messages["DeadLetter"] = _dead_letter_message()
    return dict(sorted(messages.items()))


def _command_message(model: type[BaseModel], refs: dict[type[BaseModel], str]) -> Json:
    return {
        "name": _message_name(model),
        "title": _message_name(model),
        "summary": (model.__doc__ or "").strip(),
        "contentType": "application/json",
        "headers": _request_properties(),
        "payload": {"$ref": refs[model]},
        "correlationId": {"$ref": "#/components/correlationIds/correlation_id"},
    }


def _request_properties() -> Json:
    return {
        "type": "object",
        "description": "AMQP basic properties of a request (properties, not entries of the "
        "headers table). Its headers table may hold W3C trace context, `traceparent` and "
        "`tracestate`: docbus continues that trace, and its reply and every event the "
        "request causes carry a `traceparent` of it (without one, of a trace docbus starts).",
        "properties": {
            "content_type": {"const": "application/json"},
            "message_id": {"type": "string", "description": "the idempotency key"},
            "reply_to": {"type": "string", "description": "where the one reply goes; "
                         "required for queries"},
            "correlation_id": {"type": "string", "description": "copied into the reply"},
        },
        "required": ["content_type"],
    }


def _reply_message(data: type[BaseModel], refs: dict[type[BaseModel], str]) -> Json:
    keys = ", ".join(f"`{k}`" for k, m in wire_out.REPLY_DATA.items() if m is data)
    return {
        "name": _reply_name(data),
        "title": f"{_message_name(data)} reply",
        "summary": f'`{{"ok": true, "data": {_message_name(data)}}}`, the answer to {keys}.',
        "contentType": "application/json",
        "payload": {"$ref": refs[_success(data)]},
        "correlationId": {"$ref": "#/components/correlationIds/correlation_id"},
    }


def _failure_message(refs: dict[type[BaseModel], str]) -> Json:
    return {
        "name": "Failure",
        "title": "Failure reply",
        "summary": "The answer to any command or query that failed.",
        "description": _error_table().strip(),
        "contentType": "application/json",
        "payload": {"$ref": refs[wire_out.Failure]},
        "correlationId": {"$ref": "#/components/correlationIds/correlation_id"},
    }


def _event_message(key: str, model: type[BaseModel], refs: dict[type[BaseModel], str]) -> Json:
    return {
        "name": _message_name(model),
        "title": _message_name(model),
        "summary": EVENT_WHEN[key],
        "description": "Persistent, with the AMQP properties `message_id` = `event_id` and "
        "`type` = the routing key, and the header `traceparent` (W3C) of the trace of the "
        "command that caused it. Delivered at least once: de-duplicate by `event_id`.",
        "contentType": "application/json",
        "payload": {"$ref": refs[model]},
        "bindings": {"amqp": {"messageType": key, "bindingVersion": BINDING_VERSION}},
    }


def _dead_letter_message() -> Json:
    headers: Json = {
        name: {"type": "string", "description": DEAD_HEADERS[name]} for name in DOCBUS_HEADERS
    }
    headers[BROKER_DEATH] = {
        "type": "array", "description": "set by RabbitMQ when the queue dead-lettered it "
        "(the delivery limit was reached: the worker never completed it)",
    }
    return {
        "name": "DeadLetter",
        "title": "Dead letter",
        "summary": "A message that was invalid or failed past the retry budget.",
        "description": "The original body and properties, unchanged (the body may be any "
        f"bytes: it may be why it died), persistent, with `{ERROR_HEADER}` saying why. "
        f"Messages the broker dead-lettered (delivery limit) carry `{BROKER_DEATH}` instead.",
        "headers": {
            "type": "object", "properties": headers, "additionalProperties": True,
            "anyOf": [{"required": [ERROR_HEADER]}, {"required": [BROKER_DEATH]}],
        },
        "payload": {"description": "the original body, as it was received"},
    }


# Operations


def _ref(channel: str, message: str | None = None) -> Json:
    ref = f"#/channels/{channel}"
    return {"$ref": ref if message is None else f"{ref}/messages/{message}"}


def _camel(routing_key: str) -> str:
    return "".join(p.capitalize() for p in re.sub(r"\.?\{\w+\}", "", routing_key).split("."))


def _operations() -> Json:
    operations = {f"receive{_camel(r.routing_key)}": _command_operation(r) for r in ROUTES}
    for key, model in wire_out.EVENTS.items():
        operations[f"send{_camel(key)}"] = _event_operation(key, model)
    operations["sendDeadLetter"] = _dead_letter_operation()
    operations["receiveAuditEvents"] = _audit_operation()
    return operations


def _command_operation(route: Route) -> Json:
    model = wire_in.INBOUND[route.routing_key]
    channel = _command_channel_id(route)
    return {
        "action": "receive",
        "channel": _ref(channel),
        "summary": (model.__doc__ or "").strip(),
        "description": _command_description(route),
        "messages": [_ref(channel, _message_name(model))],
        "reply": {
            "address": {"location": REPLY_TO, "description": "the request's reply_to"},
            "channel": _ref(REPLIES),
            "messages": [
                _ref(REPLIES, _reply_name(wire_out.REPLY_DATA[route.routing_key])),
                _ref(REPLIES, "Failure"),
            ],
        },
        "bindings": {"amqp": {"ack": True, "bindingVersion": BINDING_VERSION}},
    }


def _command_description(route: Route) -> str:
    if route.query:
        needs = "A query: it needs `reply_to` (without one it is `invalid` and dead-lettered)."
    else:
        needs = f"Without `reply_to` there is no reply; `{EVENTS.name}` tells what changed."
    return (
        f"{needs} Acknowledged only after its effect committed and its reply was confirmed; "
        "a failure is answered with `Failure` (codes in the info description)."
    )


def _event_operation(key: str, model: type[BaseModel]) -> Json:
    channel = _event_channel_id(key)
    return {
        "action": "send",
        "channel": _ref(channel),
        "summary": EVENT_WHEN[key],
        "messages": [_ref(channel, _message_name(model))],
        "bindings": {"amqp": {
            "deliveryMode": 2, "mandatory": True, "timestamp": True,
            "bindingVersion": BINDING_VERSION,
        }},
    }


def _dead_letter_operation() -> Json:
    return {
        "action": "send",
        "channel": _ref(DEAD_CHANNEL),
        "summary": "Dead-letter a message that cannot be completed, before acknowledging it.",
        "messages": [_ref(DEAD_CHANNEL, "DeadLetter")],
        "bindings": {"amqp": {
            "deliveryMode": 2, "mandatory": True, "bindingVersion": BINDING_VERSION,
        }},
    }


def _audit_operation() -> Json:
    names = [_message_name(m) for m in wire_out.EVENTS.values()]
    return {
        "action": "receive",
        "channel": _ref(AUDIT_CHANNEL),
        "summary": "Write every event once into the audit log.",
        "messages": [_ref(AUDIT_CHANNEL, name) for name in names],
        "bindings": {"amqp": {"ack": True, "bindingVersion": BINDING_VERSION}},
    }
