"""The Valkey Streams part of the AsyncAPI document (DOCBUS_EVENT_TRANSPORTS).

With ``valkey-streams`` among the transports the relay also adds every event to a stream
(adapters/valkey_streams.py), and the audit reader may read it in a consumer group. The
stream's key, its length bound and the group come from ``consumers.settings`` (their
defaults are what the document names). AsyncAPI has no Redis bindings, so what the
stream does is said in descriptions and ``x-`` fields.
"""

from __future__ import annotations

from typing import Any

from docbus.consumers.settings import StreamsSettings

Json = dict[str, Any]
SERVER, CHANNEL, MESSAGE = "valkey", "eventStream", "StreamEntry"
_DEFAULTS = {name: field.default for name, field in StreamsSettings.model_fields.items()}


def server() -> Json:
    return {
        "host": "localhost:6380",
        "protocol": "redis",
        "description": "Valkey 8 or Redis 7, holding the event stream when "
        "`DOCBUS_EVENT_TRANSPORTS` includes `valkey-streams` (`DOCBUS_STREAMS_URL`, by "
        "default the cache's server).",
    }


def channel(event_messages: list[str]) -> Json:
    stream = _DEFAULTS["stream"]
    return {
        "address": stream,
        "title": "Events on Valkey Streams",
        "description": f"The stream `{stream}` (`DOCBUS_STREAMS_STREAM`): every event of "
        "`doc.events`, in commit order, added by the relay when `valkey-streams` is among "
        "`DOCBUS_EVENT_TRANSPORTS`. An event leaves the outbox only once every transport "
        "confirmed it, so the stream and `doc.events` carry the same events. Entry ids are "
        "the server's. A re-publish within `DOCBUS_STREAMS_DEDUP_SECONDS` "
        f"({_DEFAULTS['dedup_seconds']} s) is not added again (key `{stream}:seen:<event_id>`"
        f"); beyond it, de-duplicate by `event_id`. Bounded: `XADD MAXLEN ~ "
        f"{_DEFAULTS['maxlen']}` (`DOCBUS_STREAMS_MAXLEN`). Events in the body: "
        + ", ".join(f"`{name}`" for name in event_messages) + ".",
        "servers": [{"$ref": f"#/servers/{SERVER}"}],
        "messages": {MESSAGE: {"$ref": f"#/components/messages/{MESSAGE}"}},
        "x-dead-letters": f"{stream}:dead: entries the audit reader could not use, with a "
        "`reason` and the original `entry_id` field",
    }


def message() -> Json:
    return {
        "name": MESSAGE,
        "title": "Stream entry",
        "summary": "One event as a stream entry: its fields, as XADD wrote them.",
        "contentType": "application/x-redis-stream-fields",
        "payload": {
            "type": "object",
            "required": ["event_id", "routing_key", "body"],
            "additionalProperties": False,
            "properties": {
                "event_id": {"type": "string", "description": "the event's `event_id`"},
                "routing_key": {
                    "type": "string",
                    "description": "its routing key on `doc.events` (e.g. `document.uploaded`)",
                },
                "body": {
                    "type": "string", "contentMediaType": "application/json",
                    "description": "the exact JSON bytes `doc.events` carries (one of the "
                    "event payloads of this document, chosen by the routing key)",
                },
                "traceparent": {
                    "type": "string",
                    "description": "W3C trace context of the command, only when it had one",
                },
            },
        },
    }


def operations() -> Json:
    ref = {"$ref": f"#/channels/{CHANNEL}"}
    entry = {"$ref": f"#/channels/{CHANNEL}/messages/{MESSAGE}"}
    return {
        "sendStreamEntry": {
            "action": "send", "channel": ref, "messages": [entry],
            "summary": "The relay adds every outbox event (one Lua script per batch: XADD "
            "unless already added, then the de-dup key).",
        },
        "receiveStreamAuditEvents": {
            "action": "receive", "channel": ref, "messages": [entry],
            "summary": "With `DOCBUS_AUDIT_SOURCE=valkey-streams`: XREADGROUP in the group "
            f"`{_DEFAULTS['audit_group']}`, XACK after the audit write, XAUTOCLAIM of "
            f"entries pending past {_DEFAULTS['reclaim_idle_ms']} ms (a dead reader's).",
        },
    }
