"""routing.metrics counts in plain ints and renders through prometheus_client: what it exposes must
be what prometheus_client's own Counter and Histogram expose for the same updates."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.parser import text_string_to_metric_families

from routing.metrics import _COUNTERS, LATENCY_BUCKETS, Metrics


def samples(text: str) -> dict:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
        if not s.name.endswith("_created")
    }


def test_exposition_matches_prometheus_clients_own_metrics():
    ours = Metrics()
    reg = CollectorRegistry()
    theirs = {name: Counter(name, doc, labels, registry=reg) for name, (doc, labels) in _COUNTERS.items()}
    latency = Histogram("sso_router_decision_seconds", "x", buckets=LATENCY_BUCKETS, registry=reg)
    updates = [
        ("sso_router_decisions_total", dict(provider="legacy", reason="org", shadow="false")),
        ("sso_router_decisions_total", dict(provider="legacy", reason="org", shadow="false")),
        ("sso_router_decisions_total", dict(provider="scalekit", reason="correlation", shadow="true")),
        ("sso_router_parse_failures_total", dict(kind="saml")),
        ("sso_router_store_errors_total", dict(operation="recall", kind="timeout")),
    ]
    for name, labels in updates:
        ours.inc(name, **labels)
        c = theirs[name[: -len("_total")]]
        (c.labels(**labels) if labels else c).inc()
    for seconds in (0.00005, 0.0001, 0.0003, 0.0005, 0.002, 0.3, 7.0):  # on bounds, between, past the last
        ours.observe_decision(seconds)
        latency.observe(seconds)
    from prometheus_client import generate_latest

    assert samples(ours.render()) == samples(generate_latest(reg).decode())
    assert ours.get("sso_router_decisions_total", provider="legacy", reason="org", shadow="false") == 2
    assert ours.get("sso_router_refused_total", status="421") == 0


def test_unknown_metric_names_are_refused():
    import pytest

    with pytest.raises(KeyError):
        Metrics().inc("sso_router_no_such_total")
