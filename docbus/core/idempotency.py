"""Idempotency keys: what makes two deliveries "the same command".

Modelled on payment APIs' idempotency keys:

- A ``message_id`` is scoped to its sender, where the broker vouches for the sender (the
  AMQP ``user_id`` property, which RabbitMQ checks against the login; "" when absent).
  Two senders may use the same message_id for two commands: both take effect.
- The key remembers what it was used for: the routing key and a fingerprint of the
  validated command body. Reusing a message_id for a different command (another routing
  key, or other parameters) is an error (``MessageIdReused``), never the old reply.
- Rows recorded before keys were scoped (schema 0001) have no routing key and no
  fingerprint: nothing can be verified against them, so a reuse of such a message_id,
  by any sender, is refused (``MessageIdUnverifiable``), with no effect.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Self

from docbus.core.errors import Conflict


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    """A command's claim to act once: (sender, message_id) names it, the rest describes it."""

    sender: str
    message_id: str
    routing_key: str
    fingerprint: str

    @classmethod
    def of(cls, sender: str, message_id: str, routing_key: str, canonical_body: bytes) -> Self:
        """The key of a command whose validated body, as canonical JSON (sorted keys, no
        insignificant white space), is ``canonical_body``."""
        return cls(sender, message_id, routing_key, fingerprint(routing_key, canonical_body))

    @property
    def slot(self) -> tuple[str, str]:
        """What the inbox keys its row by: one command per slot."""
        return self.sender, self.message_id


def fingerprint(routing_key: str, canonical_body: bytes) -> str:
    """sha256 (hex) over the routing key, a newline, and the canonical body."""
    return hashlib.sha256(routing_key.encode() + b"\n" + canonical_body).hexdigest()


@dataclass(frozen=True, slots=True)
class StoredReply:
    """What the inbox kept of a command: the reply's exact bytes as first sent, the cache
    scopes it changed, and what its key was used for (None: recorded before keys were
    scoped)."""

    reply: bytes
    scopes: tuple[str, ...]
    routing_key: str | None = None
    fingerprint: str | None = None

    def refusal(self, key: IdempotencyKey) -> Conflict | None:
        """None if ``key`` names the very command recorded here; else why it is refused."""
        if self.routing_key is None or self.fingerprint is None:
            return MessageIdUnverifiable()
        if (self.routing_key, self.fingerprint) != (key.routing_key, key.fingerprint):
            return MessageIdReused()
        return None


class MessageIdReused(Conflict):
    """The message_id was used before, by the same sender, for a different command."""

    def __init__(self) -> None:
        super().__init__("message_id reused for a different command")


class MessageIdUnverifiable(Conflict):
    """The message_id was recorded before keys were scoped: it cannot be verified."""

    def __init__(self) -> None:
        super().__init__(
            "message_id was used by a command recorded before idempotency keys were"
            " scoped to their command; send this command with a new message_id"
        )
