"""docbus's Cerbos policies (deploy/cerbos/policies) pass Cerbos's own policy tests
(``cerbos compile`` runs the ``*_test.yaml`` files), and those tests catch a wrong rule."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from docbus.devtools.embedded_cerbos import POLICIES, compile_policies


def _executed(output: str) -> tuple[int, int]:
    found = re.search(r"(\d+) tests executed(?: \[(\d+) OK\])?", output)
    assert found, output
    return int(found.group(1)), int(found.group(2) or 0)


def test_the_policies_compile_and_pass_their_own_tests(cerbos_path: str) -> None:
    result = compile_policies(cerbos_path)
    assert result.returncode == 0, result.stdout + result.stderr
    executed, ok = _executed(result.stdout)
    assert executed >= 40 and ok == executed, result.stdout


def test_the_policy_tests_catch_a_viewer_allowed_to_share(
    cerbos_path: str, tmp_path: Path
) -> None:
    broken = tmp_path / "policies"
    shutil.copytree(POLICIES, broken)
    document = broken / "document.yaml"
    text = document.read_text()
    wrong = text.replace("derivedRoles: [document_owner, folder_owner]",
                         "derivedRoles: [document_owner, folder_owner, document_viewer]")
    assert wrong != text
    document.write_text(wrong)
    result = compile_policies(cerbos_path, broken)
    assert result.returncode != 0, result.stdout
    assert "FAILED" in result.stdout.upper(), result.stdout
