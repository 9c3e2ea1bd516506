"""Errors raised by the docbus client.

Every error is a :class:`DocbusError`, so ``except DocbusError`` catches all of them.
Errors that come from the worker's reply envelope (``{"ok": false, "error": ...}``)
map one-to-one onto the contract's codes; the others are raised by the client itself.

Branch on the class (or on ``code``), never on ``message``: messages are for people.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class DocbusError(Exception):
    """Base of every docbus error: a contract ``code``, a human ``message``, ``details``."""

    def __init__(self, code: str, message: str, details: Sequence[Any] = ()) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = list(details)


class InvalidRequest(DocbusError):
    """The command broke the message contract (code ``invalid``); retrying will not help."""


class NotFound(DocbusError):
    """The entity does not exist, or the reader may not know that it does (``not_found``)."""


class Forbidden(DocbusError):
    """The actor lacks the capability the command needs (``forbidden``)."""


class Conflict(DocbusError):
    """The command contradicts the current state, e.g. a taken name (``conflict``)."""


class Unavailable(DocbusError):
    """A dependency stayed down past the worker's retry budget (``unavailable``)."""


class DocbusTimeout(DocbusError, TimeoutError):
    """No reply within the timeout. The command may still take effect: retry it with
    the same ``message_id`` to get its one reply without a second effect."""


class DocbusUnroutable(DocbusError):
    """The broker could not route the command to any queue (or its exchange is missing):
    the worker has probably never started. The command was not delivered."""


class DocbusConnectionError(DocbusError):
    """The client could not reach the broker."""


class DocbusConnectionLost(DocbusConnectionError):
    """The connection or channel went down while the request was in flight, so its reply
    can no longer arrive. The command may have taken effect: retry with the same
    ``message_id``."""


class DocbusProtocolError(DocbusError):
    """A reply that does not follow the contract's envelope or data shapes."""


ERRORS_BY_CODE: Mapping[str, type[DocbusError]] = {
    "invalid": InvalidRequest,
    "not_found": NotFound,
    "forbidden": Forbidden,
    "conflict": Conflict,
    "unavailable": Unavailable,
}


def error_from_envelope(error: Mapping[str, Any]) -> DocbusError:
    """The typed error for a reply's ``error`` object; unknown codes give a plain
    :class:`DocbusError` so that a newer worker cannot crash an older client."""
    code = str(error.get("code", "unknown"))
    details = error.get("details") or []
    if not isinstance(details, list):
        details = [details]
    error_class = ERRORS_BY_CODE.get(code, DocbusError)
    return error_class(code, str(error.get("message", "")), details)
