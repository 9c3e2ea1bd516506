"""One fuzzed message: routing key, body bytes and AMQP properties.

aio-pika sends valid UTF-8 only, and always a message_id (see run.unique). A case with
``raw`` set goes out as hand-made frames instead (tests/fixtures/raw_amqp.py): its
properties, with arbitrary bytes at one place (a short-string property, a header key or
value, a nested header, a timestamp out of range) or without any message_id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

REPLY_TO_US = "amq.rabbitmq.reply-to"


@dataclass(frozen=True)
class Case:
    route: str
    body: bytes
    content_type: str | None = "application/json"
    message_id: str | None = None
    correlation_id: str | None = None
    reply_to: str | None = REPLY_TO_US
    headers: dict[str, Any] = field(default_factory=dict)
    user_id: str | None = None
    type: str | None = None
    app_id: str | None = None
    raw: tuple[str, bytes] | None = None
    """(where, bytes) for a raw-frame case (see harness.with_raw); None: sent by aio-pika."""
    note: str = "valid"
    """How the case was made (a mutation's name), for the reader of a failure."""
