"""Shared fixtures. Real servers come from tests/fixtures (one module per server)."""

pytest_plugins = [
    "tests.fixtures.postgres",
    "tests.fixtures.valkey",
    "tests.fixtures.rabbit",
    "tests.fixtures.cerbos",
]


def pytest_configure(config: object) -> None:
    """structlog's default renderer prints every frame's locals with each traceback:
    seconds per logged error on a busy machine, which made timing-bound tests flaky. The
    tests log plain tracebacks (the worker's own configuration has no locals either)."""
    import structlog

    processors = list(structlog.get_config()["processors"])
    processors[-1] = structlog.dev.ConsoleRenderer(
        exception_formatter=structlog.dev.plain_traceback
    )
    structlog.configure(processors=processors)
