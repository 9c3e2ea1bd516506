"""``docbus bench`` and ``python -m bench``: the benchmark's command line."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer


def bench(  # typer passes every option by name
    *,
    full: Annotated[
        bool, typer.Option(help="the issue's sizes: 1M documents stored, 100,000 commands")
    ] = False,
    chart: Annotated[
        Path | None,
        typer.Option(help="PNG chart to write; default: a new temporary directory (printed)"),
    ] = None,
    loop: Annotated[
        str | None,
        typer.Option(help="auto, uvloop or asyncio: the worker's, the raw baselines' and the"
                     " bench clients' loop alike; default DOCBUS_EVENT_LOOP, else auto"),
    ] = None,
    py_spy: Annotated[
        Path | None, typer.Option(help="profile the worker with py-spy into this directory")
    ] = None,
    smoke: Annotated[bool, typer.Option(hidden=True, help="tiny sizes (the test suite)")] = False,
    only: Annotated[
        str | None,
        typer.Option(help="run only the docbus phases whose name holds this (e.g. 'sharing');"
                     " the others' figures and targets are left out"),
    ] = None,
    search_docs: Annotated[
        int | None,
        typer.Option(help="documents of the search phase's org (default 100,000; --full"
                     " 1,000,000; env DOCBUS_BENCH_SEARCH_DOCS)"),
    ] = None,
) -> None:
    """Benchmark docbus against plain aio-pika on fresh servers; table, chart, JSON line."""
    from dataclasses import replace

    from bench.config import BenchConfig
    from bench.runner import main

    config = BenchConfig.smoke() if smoke else BenchConfig.full() if full else BenchConfig()
    if search_docs is None and os.environ.get("DOCBUS_BENCH_SEARCH_DOCS"):
        search_docs = int(os.environ["DOCBUS_BENCH_SEARCH_DOCS"])
    if search_docs is not None:
        config = replace(config, search_documents=search_docs)
    raise typer.Exit(main(config, chart, py_spy, loop, only))
