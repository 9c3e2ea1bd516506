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

from consumers.logging import configure_logging
from consumers.settings import Settings

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
    from consumers.bootstrap import run_worker
    from consumers.worker import ROLES

    settings = Settings()
    configure_logging(settings.worker.log_level, settings.worker.log_format)
    roles = frozenset(role or ROLES)
    if unknown := roles - ROLES:
        raise typer.BadParameter(f"unknown roles: {', '.join(sorted(unknown))}")
    valkey = None
    if embedded_valkey or settings.valkey.start_embedded:
        from devtools.embedded_valkey import ensure_valkey

        valkey = ensure_valkey(settings.valkey.url)
    try:
        if migrate_first:
            asyncio.run(_migrate(settings))
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


async def _migrate(settings: Settings) -> None:
    import aio_pika

    from adapters.postgres.migrate import ensure_database, upgrade_async
    from consumers.topology import declare_topology

    await ensure_database(settings.database.url)
    await upgrade_async(settings.database.url)
    connection = await aio_pika.connect(settings.rabbit.url)
    async with connection:
        await declare_topology(await connection.channel(), settings.rabbit.delivery_limit)


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
    from ops.asyncapi import build_document

    text = json.dumps(build_document(), indent=2) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)
        console.print(f"wrote {output}")


@app.command()
def demo(
    timeout: Annotated[float, typer.Option(help="seconds to wait for each reply")] = 10.0,
) -> None:
    """Send a readable scenario to a running worker and show its replies and events."""
    from ops.demo import run_demo

    asyncio.run(run_demo(Settings().rabbit.url, console, timeout=timeout))


@dead.command("list")
def dead_list(limit: Annotated[int, typer.Option(help="at most this many")] = 100) -> None:
    """Show dead letters with their reasons (they stay in the queue)."""
    from ops.dead_letters import list_dead

    letters = asyncio.run(list_dead(Settings().rabbit.url, limit))
    table = Table("message_id", "routing key", "reason", "failed at", "body")
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
    from ops.dead_letters import replay_dead

    def select(letter: object) -> bool:
        return (message_id is None or getattr(letter, "message_id", None) == message_id) and (
            routing_key is None or getattr(letter, "routing_key", None) == routing_key
        )

    replayed = asyncio.run(replay_dead(Settings().rabbit.url, limit, select))
    for letter in replayed:
        console.print(f"replayed {letter.message_id} -> {letter.exchange}/{letter.routing_key}")
    console.print(f"{len(replayed)} replayed")


@dead.command("purge")
def dead_purge(yes: Annotated[bool, typer.Option("--yes", help="do not ask")] = False) -> None:
    """Delete every dead letter."""
    from ops.dead_letters import purge_dead

    if not yes:
        typer.confirm("Delete every message in docbus.dead?", abort=True)
    console.print(f"purged {asyncio.run(purge_dead(Settings().rabbit.url))} message(s)")


def _add_bench() -> None:
    """``docbus bench`` where the bench package is installed (not in the runtime image)."""
    try:
        from bench.cli import bench
    except ImportError:
        return
    app.command()(bench)


_add_bench()

if __name__ == "__main__":
    app()
