"""One fuzzed message: routing key, body bytes and AMQP properties, as aio-pika sends
them (valid UTF-8; a message_id always, see run.unique).

Hook for raw properties: what aio-pika cannot send (property bytes that are not UTF-8,
no message_id at all) is tests/fixtures/raw_amqp.py's (another branch). To fuzz with
it, give Harness.publish a branch for a Case whose ``raw_properties`` is set (publish
those frames through raw_amqp instead of aio-pika) and let strategies.cases draw them;
the oracle already treats undecodable properties as a message to refuse (EITHER: the
worker may refuse it as invalid or drop it, but must keep its consumers).
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
    raw_properties: bytes | None = None
    """Reserved for the raw sender (see above); aio-pika cases leave it None."""
    note: str = "valid"
    """How the case was made (a mutation's name), for the reader of a failure."""
