"""``docbus doctor``: check configuration, connectivity, migrations and topology, and say
what to fix.

Each check is independent (one that fails does not hide the others) and read-only: the
doctor declares nothing, migrates nothing and consumes nothing. Topology is checked with
passive declarations, one channel per check (a missing queue closes its channel).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass

from docbus.consumers.settings import mask_url as mask
from docbus.ops.reach import Unreachable, describe, reaching

CHECK_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True
    """A failed optional check (the cache) means degraded, not broken."""

    def as_json(self) -> dict[str, object]:
        return asdict(self)


Probe = Callable[[], Awaitable[Check]]


async def run_checks(probes: list[Probe]) -> list[Check]:
    """Run every probe within its time limit; a probe that raises fails its own check."""
    return [await _guarded(probe) for probe in probes]


async def _guarded(probe: Probe) -> Check:
    name = getattr(probe, "check_name", probe.__name__)
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            return await probe()
    except Unreachable as error:
        return Check(
            name, False, str(error), f"start {error.server} or correct the URL",
            required=name != "valkey",
        )
    except TimeoutError:
        return Check(name, False, f"no answer within {CHECK_TIMEOUT:g} s", "is the server hung?")
    except Exception as error:
        return Check(name, False, f"{type(error).__name__}: {describe(error)}")


def _named(name: str, probe: Probe) -> Probe:
    probe.check_name = name  # type: ignore[attr-defined]
    return probe


def configuration() -> tuple[Check, object | None]:
    """Settings parsed from the environment, or the variable that is wrong."""
    from pydantic import ValidationError

    from docbus.consumers.settings import Settings

    try:
        settings = Settings()
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = ".".join(map(str, first["loc"])) or "(settings)"
        return Check("configuration", False, f"{where}: {first['msg']}", "fix that variable"), None
    return Check("configuration", True, "settings read from the environment"), settings


def postgres_probe(url: str) -> Probe:
    async def probe() -> Check:
        import asyncpg

        from docbus.adapters.postgres.database import asyncpg_dsn

        async with reaching("PostgreSQL", url):
            conn = await asyncpg.connect(asyncpg_dsn(url), timeout=5)
        try:
            version = await conn.fetchval("SHOW server_version")
        finally:
            await conn.close()
        return Check("postgresql", True, f"{mask(url)}: PostgreSQL {version}")

    return _named("postgresql", probe)


def migrations_probe(url: str) -> Probe:
    async def probe() -> Check:
        import asyncpg
        from alembic.script import ScriptDirectory

        from docbus.adapters.postgres.database import asyncpg_dsn
        from docbus.adapters.postgres.migrate import alembic_config

        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        async with reaching("PostgreSQL", url):
            conn = await asyncpg.connect(asyncpg_dsn(url), timeout=5)
        try:
            exists = await conn.fetchval("SELECT to_regclass('alembic_version') IS NOT NULL")
            current = (
                await conn.fetchval("SELECT version_num FROM alembic_version") if exists else None
            )
        finally:
            await conn.close()
        if current == head:
            return Check("migrations", True, f"at head ({head})")
        return Check(
            "migrations", False, f"database at {current or 'no revision'}, code at {head}",
            "run `docbus migrate` (or start the worker with --migrate-first)",
        )

    return _named("migrations", probe)


def rabbit_probe(url: str) -> Probe:
    async def probe() -> Check:
        from docbus.adapters.amqp_failover import connect_first

        async with reaching("RabbitMQ", url):
            connection = await connect_first(url, timeout=5)
        async with connection:
            props = connection.transport.connection.server_properties  # type: ignore[union-attr]
            version = _text(props.get("version", "?"))
        return Check("rabbitmq", True, f"{mask(url)}: RabbitMQ {version}")

    return _named("rabbitmq", probe)


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def topology_probe(url: str) -> Probe:
    async def probe() -> Check:
        missing = await _missing_topology(url)
        if not missing:
            return Check("topology", True, "every exchange and queue of the contract exists")
        return Check(
            "topology", False, f"missing: {', '.join(missing)}",
            "run `docbus migrate` (it declares the topology) or start a worker once",
        )

    return _named("topology", probe)


async def _missing_topology(url: str) -> list[str]:
    from aiormq.exceptions import ChannelClosed

    from docbus.adapters.amqp_failover import connect_first
    from docbus.consumers.topology import (
        AUDIT_QUEUE_NAME,
        COMMANDS,
        DEAD,
        DEAD_QUEUE_NAME,
        EVENTS,
        ROUTES,
    )

    exchanges = [COMMANDS.name, EVENTS.name, DEAD.name]
    queues = [DEAD_QUEUE_NAME, AUDIT_QUEUE_NAME, *(route.queue for route in ROUTES)]
    missing: list[str] = []
    async with reaching("RabbitMQ", url):
        connection = await connect_first(url, timeout=5)
    async with connection:
        for name in exchanges + queues:
            channel = await connection.channel()
            try:
                if name in exchanges:
                    await channel.declare_exchange(name, passive=True)
                else:
                    await channel.declare_queue(name, passive=True)
            except ChannelClosed:
                missing.append(f"{'exchange' if name in exchanges else 'queue'} {name}")
            else:
                await channel.close()
    return missing


def valkey_probe(url: str) -> Probe:
    async def probe() -> Check:
        from valkey.asyncio import Valkey

        client = Valkey.from_url(url, socket_timeout=3, socket_connect_timeout=3)
        try:
            async with reaching("Valkey", url):
                info = await client.info("server")
        finally:
            await client.aclose()
        name = "Valkey" if "valkey_version" in info else "Redis"
        version = info.get("valkey_version") or info.get("redis_version", "?")
        return Check("valkey", True, f"{mask(url)}: {name} {version}")

    return _named("valkey", probe)


def cerbos_probe(address: str) -> Probe:
    """DOCBUS_ACCESS_DECIDER=cerbos: the Cerbos server answers (every decision needs it)."""

    async def probe() -> Check:
        import grpc

        from docbus.adapters.cerbos_decider import connect

        client = connect(address)
        try:
            info = await client.server_info()
        except grpc.aio.AioRpcError as error:
            return Check("cerbos", False, f"{address}: {error.code().name}: {error.details()}",
                         "start Cerbos with deploy/cerbos/policies or set DOCBUS_CERBOS_ADDRESS")
        finally:
            await client.close()  # type: ignore[no-untyped-call]
        return Check("cerbos", True, f"{address}: Cerbos {info.version}")

    return _named("cerbos", probe)


async def diagnose() -> list[Check]:
    """Every check, in the order a person would fix things."""
    config, settings = configuration()
    if settings is None:
        return [config]
    from docbus.consumers.settings import Settings

    assert isinstance(settings, Settings)
    db, rabbit, valkey = settings.database.url, settings.rabbit.url, settings.valkey.url
    probes = [
        postgres_probe(db), migrations_probe(db), rabbit_probe(rabbit),
        topology_probe(rabbit), valkey_probe(valkey),
    ]
    if settings.access.access_decider == "cerbos":
        probes.append(cerbos_probe(settings.cerbos.address))
    return [config, *await run_checks(probes)]
