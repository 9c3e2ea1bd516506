"""Configuration from the environment, one class per concern, loaded only by the CLI."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


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

    url: str = Field("amqp://guest:guest@127.0.0.1:5672/", description="RabbitMQ URL")
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
    http_host: str = Field(
        "0.0.0.0",  # noqa: S104 - scraped and probed from outside the container
        description="address of the /healthz, /readyz and /metrics server",
    )
    http_port: int = Field(0, description="port of /healthz, /readyz, /metrics; 0 disables")
    ready_outbox_backlog: int = Field(
        10_000, description="not ready while more events than this wait in the outbox"
    )


class Settings:
    """Every concern's settings, read from the environment at once."""

    def __init__(self) -> None:
        self.database = DatabaseSettings()
        self.valkey = ValkeySettings()
        self.rabbit = RabbitSettings()
        self.worker = WorkerSettings()


def mask_url(url: str) -> str:
    """The URL with its password replaced by ``***`` (safe to print and log)."""
    from urllib.parse import urlsplit, urlunsplit

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
