"""``docbus demo`` told to a real worker: every chapter runs, and the sharing chapter (a
folder shared with a contractor until Friday, shortened to two seconds) shows the
contractor the subtree, the explanation, nothing after the expiry, and the expiry event."""

from __future__ import annotations

import re

import pytest
from rich.console import Console

from docbus.ops.demo import run_demo
from tests.e2e.conftest import WorkerProcess

pytestmark = pytest.mark.e2e


def steps(text: str) -> list[tuple[str, str, str]]:
    """(title, routing key, answer) of every step the demo printed."""
    return re.findall(r"^(.+?)  (\S+) -> (ok|invalid|not_found|forbidden|conflict)$", text,
                      re.MULTILINE)


async def test_the_demo_tells_every_chapter_with_the_contractor_whose_share_expires(
    worker: WorkerProcess, rabbit_url: str
) -> None:
    console = Console(record=True, width=400, color_system=None, force_terminal=False)
    await run_demo(rabbit_url, console, share_seconds=2.0)
    text = console.export_text()
    told = steps(text)
    answers = [(key, answer) for _, key, answer in told]
    assert ("document.share", "forbidden") in answers  # Bob may edit but not share
    assert answers[-1] == ("document.share", "invalid")  # the malformed message, last
    contractor = [s for s in told if "Dan" in s[0] or "Friday" in s[0]]
    assert [(key, answer) for _, key, answer in contractor] == [
        ("folder.share", "ok"), ("folder.list", "ok"), ("access.explain", "ok"),
        ("shared.with_me", "ok"), ("folder.list", "ok"), ("document.get", "not_found"),
    ]
    assert "2 s from now" in contractor[0][0]
    chapter = text[text.index("Friday"):]
    before, after = chapter.split("...Friday comes", 1)
    assert "nda-" in before and "'source': 'folder'" in before  # seen, and why
    assert "'documents': []" in after  # nothing after the expiry
    assert "docbus removed the grant and published folder.share.expired" in after
    table = text[text.index("Events published on doc.events"):]
    for key in ("folder.shared.viewer", "folder.share.expired", "document.uploaded",
                "folder.trashed", "folder.restored"):
        assert key in table, key
    assert "share expired at" in table
