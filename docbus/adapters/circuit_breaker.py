"""A circuit breaker: after a failure, leave a dependency alone for a while, then probe it.

- closed: every call goes through (``ALLOW``).
- open: calls are refused at once (``REJECT``) for ``open_seconds`` after the last failure.
- half-open: once that time is up, exactly one caller is told to ``PROBE``; the others
  are still refused until the probe reports ``succeeded()`` (closed) or ``failed()``
  (open again). A probe that never reports (its task was cancelled) stops counting after
  ``probe_seconds`` and the next caller probes instead.

Only the probe closes the breaker: an ordinary call that succeeds proves little about
what the dependency went through while the breaker was open, and the caller may have to
check things (a restarted server, invalidations it missed) before trusting it again.
The clock is injected (monotonic seconds) so that tests need not sleep.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Admission(StrEnum):
    ALLOW = "allow"
    PROBE = "probe"
    REJECT = "reject"


class CircuitBreaker:
    def __init__(
        self,
        open_seconds: float = 1.0,
        *,
        probe_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.open_seconds = open_seconds
        self.probe_seconds = probe_seconds
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._until = 0.0

    @property
    def state(self) -> BreakerState:
        return self._state

    def admit(self) -> Admission:
        """May a call go to the dependency now, and as what?"""
        if self._state is BreakerState.CLOSED:
            return Admission.ALLOW
        now = self._clock()
        if now < self._until:
            return Admission.REJECT
        self._state, self._until = BreakerState.HALF_OPEN, now + self.probe_seconds
        return Admission.PROBE

    def succeeded(self) -> None:
        """The probe found the dependency fit: close."""
        self._state = BreakerState.CLOSED

    def failed(self) -> bool:
        """A call failed: open (again) for ``open_seconds``. True if the breaker was closed."""
        was_closed = self._state is BreakerState.CLOSED
        self._state, self._until = BreakerState.OPEN, self._clock() + self.open_seconds
        return was_closed

    def require_probe(self) -> None:
        """Trust nothing until a probe has succeeded, but let the next call probe at once."""
        self._state, self._until = BreakerState.OPEN, self._clock()
