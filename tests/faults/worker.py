"""The fault suite's worker: ``python -m tests.faults.worker``, the production worker
(every role, wired by consumers/bootstrap.py) with the suite's crash points installed.

Configured like ``docbus worker`` (the same ``DOCBUS_*`` settings), plus two switches
only this entry point reads:

- ``DOCBUS_CRASH_AT=point[:n]``: die the n-th time the point is passed (tests/faults/crash.py);
- ``DOCBUS_FAULTS_NAIVE_RELAY=1``: the control run's deliberately broken relay.

Without them it runs exactly the production graph.
"""

from __future__ import annotations

import os

from docbus.consumers.bootstrap import run_worker
from docbus.consumers.logging import configure_logging
from docbus.consumers.settings import Settings
from docbus.consumers.worker import ROLES
from docbus.ops.cli import run_loop
from tests.faults.crash import crashing


def main() -> None:
    settings = Settings()
    configure_logging(settings.worker.log_level, settings.worker.log_format)
    overrides = crashing(
        os.environ.get("DOCBUS_CRASH_AT", ""),
        naive=os.environ.get("DOCBUS_FAULTS_NAIVE_RELAY", "") == "1",
    )
    run_loop(run_worker(settings, ROLES, overrides), settings.worker.event_loop)


if __name__ == "__main__":
    main()
