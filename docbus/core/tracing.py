"""The trace context of the message being handled, as the core sees it: an opaque value.

Rules:

- The inbound side binds a ``Trace`` per delivery (and per use case) with ``bind``; what
  runs under it (a unit of work writing events to the outbox, a reply) reads it with
  ``current``: each event keeps the ``traceparent`` of the command that caused it.
- Work done for a command in another task (a group commit runs many commands in one)
  makes the command's trace current again around that work with ``resumed``.
- Nothing here knows OpenTelemetry: the inbound side decides what a Trace is (a mere
  W3C ``traceparent`` passed through when tracing is off, a span's context when on).
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from typing import Protocol


class Trace(Protocol):
    """A message's W3C trace context, and how to make it current again."""

    @property
    def traceparent(self) -> str: ...

    @property
    def tracestate(self) -> str | None: ...

    def attach(self) -> object:
        """Make whatever else this trace needs current (OpenTelemetry's context); the token
        given back is handed to ``detach``."""

    def detach(self, token: object) -> None: ...


_CURRENT: ContextVar[Trace | None] = ContextVar("docbus_trace", default=None)


def current() -> Trace | None:
    """The trace of the message being handled in this context, if any."""
    return _CURRENT.get()


def bind(trace: Trace | None) -> Token[Trace | None]:
    return _CURRENT.set(trace)


def unbind(token: Token[Trace | None]) -> None:
    _CURRENT.reset(token)


class resumed:  # used like a function: ``with resumed(trace):``
    """Make ``trace`` current (and what it attaches) for the block; None changes nothing
    but the binding."""

    __slots__ = ("_attached", "_token", "_trace")

    def __init__(self, trace: Trace | None) -> None:
        self._trace = trace

    def __enter__(self) -> None:
        self._token = _CURRENT.set(self._trace)
        self._attached = None if self._trace is None else self._trace.attach()

    def __exit__(self, *exc: object) -> None:
        if self._trace is not None:
            self._trace.detach(self._attached)
        _CURRENT.reset(self._token)
