"""``--py-spy DIR``: sample the worker with py-spy during each docbus phase.

For every phase, ``DIR/<n>-<phase>.txt`` holds py-spy's raw collapsed stacks (one line
per distinct stack: ``frame;frame;... count``, idle threads excluded, so the counts are
the worker's busy samples) and ``DIR/<n>-<phase>.summary.txt`` the functions with the
largest shares, by own time (leaf frame) and by inclusive time (anywhere on the stack).
py-spy is not a dependency: ``pip install py-spy``.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

from bench.stats import BenchError

TOP = 25


class Spy:
    """One py-spy recorder at a time on one process."""

    def __init__(self, pid: int, out_dir: Path) -> None:
        binary = shutil.which("py-spy") or shutil.which("py-spy", path=Path(sys.executable).parent)
        if binary is None:
            raise BenchError("--py-spy needs py-spy on PATH (pip install py-spy)")
        self._binary = binary
        self._pid = pid
        self._dir = out_dir
        self._dir.mkdir(parents=True, exist_ok=True)
        self._count = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._raw: Path | None = None

    def start(self, phase: str) -> None:
        self._count += 1
        slug = re.sub(r"[^a-z0-9]+", "-", phase.lower()).strip("-")
        self._raw = self._dir / f"{self._count:02d}-{slug}.txt"
        self._proc = subprocess.Popen(  # noqa: S603 - py-spy from PATH, fixed arguments
            [self._binary, "record", "--pid", str(self._pid), "--format", "raw", "--function",
             "--rate", "200", "--nonblocking", "--output", str(self._raw)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
        )

    def stop(self) -> Path | None:
        """Stop recording; the summary's path (None if py-spy wrote nothing)."""
        if self._proc is None or self._raw is None:
            return None
        self._proc.send_signal(signal.SIGINT)
        try:
            self._proc.wait(60)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._proc = None
        if not self._raw.exists():
            return None
        summary = self._raw.with_suffix(".summary.txt")
        summary.write_text(summarize(self._raw.read_text()))
        return summary


def summarize(raw: str, top: int = TOP) -> str:
    """Own and inclusive shares of the busy samples, per function, largest first."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if total == 0:
        return "no samples\n"
    lines = [f"{total} busy samples (200/s)", "", "own time (leaf frame):"]
    lines += [f"{100 * n / total:6.1f}%  {frame}" for frame, n in own.most_common(top)]
    lines += ["", "inclusive time (on the stack):"]
    lines += [f"{100 * n / total:6.1f}%  {frame}" for frame, n in inclusive.most_common(top * 2)]
    return "\n".join(lines) + "\n"
