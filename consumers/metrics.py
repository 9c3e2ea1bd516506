"""Prometheus metrics of a worker (``DOCBUS_METRICS_PORT`` > 0 serves them over HTTP).

Counters by routing key and outcome, handling time, deliveries in flight, events relayed,
events the broker did not take, outbox backlog, group-commit and cache figures: what an
operator needs to see that nothing is stuck.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

MESSAGES = Counter(
    "docbus_messages_total",
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
UNDECODABLE = Counter(
    "docbus_undecodable_messages_total",
    "Deliveries dead-lettered because a property, routing key or header was not decodable"
    " (not UTF-8, a timestamp out of range), by consumer and field",
    ["consumer", "field"],
)
RETRIES = Counter("docbus_retries_total", "Retries after a dependency was unavailable")
EVENTS_RELAYED = Counter("docbus_events_relayed_total", "Events the broker confirmed")
PUBLISH_FAILURES = Counter(
    "docbus_event_publish_failures_total",
    "Events the broker did not confirm (returned, nacked, timed out): retried next round",
)
OUTBOX_BACKLOG = Gauge("docbus_outbox_backlog", "Events committed but not yet confirmed")
GROUP_COMMIT = Gauge(
    "docbus_group_commit",
    "Group commit: groups committed, commands committed in them, groups split",
    ["figure"],
)
CACHE = Gauge("docbus_cache", "Reply cache figures of this worker", ["figure"])


def serve(port: int) -> None:
    """Expose /metrics on ``port`` (0: not at all)."""
    if port:
        start_http_server(port, addr="127.0.0.1")
