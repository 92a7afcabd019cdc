"""deploy/prometheus/alerts.yml and deploy/grafana/xinlian.json: the rules pass promtool
(syntax and their unit tests, deploy/prometheus/alerts_test.yml), the dashboard is valid
JSON whose every query is valid PromQL, and every ``xinlian_*`` metric either reads is
one the gateway exports (gateway/core/metrics.py) or one listed as coming from outside
it (the verify timer's textfile)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.core import metrics

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
DASHBOARD: dict[str, Any] = json.loads((DEPLOY / "grafana" / "xinlian.json").read_text("utf-8"))
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool is not installed (Debian package prometheus)"
)
NOT_FROM_THE_GATEWAY = {
    "xinlian_verify_last_success_timestamp_seconds",  # xinlian-verify.service, textfile
}
PANEL_TOPICS = (
    "xinlian_rpc_calls_total",
    "xinlian_rpc_duration_milliseconds_bucket",
    "xinlian_push_records_total",
    "xinlian_query_decisions_total",
    "xinlian_ledger_checkpoint_age_seconds",
    "xinlian_committer_group_size_bucket",
)
ALERTED = ("checkpoint_age", "verify", "certificate_expiry", "commit_errors", "up{")


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=60)


def _exprs() -> list[str]:
    return [t["expr"] for p in DASHBOARD["panels"] for t in p["targets"]]


def _rules() -> list[dict[str, Any]]:
    data = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [rule for group in data["groups"] for rule in group["rules"]]


def _exported() -> set[str]:
    """Prometheus base names of the gateway's instruments (xinlian.rpc.calls →
    xinlian_rpc_calls); the exporter appends a unit or ``_total``/``_bucket``."""
    return {
        value.replace(".", "_")
        for name, value in vars(metrics).items()
        if name.isupper() and isinstance(value, str) and value.startswith("xinlian.")
    }


def _names(expr: str) -> set[str]:
    return set(re.findall(r"\bxinlian_[a-z_]+", expr))


@needs_promtool
def test_alert_rules_pass_promtool() -> None:
    result = _promtool("check", "rules", str(ALERTS))
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_alert_rules_unit_tests() -> None:
    result = _promtool("test", "rules", str(DEPLOY / "prometheus" / "alerts_test.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_dashboard_queries_are_promql(tmp_path: Path) -> None:
    # promtool parses expressions in rule files: each query becomes a recording rule,
    # with Grafana's variables set to what they stand for
    rules = [
        {
            "record": f"dashboard:query_{i}",
            "expr": expr.replace("$__rate_interval", "5m").replace("$instance", ".*"),
        }
        for i, expr in enumerate(_exprs())
    ]
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "d", "rules": rules}]}), "utf-8")
    result = _promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboard_panels_are_distinct_and_cover_the_flows() -> None:
    panels = DASHBOARD["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    queries = " ".join(_exprs())
    for metric in PANEL_TOPICS:
        assert metric in queries, metric
    assert DASHBOARD["uid"] and DASHBOARD["title"]


def test_every_alert_topic_has_a_rule() -> None:
    exprs = " ".join(rule["expr"] for rule in _rules())
    for topic in ALERTED:
        assert topic in exprs, topic
    for rule in _rules():
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]


def test_metrics_read_are_exported_or_listed() -> None:
    exported = _exported()
    read = set().union(*(_names(e) for e in _exprs() + [r["expr"] for r in _rules()]))
    unknown = {
        name
        for name in read - NOT_FROM_THE_GATEWAY
        if not any(name == base or name.startswith(base + "_") for base in exported)
    }
    assert not unknown, f"not exported by the gateway (gateway/core/metrics.py): {unknown}"
    table = ALERTS.read_text(encoding="utf-8").split("groups:")[0]
    for name in {n for r in _rules() for n in _names(r["expr"])}:
        assert name in table, f"{name} missing from the table atop alerts.yml"
