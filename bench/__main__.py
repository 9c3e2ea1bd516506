"""``python -m bench [--full] [--chart PATH]``: the same as ``docbus bench``."""

from __future__ import annotations

import sys

from consumers.cli import app

if __name__ == "__main__":
    app(args=["bench", *sys.argv[1:]], prog_name="python -m bench")
