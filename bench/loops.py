"""The one event loop of a run: the worker, the raw baselines and the bench's own clients.

Rules (the worker's, ``ops.cli.run_loop``; bench sits below ops and cannot import it):

- ``auto``: uvloop when it is installed, asyncio's own loop otherwise;
- ``uvloop``: uvloop, and an error if it is not installed;
- ``asyncio``: asyncio's own loop.

The choice (``--loop``, else the worker's ``DOCBUS_EVENT_LOOP``, else ``auto``) is resolved
once, in the bench process, to ``uvloop`` or ``asyncio``, and that name is handed to every
process: ``DOCBUS_EVENT_LOOP`` in each worker's environment, an argument to each raw
process; the bench's own clients run on it too. Every process is then checked: the raw
processes report the loop they run on, a worker's loop is read off the libraries it has
mapped (uvloop's extension is loaded only when the worker runs on it). A mismatch stops
the run, so docbus and its baselines are never compared across loops.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Coroutine
from typing import Any, TypeVar

import psutil  # type: ignore[import-untyped]

from bench.stats import BenchError
from docbus.consumers.settings import WorkerSettings

T = TypeVar("T")
CHOICES = ("auto", "uvloop", "asyncio")


def configured() -> str:
    """The worker's own setting (``DOCBUS_EVENT_LOOP``, default ``auto``)."""
    return WorkerSettings().event_loop


def resolve(choice: str) -> str:
    """``uvloop`` or ``asyncio`` for ``choice`` (see the module's rules)."""
    if choice not in CHOICES:
        raise BenchError(f"unknown event loop {choice!r}: one of {', '.join(CHOICES)}")
    if choice == "asyncio":
        return "asyncio"
    if importlib.util.find_spec("uvloop") is not None:
        return "uvloop"
    if choice == "uvloop":
        raise BenchError("event loop uvloop asked for, but uvloop is not installed")
    return "asyncio"


def run(main: Coroutine[Any, Any, T], loop: str) -> T:
    """Run ``main`` on ``loop`` (a resolved name)."""
    if loop == "uvloop":
        import uvloop

        return uvloop.run(main)
    return asyncio.run(main)


def running() -> str:
    """The name of the loop this coroutine runs on."""
    module = type(asyncio.get_running_loop()).__module__
    return "uvloop" if module.split(".")[0] == "uvloop" else "asyncio"


def mapped_in(pid: int) -> str:
    """``uvloop`` if process ``pid`` has uvloop's extension loaded, else ``asyncio``."""
    paths = (m.path for m in psutil.Process(pid).memory_maps(grouped=True))
    return "uvloop" if any("/uvloop/" in path for path in paths) else "asyncio"


def check(what: str, found: str, expected: str) -> None:
    """BenchError unless ``what`` runs on the run's loop."""
    if found != expected:
        raise BenchError(f"{what} runs on {found}, the run on {expected}: ratios would mislead")
