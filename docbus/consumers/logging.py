"""structlog configured once: one stream of JSON lines for machines, colours on a terminal.

Standard-library and third-party loggers (aio-pika, aiormq, asyncpg, FastStream, valkey)
go through the same processors and renderer, so a warning from a library is a JSON line
like docbus's own, never plain text inside the stream.
"""

from __future__ import annotations

import logging
import sys

import structlog
from structlog.tracebacks import ExceptionDictTransformer

QUIET_LIBRARIES = ("aiormq", "aio_pika", "asyncpg", "faststream", "valkey", "alembic")


def configure_logging(level: str = "INFO", fmt: str = "auto") -> None:
    console = fmt == "console" or (fmt == "auto" and sys.stderr.isatty())
    # Tracebacks without the frames' local variables: they may hold message bodies or
    # credentials, and rendering them costs seconds per error on a busy machine.
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer(
            exception_formatter=structlog.dev.RichTracebackFormatter(show_locals=False)
        )
        if console
        else structlog.processors.JSONRenderer()
    )
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    tracebacks: structlog.typing.Processor = (
        structlog.processors.ExceptionRenderer(ExceptionDictTransformer(show_locals=False))
        if not console
        else structlog.dev.set_exc_info
    )
    numeric = logging.getLevelName(level.upper())
    structlog.configure(
        processors=[*shared, tracebacks, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    _route_standard_logging(shared, tracebacks, renderer, numeric)


def _route_standard_logging(
    shared: list[structlog.typing.Processor],
    tracebacks: structlog.typing.Processor,
    renderer: structlog.typing.Processor,
    level: int,
) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                tracebacks,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Libraries speak at WARNING and above only: their INFO chatter (every connection,
    # every channel) is noise beside docbus's own lines.
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
