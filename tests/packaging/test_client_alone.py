"""The client installed alone: a fresh venv holding docbus-client (client/) and its test
tools, nothing of the worker, runs the client's own tests (tests/client: typed calls,
replies, events, connection loss, each against a stand-in responder on the real RabbitMQ).

The client is installed from a copy of client/ (not editable: what a wheel carries is
what is tested) and its tests from a copy of tests/client, outside the checkout, so that
nothing of the worker can be imported by accident.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str | Path, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


def worker_only_requirements() -> set[str]:
    """The worker's runtime dependencies that the client does not share (by name)."""
    def names(path: Path) -> set[str]:
        project = tomllib.loads(path.read_text())["project"]
        found = {re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0] for r in project["dependencies"]}
        return {n.lower().replace("_", "-") for n in found}

    return names(ROOT / "pyproject.toml") - names(ROOT / "client" / "pyproject.toml") - {
        "docbus-client"}


@pytest.fixture(scope="module")
def alone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with the client (and its ``test`` extra) only; returns the work directory."""
    work = tmp_path_factory.mktemp("client-alone")
    source = work / "client-src"
    shutil.copytree(ROOT / "client", source,
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"))
    done = run(sys.executable, "-m", "venv", work / "venv", cwd=work)
    assert done.returncode == 0, done.stderr
    done = run(work / "venv/bin/python", "-m", "pip", "install", "--quiet",
               f"{source}[test]", cwd=work)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    tests = work / "tests"
    shutil.copytree(ROOT / "tests" / "client", tests / "client",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "tests" / "__init__.py", tests / "__init__.py")
    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]
    ini = options["ini_options"]
    # The suite's pytest options (asyncio mode, markers, warnings), but not its testpaths.
    lines = [f"{key} = {value}" if isinstance(value, str) else
             f"{key} =\n    " + "\n    ".join(value)
             for key, value in ini.items() if key != "testpaths"]
    (work / "pytest.ini").write_text("[pytest]\n" + "\n".join(lines) + "\n")
    return work


def test_the_venv_holds_the_client_and_nothing_of_the_worker(alone: Path) -> None:
    done = run(alone / "venv/bin/python", "-m", "pip", "list", "--format=json", cwd=alone)
    installed = {p["name"].lower().replace("_", "-") for p in json.loads(done.stdout)}
    assert "docbus-client" in installed
    assert {"aio-pika", "orjson"} <= installed
    assert "docbus" not in installed
    assert installed & worker_only_requirements() == set()


def test_the_client_imports_and_the_worker_does_not(alone: Path) -> None:
    python = alone / "venv/bin/python"
    done = run(python, "-c", "import docbus_client, pathlib; "
               "print(docbus_client.DocbusClient.__name__); "
               "print((pathlib.Path(docbus_client.__file__).parent / 'py.typed').exists())",
               cwd=alone)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["DocbusClient", "True"]
    assert "site-packages" in run(python, "-c", "import docbus_client; "
                                  "print(docbus_client.__file__)", cwd=alone).stdout
    done = run(python, "-c", "import docbus", cwd=alone)
    assert "No module named 'docbus'" in done.stderr


def test_the_clients_own_tests_pass_with_the_client_alone(alone: Path) -> None:
    done = run(alone / "venv/bin/python", "-m", "pytest", "-q", "-p", "no:cacheprovider",
               "tests/client", cwd=alone)
    tail = done.stdout[-4000:] + done.stderr[-2000:]
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    if done.returncode == 0 and " passed" not in summary:
        pytest.skip(f"the client's tests all skipped (RabbitMQ down?): {summary}")
    assert done.returncode == 0, tail
    passed = int(re.search(r"(\d+) passed", summary).group(1))  # type: ignore[union-attr]
    assert passed >= 50, summary
