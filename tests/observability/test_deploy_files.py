"""The shipped alert rules and Grafana dashboard: valid, tested alert cases, and reading only
metrics kefu exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from kefu.observability.metrics import METRIC_NAMES

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "kefu-rules.yml"
RULE_TESTS = DEPLOY / "prometheus" / "kefu-rules.test.yml"
DASHBOARD = DEPLOY / "grafana" / "kefu-dashboard.json"
# PromQL words that are not metric names (the functions and keywords the files use, and
# Grafana's label_values for its variables).
NOT_METRICS = {
    "sum", "rate", "increase", "histogram_quantile", "scalar", "avg", "max", "min", "count",
    "by", "without", "offset", "and", "or", "unless", "on", "ignoring", "group_left",
    "group_right", "bool", "label_values",
}  # fmt: skip
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_MATCHERS = re.compile(r"\{[^}]*\}")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring)\s*\([^)]*\)")
_RANGES = re.compile(r"\[[^\]]*\]|\boffset\s+\w+")
_NAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads."""
    bare = _STRINGS.sub("", expr)
    bare = _MATCHERS.sub("", bare)
    bare = _GROUPING.sub("", bare)
    bare = _RANGES.sub("", bare)
    bare = re.sub(r"\$\w+", "", bare)  # Grafana variables
    bare = re.sub(r"label_values\(([^,)]*),\s*\w+\)", r"\1", bare)  # (metric, label)
    return {name for name in _NAME.findall(bare) if name not in NOT_METRICS}


def dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        query = variable.get("query")
        if variable["type"] == "query":
            exprs.append(query["query"] if isinstance(query, dict) else query)
    return exprs


def rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_the_expression_reader_finds_metric_names() -> None:
    expr = (
        "histogram_quantile(0.99, sum by (le, route) (rate(kefu_turn_duration_seconds_bucket"
        '{route!="generate",app=~"$app"}[5m] offset 1d))) / scalar(sum(up))'
    )
    assert metric_names(expr) == {"kefu_turn_duration_seconds_bucket", "up"}
    assert metric_names("label_values(kefu_turns_total, app)") == {"kefu_turns_total"}


def test_the_rules_read_only_kefu_metrics_and_cover_the_issue() -> None:
    alerts = {rule["alert"]: rule for rule in rules()}
    assert {
        "KefuTurnLatencyP99High", "KefuHigh5xxRate", "KefuLLMDown", "KefuLLMFallbackRateHigh",
        "KefuHandoffQueueWaitHigh", "KefuToolFailureRateHigh", "KefuIntentConfidenceDrift",
    } <= set(alerts)  # fmt: skip
    for name, rule in alerts.items():
        read = metric_names(rule["expr"])
        assert read and read <= METRIC_NAMES, (name, read - METRIC_NAMES)
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]


def test_every_dashboard_query_reads_only_kefu_metrics() -> None:
    exprs = dashboard_exprs()
    assert len(exprs) >= 20
    read: set[str] = set()
    for expr in exprs:
        names = metric_names(expr)
        assert names and names <= METRIC_NAMES, (expr, names - METRIC_NAMES)
        read |= names
    # Every metric kefu exports has a panel (histograms through their buckets or sums).
    families = {re.sub(r"_(total|bucket|sum|count)$", "", name) for name in METRIC_NAMES}
    shown = {re.sub(r"_(total|bucket|sum|count)$", "", name) for name in read}
    assert families - shown == set()


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip("promtool is not installed (make promtool: Debian's prometheus package)")
    return found


def test_promtool_checks_the_rules() -> None:
    checked = subprocess.run(
        [promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(rules())} rules found" in checked.stdout


def test_promtool_runs_the_alert_cases() -> None:
    tested = subprocess.run(
        [promtool(), "test", "rules", RULE_TESTS.name],
        cwd=RULE_TESTS.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout
    # Every alert has at least one case where it fires.
    cases = yaml.safe_load(RULE_TESTS.read_text(encoding="utf-8"))["tests"]
    fired = {
        check["alertname"]
        for case in cases
        for check in case["alert_rule_test"]
        if check.get("exp_alerts")
    }
    assert fired == {rule["alert"] for rule in rules()}
