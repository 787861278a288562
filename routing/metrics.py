"""Counters and a latency histogram in a private ``prometheus_client`` registry (one per
addon instance: a script reload builds a new one instead of re-registering globally).
Labels are provider, reason, kind and the like: never a value from a request."""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from typing import Literal

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.utils import floatToGoString

# prometheus_client leaves floatToGoString unannotated: float in, its exposition text out
_go_float: Callable[[float], str] = floatToGoString

_COUNTERS = {
    "sso_router_decisions": (
        "Routing decisions by decided provider, reason and shadow flag.",
        ("provider", "reason", "shadow"),
    ),
    "sso_router_upstream_errors": ("Requests whose upstream failed (connect, TLS, timeout).", ("provider",)),
    "sso_router_parse_failures": ("Payloads the router could not read, by kind.", ("kind",)),
    "sso_router_mapping_reloads": ("Mapping reloads by result.", ("result",)),
    "sso_router_store_errors": (
        "Correlation store calls that failed or timed out, by operation and kind.",
        ("operation", "kind"),
    ),
    "sso_router_refused": ("Requests the router answered itself with a 4xx, by status.", ("status",)),
    "sso_router_login_outcomes": (
        "Login outcomes (ACS posts, IdP callbacks, token exchanges) by the provider that "
        "answered, and outcome (success, failure). No org label.",
        ("provider", "outcome"),
    ),
    "sso_router_logins_unreturned": (
        "Logins that left for an IdP and never came back through the router within "
        "correlation_ttl, by the provider that sent them.",
        ("provider",),
    ),
    "sso_router_canary_rollbacks": ("Orgs the canary rolled back to the default provider.", ()),
}
_GAUGES = {
    "sso_router_store_up": ("1 while the shared store answers, 0 while it counts as unavailable.", ()),
    "sso_router_mapping_last_reload_ok": ("1 if the last mapping (re)load succeeded, 0 if it was refused.", ()),
    "sso_router_provider_role": (
        "1 per provider and its role in the mapping (default, migration_target).",
        ("provider", "role"),
    ),
}
CONTENT_TYPE = CONTENT_TYPE_LATEST
LATENCY_DOC = "Time to decide one request (extraction, store, engine)."
LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25)


class Metrics:
    """Counted in plain ints on the event loop (every update happens there: hooks, the store
    guard after its await, the reload watcher); ``prometheus_client`` only renders them. Its own
    Counter/Histogram take a lock and several calls per update: ~29k instructions per request
    for the two updates each decision makes, ~3k this way."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self._counts: dict[tuple[str, ...], float] = {}  # (name_total, *label values) -> count
        self._labels: dict[tuple[str, ...], dict[str, str]] = {}  # the same key -> its labels
        self._bounds = LATENCY_BUCKETS
        self._buckets = [0] * (len(LATENCY_BUCKETS) + 1)  # per bucket, not cumulative; last: +Inf
        self._sum = 0.0
        self._gauges: dict[str, list[tuple[dict[str, str], float]]] = {}  # name -> [(labels, value)]
        self._created = time.time()
        self.registry.register(_Collector(self))

    @staticmethod
    def _base(name: str) -> str:
        return name[:-6] if name.endswith("_total") else name

    def inc(self, name: str, n: int = 1, **labels: str) -> None:
        """Count ``name`` by its labels given by name (in any order)."""
        base = self._base(name)
        if base not in _COUNTERS:
            raise KeyError(f"unknown metric {name}")
        names = _COUNTERS[base][1]
        if set(labels) != set(names):
            raise KeyError(f"{name} takes the labels {names}, not {tuple(labels)}")
        self._count(name, tuple(labels[k] for k in names), n)

    def _count(self, name: str, values: tuple[str, ...], n: int = 1) -> None:
        key = (name, *values)  # label values in the order _COUNTERS declares
        count = self._counts.get(key)
        if count is None:
            self._labels[key] = dict(zip(_COUNTERS[self._base(name)][1], values, strict=True))
            count = 0
        self._counts[key] = count + n

    # -- the router's counters, typed (one call per event; labels in their declared order) ----------
    def decision(self, provider: str, reason: str, shadow: bool) -> None:
        self._count("sso_router_decisions_total", (provider, reason, "true" if shadow else "false"))

    def upstream_error(self, provider: str) -> None:
        self._count("sso_router_upstream_errors_total", (provider,))

    def parse_failure(self, kind: str) -> None:
        self._count("sso_router_parse_failures_total", (kind,))

    def mapping_reload(self, result: Literal["ok", "failed"]) -> None:
        self._count("sso_router_mapping_reloads_total", (result,))

    def store_error(self, operation: str, kind: str, n: int = 1) -> None:
        self._count("sso_router_store_errors_total", (operation, kind), n)

    def refused(self, status: int) -> None:
        self._count("sso_router_refused_total", (str(status),))

    def login_outcome(self, provider: str, ok: bool, n: int = 1) -> None:
        self._count("sso_router_login_outcomes_total", (provider, "success" if ok else "failure"), n)

    def unreturned(self, provider: str) -> None:
        self._count("sso_router_logins_unreturned_total", (provider,))

    def canary_rollback(self) -> None:
        self._count("sso_router_canary_rollbacks_total", ())

    def get(self, name: str, **labels: str) -> float:
        v = self.registry.get_sample_value(self._base(name) + "_total", labels)
        return v or 0.0

    def set_gauge(self, name: str, value: float, **labels: str) -> None:
        """Set one gauge series (``labels`` as declared); other series of the gauge are kept."""
        if name not in _GAUGES:
            raise KeyError(f"unknown metric {name}")
        rows = [(lb, v) for lb, v in self._gauges.get(name, []) if lb != labels]
        self._gauges[name] = [*rows, (labels, float(value))]

    def replace_gauge(self, name: str, rows: list[tuple[dict[str, str], float]]) -> None:
        """Replace every series of a gauge (e.g. provider roles after a mapping reload)."""
        if name not in _GAUGES:
            raise KeyError(f"unknown metric {name}")
        self._gauges[name] = [(dict(lb), float(v)) for lb, v in rows]

    def mapping_in_force(self, default: str, target: str, providers: Iterable[str]) -> None:
        """The gauges of a mapping just (re)loaded: which provider has which role (the alerts find the
        migration target by it), and each provider's outcome series at 0, so ``rate()`` sees its first
        failure (a series that appears with 1 has no rate)."""
        self.replace_gauge(
            "sso_router_provider_role",
            [({"provider": default, "role": "default"}, 1), ({"provider": target, "role": "migration_target"}, 1)],
        )
        for p in providers:
            for ok in (True, False):
                self.login_outcome(p, ok, 0)

    def observe_decision(self, seconds: float) -> None:
        self._buckets[bisect_left(self._bounds, seconds)] += 1  # le: a value on a bound counts in it
        self._sum += seconds

    def render(self) -> str:
        return generate_latest(self.registry).decode()


class _Collector:
    def __init__(self, m: Metrics) -> None:
        self.m = m

    def collect(self) -> Iterator[Metric]:
        m = self.m
        by_name: dict[str, list[tuple[tuple[str, ...], float]]] = {}
        for key, value in m._counts.items():
            by_name.setdefault(m._base(key[0]), []).append((key, value))
        for name, (doc, labelnames) in _COUNTERS.items():
            fam = CounterMetricFamily(name, doc, labels=labelnames, created=None)
            rows = by_name.get(name, [])
            if not labelnames and not rows:
                fam.add_metric([], 0.0, created=m._created)
            for key, value in rows:
                labels = m._labels[key]
                fam.add_metric([labels.get(n, "") for n in labelnames], value, created=m._created)
            yield fam
        for name, (doc, labelnames) in _GAUGES.items():
            series = m._gauges.get(name)
            if series is None:
                continue  # never set: absent, not a made-up 0
            g = GaugeMetricFamily(name, doc, labels=labelnames)
            for labels, value in series:
                g.add_metric([labels.get(n, "") for n in labelnames], value)
            yield g
        cumulative, buckets = 0, []
        for bound, n in zip((*(_go_float(b) for b in m._bounds), "+Inf"), m._buckets, strict=True):
            cumulative += n
            buckets.append((bound, cumulative))
        yield HistogramMetricFamily("sso_router_decision_seconds", LATENCY_DOC, buckets=buckets, sum_value=m._sum)
