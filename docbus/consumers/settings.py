"""Configuration from the environment, one class per concern, loaded only by the CLI."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from docbus.adapters.amqp_failover import broker_urls

Count = Annotated[int, Field(ge=0)]


class DatabaseSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOCBUS_DATABASE_")

    url: str = Field("postgresql://postgres@127.0.0.1:5432/docbus", description="PostgreSQL URL")
    pool_min: int = Field(2, description="connections kept open")
    pool_max: int = Field(16, description="at most this many connections per worker")
    command_timeout: float = Field(10.0, description="seconds one statement may take")


class ValkeySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOCBUS_VALKEY_")

    url: str = Field("redis://127.0.0.1:6380/0", description="Valkey (or Redis 7) URL")
    timeout: float = Field(0.25, description="socket timeout, seconds: a hung cache must not stall")
    ttl: int = Field(300, description="seconds a cached reply lives at most")
    breaker_open_seconds: float = Field(1.0, description="how long a failing cache is bypassed")
    start_embedded: bool = Field(
        False, description="start the packaged valkey-server if nothing answers at the URL"
    )


class RabbitSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOCBUS_RABBIT_")

    url: str = Field(
        "amqp://guest:guest@127.0.0.1:5672/",
        description="RabbitMQ URL, or a cluster's nodes: comma-separated URLs, or one URL with"
        " several hosts (amqp://u:p@h1:5672,h2:5672,h3:5672/vhost); they may differ only in"
        " host and port",
    )
    reconnect_interval: float = Field(
        1.0, description="seconds between attempts to reconnect (each tries every node once)",
        gt=0,
    )
    connect_budget: float = Field(
        60.0, description="seconds the worker keeps trying to reach a node at start-up", ge=0
    )
    leader_locator: str = Field(
        "balanced",
        description="x-queue-leader-locator of the quorum queues docbus declares: balanced or"
        " client-local (empty: not set, the broker's default or a policy decides)",
    )
    initial_group_size: int = Field(
        3, description="x-quorum-initial-group-size: members of a new quorum queue, at most the"
        " cluster's nodes (0: not set, all nodes)", ge=0,
    )
    declare_queues: str = Field(
        "missing",
        description="missing: declare only the queues that do not exist, use existing ones as"
        " they are (an operator's arguments win); always: declare every queue with docbus's"
        " arguments, failing on a queue made with others",
        pattern="^(missing|always)$",
    )
    prefetch: int = Field(64, description="unacknowledged messages per queue and worker")
    audit_prefetch: int = Field(
        256, description="unacknowledged events for the audit consumer (written in batches)"
    )
    heartbeat: int = Field(10, description="AMQP heartbeat, seconds")
    delivery_limit: int = Field(
        20, description="broker-side backstop: deliveries before a quorum queue dead-letters"
    )
    poison_after: int = Field(
        5, description="a message redelivered this many times is dead-lettered as poison"
    )


    def urls(self) -> list[str]:
        """The nodes' URLs (ValueError on a malformed list)."""
        return broker_urls(self.url)


class StreamsSettings(BaseSettings):
    """Events on Valkey Streams (DOCBUS_EVENT_TRANSPORTS, DOCBUS_AUDIT_SOURCE)."""

    model_config = SettingsConfigDict(env_prefix="DOCBUS_STREAMS_")

    url: str = Field("", description="Valkey (or Redis 7) URL of the stream; empty: the cache's")
    stream: str = Field("docbus:events", description="the stream's key")
    maxlen: int = Field(
        1_000_000, description="entries kept at most (XADD MAXLEN ~; trimming is approximate)",
        ge=1,
    )
    dedup_seconds: int = Field(
        3600, description="how long a re-published event is recognised (and not added again)",
        ge=1,
    )
    audit_group: str = Field("docbus.audit", description="consumer group of the audit reader")
    audit_batch: int = Field(256, description="entries the audit reader takes at once", ge=1)
    block_ms: int = Field(1000, description="how long one read waits for new entries", ge=1)
    reclaim_idle_ms: int = Field(
        30_000, description="a pending entry idle this long is reclaimed (its reader died)",
        ge=1,
    )
    timeout: float = Field(5.0, description="socket timeout, seconds (beyond block_ms)", gt=0)


DEVELOPMENT_CURSOR_KEY = "docbus-development-cursor-key"
"""The cursor key when none is set: every worker of every installation agrees on it (so
``make run`` and several local workers need no configuration), but it is public, so a
production deployment sets its own (docs/decisions.md)."""


class WorkerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOCBUS_")

    retry_budget: float = Field(
        30.0, description="seconds a message may wait for a dependency before `unavailable`"
    )
    shutdown_deadline: float = Field(
        25.0, description="seconds SIGTERM may take to finish in-flight work and drain"
    )
    inbox_retention_hours: float = Field(
        168.0, description="how long message_ids are remembered for de-duplication"
    )
    relay_batch: int = Field(500, description="outbox events published per round")
    group_commit: int = Field(
        64,
        description="at most this many commands that arrive together share one transaction"
        " (1 = one transaction per command)",
        ge=1,
    )
    trash_retention_days: float = Field(
        30.0, description="days an item stays in the trash before docbus purges it", gt=0
    )
    trash_sweep_seconds: float = Field(60.0, description="how often the trash is swept", gt=0)
    trash_sweep_batch: int = Field(100, description="items purged per sweep transaction", ge=1)
    grant_sweep_seconds: float = Field(
        2.0, description="how often expired grants are removed (their events published)",
        gt=0, le=8,
    )
    grant_sweep_batch: int = Field(500, description="grants removed per transaction", ge=1)
    groups_in_flight: int = Field(
        1, description="transactions of grouped commands running at once (each on a connection)",
        ge=1,
    )
    gc_thresholds: tuple[Count, Count, Count] = Field(
        (10_000, 20, 20),
        description="the cyclic garbage collector's thresholds once the worker is built"
        " (JSON, e.g. [700,10,10], CPython's defaults): see consumers/gc_policy.py",
    )
    gc_freeze: bool = Field(
        True, description="freeze what start-up built: full collections skip it"
    )
    event_loop: str = Field(
        "auto", description="uvloop, asyncio, or auto (uvloop when installed): the worker's loop"
    )
    cursor_key: SecretStr = Field(
        SecretStr(DEVELOPMENT_CURSOR_KEY),
        description="secret that signs listing cursors (HMAC-SHA256); the same on every"
        " worker; changing it makes outstanding cursors invalid",
        min_length=16,
    )
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING, ERROR")
    log_format: str = Field("auto", description="json, console, or auto (console on a TTY)")
    tracing: str = Field(
        "auto",
        description="OpenTelemetry spans: otlp, console, off, or auto (as OTEL_TRACES_EXPORTER"
        " says; off when unset). OTEL_SDK_DISABLED=true: off",
    )
    http_host: str = Field(
        "0.0.0.0",  # noqa: S104 - scraped and probed from outside the container
        description="address of the /healthz, /readyz and /metrics server",
    )
    http_port: int = Field(0, description="port of /healthz, /readyz, /metrics; 0 disables")
    ready_outbox_backlog: int = Field(
        10_000, description="not ready while more events than this wait in the outbox"
    )
    event_transports: str = Field(
        "rabbitmq",
        description="where the relay publishes events, comma-separated: rabbitmq,"
        " valkey-streams; an event leaves the outbox once every one confirmed it",
        pattern=r"^\s*(rabbitmq|valkey-streams)\s*(,\s*(rabbitmq|valkey-streams)\s*)*$",
    )
    audit_source: Literal["rabbitmq", "valkey-streams"] = Field(
        "rabbitmq", description="where the audit consumer reads events: rabbitmq or"
        " valkey-streams (which must then be among the event transports)",
    )

    def transports(self) -> tuple[str, ...]:
        """The event transports, each once, in the order given."""
        return tuple(dict.fromkeys(t.strip() for t in self.event_transports.split(",")))


class AccessSettings(BaseSettings):
    """Who decides access (core.decisions): docbus's built-in rule, or Cerbos over gRPC."""

    model_config = SettingsConfigDict(env_prefix="DOCBUS_")

    access_decider: Literal["builtin", "cerbos"] = Field(
        "builtin", description="builtin (in process), or cerbos: every access decision and"
        " every listing's filter is asked of the Cerbos server at DOCBUS_CERBOS_ADDRESS",
    )


class CerbosSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOCBUS_CERBOS_")

    address: str = Field("127.0.0.1:3593", description="host:port of Cerbos's gRPC API")
    timeout: float = Field(
        1.0, description="seconds one decision may take; slower or unreachable counts as"
        " unavailable (retried within DOCBUS_RETRY_BUDGET, never allowed)", gt=0,
    )


class Settings:
    """Every concern's settings, read from the environment at once."""

    def __init__(self) -> None:
        self.database = DatabaseSettings()
        self.valkey = ValkeySettings()
        self.rabbit = RabbitSettings()
        self.worker = WorkerSettings()
        self.streams = StreamsSettings()
        self.access = AccessSettings()
        self.cerbos = CerbosSettings()


def mask_url(url: str) -> str:
    """The URL with its password replaced by ``***`` (safe to print and log)."""
    from urllib.parse import urlsplit, urlunsplit

    if "," in url:  # a list of nodes: each masked
        return ",".join(mask_url(part) for part in url.split(","))
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def with_query(url: str, **params: object) -> str:
    """The URL with these query parameters set (e.g. the AMQP heartbeat)."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update({k: str(v) for k, v in params.items()})
    return urlunsplit(parts._replace(query=urlencode(query)))
