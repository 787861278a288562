"""Counters and a latency histogram, exposed as Prometheus text. Labels are only
provider, reason, kind and the like: never a value from a request."""

from __future__ import annotations

from collections import Counter

_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)

_HELP = {
    "sso_router_decisions_total": "Routing decisions by decided provider, reason and shadow flag.",
    "sso_router_upstream_errors_total": "Requests whose upstream failed (connect, TLS, timeout).",
    "sso_router_parse_failures_total": "Payloads the router could not read, by kind.",
    "sso_router_mapping_reloads_total": "Mapping reloads by result.",
    "sso_router_store_errors_total": "Correlation store calls that failed or timed out.",
    "sso_router_refused_total": "Requests the router answered itself with a 4xx, by status.",
}


class Metrics:
    def __init__(self) -> None:
        self.counters: dict[str, Counter[tuple[tuple[str, str], ...]]] = {k: Counter() for k in _HELP}
        self._hist = [0] * (len(_BUCKETS) + 1)
        self._hist_sum = 0.0
        self._hist_count = 0

    def inc(self, name: str, n: int = 1, **labels: str) -> None:
        self.counters[name][tuple(sorted(labels.items()))] += n

    def get(self, name: str, **labels: str) -> int:
        return self.counters[name][tuple(sorted(labels.items()))]

    def observe_decision(self, seconds: float) -> None:
        i = 0
        while i < len(_BUCKETS) and seconds > _BUCKETS[i]:
            i += 1
        self._hist[i] += 1
        self._hist_sum += seconds
        self._hist_count += 1

    def render(self) -> str:
        out: list[str] = []
        for name, help_ in _HELP.items():
            out += [f"# HELP {name} {help_}", f"# TYPE {name} counter"]
            for labels, v in sorted(self.counters[name].items()):
                lab = ",".join(f'{k}="{_esc(val)}"' for k, val in labels)
                out.append(f"{name}{{{lab}}} {v}" if lab else f"{name} {v}")
        h = "sso_router_decision_seconds"
        out += [f"# HELP {h} Time to decide one request (extraction, store, engine).", f"# TYPE {h} histogram"]
        acc = 0
        for b, n in zip(_BUCKETS, self._hist):
            acc += n
            out.append(f'{h}_bucket{{le="{b}"}} {acc}')
        out.append(f'{h}_bucket{{le="+Inf"}} {self._hist_count}')
        out += [f"{h}_sum {self._hist_sum:.6f}", f"{h}_count {self._hist_count}"]
        return "\n".join(out) + "\n"


def _esc(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
