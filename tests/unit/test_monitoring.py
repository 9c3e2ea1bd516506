"""The shipped monitoring: alert rules that promtool accepts and whose unit tests pass, and
a dashboard and rules that only name metrics the worker exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from docbus.consumers import metrics

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
PROMQL_FUNCTIONS = {"sum", "rate", "histogram_quantile", "min", "max", "by", "up"}


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip("promtool not installed: `make tools` installs Debian's prometheus package")
    return found


def test_alert_rules_pass_promtool_check() -> None:
    done = subprocess.run(
        [promtool(), "check", "rules", "alerts.yml"], cwd=DEPLOY / "prometheus",
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_alert_rules_fire_as_their_unit_tests_say() -> None:
    done = subprocess.run(
        [promtool(), "test", "rules", "alerts_test.yml"], cwd=DEPLOY / "prometheus",
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def exported_names() -> set[str]:
    """Every sample name docbus's metrics module registers (counters with _total,
    histograms with _bucket...), plus names of counters read on scrape."""
    suffixes = {
        "counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"], "info": ["_info"]
    }
    names = {
        family.name + suffix
        for family in REGISTRY.collect()
        for suffix in suffixes.get(family.type, [""])
    }
    names |= {f"docbus_cache_{f}_total" for f in ("hits", "misses", "errors")}
    names |= {"docbus_group_commit_groups_total", "up"}
    return names


def metric_names(expr: str) -> set[str]:
    words = set(re.findall(r"[a-z_][a-z0-9_]*(?=\s*[{\[(]|\s*\)|\s*$|\s*[/>=<])", expr))
    return {w for w in words if w.startswith("docbus_")}


@pytest.mark.parametrize("source", ["dashboard", "alerts"])
def test_monitoring_names_only_exported_metrics(source: str) -> None:
    assert metrics.BUILD_VERSION
    if source == "dashboard":
        dashboard = json.loads((DEPLOY / "grafana" / "docbus-dashboard.json").read_text())
        exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    else:
        rules = (DEPLOY / "prometheus" / "alerts.yml").read_text()
        exprs = re.findall(r"expr: (?:\|\n)?(.+(?:\n {12}.+)*)", rules)
    used = set().union(*(metric_names(e) for e in exprs))
    assert used, "no metric found: the pattern is wrong"
    assert used <= exported_names(), used - exported_names()
