"""Counters and a latency histogram in a private ``prometheus_client`` registry (one per
addon instance: a script reload builds a new one instead of re-registering globally).
Labels are provider, reason, kind and the like: never a value from a request."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

_COUNTERS = {
    "sso_router_decisions": ("Routing decisions by decided provider, reason and shadow flag.",
                             ("provider", "reason", "shadow")),
    "sso_router_upstream_errors": ("Requests whose upstream failed (connect, TLS, timeout).", ("provider",)),
    "sso_router_parse_failures": ("Payloads the router could not read, by kind.", ("kind",)),
    "sso_router_mapping_reloads": ("Mapping reloads by result.", ("result",)),
    "sso_router_store_errors": ("Correlation store calls that failed or timed out.", ()),
    "sso_router_refused": ("Requests the router answered itself with a 4xx, by status.", ("status",)),
}
CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._children: dict[tuple[str, ...], Counter] = {}  # labelled children, looked up once
        self._counters = {name: Counter(name, doc, labels, registry=self.registry)
                          for name, (doc, labels) in _COUNTERS.items()}
        self._latency = Histogram("sso_router_decision_seconds",
                                  "Time to decide one request (extraction, store, engine).",
                                  buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25),
                                  registry=self.registry)

    @staticmethod
    def _base(name: str) -> str:
        return name[:-6] if name.endswith("_total") else name

    def inc(self, name: str, n: int = 1, **labels: str) -> None:
        key = (name, *labels.values())  # callers pass labels in one order per metric
        child = self._children.get(key)
        if child is None:
            c = self._counters[self._base(name)]
            child = self._children[key] = c.labels(**labels) if labels else c
        child.inc(n)

    def get(self, name: str, **labels: str) -> float:
        v = self.registry.get_sample_value(self._base(name) + "_total", labels)
        return v or 0.0

    def observe_decision(self, seconds: float) -> None:
        self._latency.observe(seconds)

    def render(self) -> str:
        return generate_latest(self.registry).decode()
