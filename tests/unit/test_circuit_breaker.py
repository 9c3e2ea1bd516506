"""CircuitBreaker on a fake clock."""

from __future__ import annotations

import pytest

from docbus.adapters.circuit_breaker import Admission, BreakerState, CircuitBreaker


class FakeClock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def breaker(clock: FakeClock) -> CircuitBreaker:
    return CircuitBreaker(open_seconds=1.0, probe_seconds=5.0, clock=clock)


def opened(breaker: CircuitBreaker, clock: FakeClock) -> CircuitBreaker:
    breaker.failed()
    clock.now += 1.0
    return breaker


def test_a_closed_breaker_lets_every_call_through(breaker: CircuitBreaker) -> None:
    assert [breaker.admit() for _ in range(3)] == [Admission.ALLOW] * 3
    assert breaker.state is BreakerState.CLOSED


def test_a_failure_refuses_calls_for_open_seconds(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    breaker.failed()
    clock.now += 0.999
    assert (breaker.admit(), breaker.state) == (Admission.REJECT, BreakerState.OPEN)


def test_once_open_seconds_are_up_exactly_one_caller_probes(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    opened(breaker, clock)
    admissions = [breaker.admit() for _ in range(3)]
    assert admissions == [Admission.PROBE, Admission.REJECT, Admission.REJECT]
    assert breaker.state is BreakerState.HALF_OPEN


def test_a_successful_probe_closes_the_breaker(breaker: CircuitBreaker, clock: FakeClock) -> None:
    opened(breaker, clock).admit()
    breaker.succeeded()
    assert (breaker.admit(), breaker.state) == (Admission.ALLOW, BreakerState.CLOSED)


def test_a_failed_probe_opens_the_breaker_for_another_period(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    opened(breaker, clock).admit()
    breaker.failed()
    clock.now += 0.5
    assert breaker.admit() is Admission.REJECT
    clock.now += 0.5
    assert breaker.admit() is Admission.PROBE


def test_a_probe_that_never_reports_is_replaced_after_probe_seconds(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    opened(breaker, clock).admit()
    clock.now += 4.9
    assert breaker.admit() is Admission.REJECT
    clock.now += 0.1
    assert breaker.admit() is Admission.PROBE


def test_failed_says_whether_it_was_the_first_failure(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    assert (breaker.failed(), breaker.failed()) == (True, False)
    clock.now += 1.0
    breaker.admit()
    assert breaker.failed() is False


def test_require_probe_lets_the_next_call_probe_at_once(breaker: CircuitBreaker) -> None:
    breaker.require_probe()
    assert [breaker.admit(), breaker.admit()] == [Admission.PROBE, Admission.REJECT]
