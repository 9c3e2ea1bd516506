"""Prometheus metrics of a worker, served on ``/metrics`` by consumers/health.py.

- Counters count (``*_total``): deliveries by routing key and outcome, retries, events
  relayed, publish errors, refused replies; and, read on each scrape from the components
  that keep them, group commit and cache figures (``counting(...)``).
- Gauges say how things stand: deliveries in flight, connections up (by server), outbox
  backlog and the age of its oldest event, dead letters waiting in ``docbus.dead``.
- Histograms: handling time by routing key, group sizes.
- ``docbus_build_info``: version and Python, value 1.
"""

from __future__ import annotations

import functools
import platform
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import PackageNotFoundError, version

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, Info
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

MESSAGES = Counter(
    "docbus_messages",
    "Deliveries handled, by routing key and outcome",
    ["routing_key", "outcome"],
)
HANDLING = Histogram(
    "docbus_handling_seconds",
    "From receipt to acknowledgement, by routing key",
    ["routing_key"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30),
)
IN_FLIGHT = Gauge("docbus_in_flight", "Deliveries being handled right now")


@functools.lru_cache(maxsize=4096)
def handled(routing_key: str, outcome: str) -> Counter:
    """``MESSAGES`` of this routing key and outcome: ``labels()`` looked up once (under
    its lock, it cost as much as the increment, twice per upload)."""
    return MESSAGES.labels(routing_key, outcome)


@functools.lru_cache(maxsize=4096)
def handling(routing_key: str) -> Histogram:
    """``HANDLING`` of this routing key, looked up once."""
    return HANDLING.labels(routing_key)
REPLIES_NOT_SENT = Counter(
    "docbus_replies_not_sent_total",
    "Replies not delivered: refused by the broker (the reply_to queue rejects messages), or"
    " not sent because reply_to names a docbus queue",
    ["reason"],
)
UNDECODABLE = Counter(
    "docbus_undecodable_messages",
    "Deliveries dead-lettered because a property, routing key or header was not decodable"
    " (not UTF-8, a timestamp out of range), by consumer and field",
    ["consumer", "field"],
)
RETRIES = Counter("docbus_retries", "Retries after a dependency was unavailable")
EVENTS_RELAYED = Counter("docbus_events_relayed", "Events the broker confirmed")
PUBLISH_FAILURES = Counter(
    "docbus_event_publish_failures",
    "Events the broker did not confirm (returned, nacked, timed out): retried next round"
)
REPLIES_REFUSED = Counter(
    "docbus_replies_refused", "Replies the broker refused (the command's effect stands)"
)
OUTBOX_BACKLOG = Gauge("docbus_outbox_backlog", "Events committed but not yet confirmed")
OUTBOX_AGE = Gauge(
    "docbus_outbox_oldest_age_seconds", "Age of the oldest event not yet confirmed (0: none)"
)
DEAD_LETTERS = Gauge("docbus_dead_letters", "Messages waiting in docbus.dead")
CONNECTION_UP = Gauge(
    "docbus_connection_up", "1 while the worker's connection to the server is up", ["server"]
)
GROUP_SIZE = Histogram(
    "docbus_group_size",
    "Commands per committed transaction (1: a command alone)",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
)
BUILD = Info("docbus_build", "The worker's version")


def _version() -> str:
    try:
        return version("docbus")
    except PackageNotFoundError:
        return "unknown"


BUILD_VERSION = _version()
BUILD.info({"version": BUILD_VERSION, "python": platform.python_version()})


class _Counting(Collector):
    """Figures a component keeps itself (ints that only grow), exported on each scrape."""

    def __init__(self, prefix: str, doc: str, read: Callable[[], Mapping[str, object]]) -> None:
        self._prefix = prefix
        self._doc = doc
        self._read = read

    def collect(self) -> Iterable[CounterMetricFamily | GaugeMetricFamily]:
        for figure, value in self._read().items():
            if isinstance(value, bool) or not isinstance(value, int):
                continue
            yield CounterMetricFamily(f"{self._prefix}_{figure}", f"{self._doc}: {figure}", value)


def counting(prefix: str, doc: str, read: Callable[[], Mapping[str, object]]) -> Collector:
    """Register ``read()``'s integer figures as counters ``<prefix>_<figure>_total``; the
    returned collector is unregistered with ``forget``."""
    collector = _Counting(prefix, doc, read)
    REGISTRY.register(collector)
    return collector


def forget(collector: Collector) -> None:
    REGISTRY.unregister(collector)
