"""``python -m bench [--full] [--chart PATH] [--loop LOOP]``: the same as ``docbus bench``."""

from __future__ import annotations

import typer

from bench.cli import bench

if __name__ == "__main__":
    typer.run(bench)
