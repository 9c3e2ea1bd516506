"""Shared fixtures. Real servers come from tests/fixtures (one module per server)."""

pytest_plugins = [
    "tests.fixtures.postgres",
    "tests.fixtures.valkey",
    "tests.fixtures.rabbit",
]
