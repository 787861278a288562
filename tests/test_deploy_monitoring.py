"""deploy/grafana/sso-router.json and deploy/prometheus/alerts.yml against what the router exports:
every query names only metrics (and labels) a real ``routing.metrics.Metrics`` renders; the
dashboard's queries parse as PromQL and the alerting rules pass ``promtool check rules`` and their own
``promtool test rules`` unit tests (promtool: Debian's ``prometheus`` package; skipped without it)."""

from __future__ import annotations

import json
import pathlib
import re
import shutil
import subprocess

import pytest
from prometheus_client.parser import text_string_to_metric_families

from routing.metrics import _COUNTERS, _GAUGES, Metrics

ROOT = pathlib.Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "deploy/grafana/sso-router.json"
ALERTS = ROOT / "deploy/prometheus/alerts.yml"
ALERT_TESTS = ROOT / "deploy/prometheus/alerts.test.yml"
NAME = re.compile(r"\bsso_router_[a-z0-9_]+")
SELECTOR = re.compile(r"\b(sso_router_[a-z0-9_]+)\{([^}]*)\}")
GRAFANA_VARS = {"$__rate_interval": "5m", "$__range": "1h", "$__interval": "1m", "$job": ".*", "$instance": ".*"}
SCRAPE_LABELS = {"job", "instance"}  # added by Prometheus to every series


def exported() -> dict[str, set[str]]:
    """Sample name → label names, from a real Metrics object with every counter and gauge touched."""
    m = Metrics()
    for name, (_, labels) in _COUNTERS.items():
        m.inc(name + "_total", **{lb: "x" for lb in labels})
    for name, (_, labels) in _GAUGES.items():
        m.set_gauge(name, 1, **{lb: "x" for lb in labels})
    m.observe_decision(0.001)
    out: dict[str, set[str]] = {}
    for fam in text_string_to_metric_families(m.render()):
        for s in fam.samples:
            out.setdefault(s.name, set()).update(s.labels)
    return out


def dashboard_queries() -> list[str]:
    d = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in d["panels"] for t in p.get("targets", [])]
    exprs += [a["expr"] for a in d.get("annotations", {}).get("list", []) if "expr" in a]
    return exprs


def test_the_dashboard_covers_what_the_issue_asks():
    d = json.loads(DASHBOARD.read_text())
    text = json.dumps(d)
    for metric in (
        "sso_router_decisions_total",
        "sso_router_login_outcomes_total",
        "sso_router_upstream_errors_total",
        "sso_router_store_errors_total",
        "sso_router_mapping_reloads_total",
        "sso_router_decision_seconds_bucket",
        "sso_router_canary_rollbacks_total",
    ):
        assert metric in text, metric
    assert len({p["id"] for p in d["panels"]}) == len(d["panels"])


def alert_queries() -> list[str]:
    return re.findall(r"expr: \|?\s*\n?((?:.|\n)*?)\n\s*(?:for|labels):", ALERTS.read_text())


@pytest.mark.parametrize("source", ["dashboard", "alerts"])
def test_every_query_names_only_exported_metrics_and_labels(source):
    names = exported()
    exprs = dashboard_queries() if source == "dashboard" else alert_queries()
    assert len(exprs) >= 5
    for expr in exprs:
        used = NAME.findall(expr)
        assert used, f"a query naming no router metric: {expr}"
        for name in used:
            assert name in names, f"{name} is not exported by routing.metrics (query: {expr})"
        for name, body in SELECTOR.findall(expr):
            for label in re.findall(r"([a-z_]+)\s*(?:=~|!~|!=|=)", body):
                assert label in names[name] | SCRAPE_LABELS, f"{name} has no label {label!r}"


def test_no_query_groups_by_org():
    for expr in dashboard_queries() + alert_queries():
        assert not re.search(r"\borg\b", expr), expr
    assert all("org" not in labels for labels in exported().values())


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool is not installed (Debian: apt-get install prometheus)")
    return path


def test_promtool_checks_the_alerting_rules():
    r = subprocess.run([promtool(), "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS: 5 rules found" in r.stdout


def test_promtool_unit_tests_of_the_alerting_rules():
    r = subprocess.run(
        [promtool(), "test", "rules", ALERT_TESTS.name],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ALERT_TESTS.parent,
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_dashboard_queries_parse(tmp_path):
    tool = promtool()
    rules = []
    for i, expr in enumerate(dashboard_queries()):
        for var, value in GRAFANA_VARS.items():
            expr = expr.replace(var, value)
        assert "$" not in expr, expr
        rules.append({"record": f"dashboard:query_{i}", "expr": expr})
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(json.dumps({"groups": [{"name": "dashboard", "rules": rules}]}))  # JSON is YAML
    r = subprocess.run([tool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
