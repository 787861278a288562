"""``/.sso-router/*``: answered by the router, never forwarded. Pure ``(status, headers, body)``."""

from __future__ import annotations

import json
from dataclasses import dataclass

from .metrics import CONTENT_TYPE, Metrics
from .onboard.evidence import Evidence
from .reload import MappingHolder

PREFIX = "/.sso-router/"
Answer = tuple[int, dict[str, str], bytes]


@dataclass(frozen=True, slots=True)
class StoreStatus:
    url: str
    ok: bool
    detail: str = ""


def _json(status: int, obj: dict) -> Answer:
    return status, {"content-type": "application/json", "cache-control": "no-store"}, json.dumps(obj, indent=1).encode()


def health(holder: MappingHolder | None, store: StoreStatus, version: str) -> Answer:
    m = holder.mapping if holder else None
    last = holder.last if holder else None
    return _json(200, {
        "status": "ok" if m is not None and store.ok else "degraded",
        "router_version": version,
        "mapping": {
            "path": holder.path if holder else None,
            "version": m.version if m else None,
            "orgs": len(m.orgs) if m else 0,
            "providers": sorted(m.providers) if m else [],
            "last_reload": {"result": last.status, "message": last.message, "at": last.at} if last else None,
        },
        "store": {"url": store.url.split("@")[-1], "ok": store.ok, "detail": store.detail},
    })


def ready(holder: MappingHolder | None, store: StoreStatus, serving: bool = True) -> Answer:
    if not serving:
        return _json(503, {"ready": False, "why": "starting"})
    if holder is None or holder.mapping is None:
        return _json(503, {"ready": False, "why": "no mapping loaded"})
    if not store.ok:
        return _json(503, {"ready": False, "why": f"store unreachable: {store.detail}"})
    return _json(200, {"ready": True})


def metrics(m: Metrics) -> Answer:
    return 200, {"content-type": CONTENT_TYPE}, m.render().encode()


def answer(path: str, method: str, holder: MappingHolder | None, store: StoreStatus, m: Metrics,
           version: str, serving: bool = True, evidence: Evidence | None = None) -> Answer:
    name = path[len(PREFIX):]
    if method not in ("GET", "HEAD"):
        return 405, {"allow": "GET, HEAD", "content-type": "text/plain"}, b"method not allowed\n"
    if name == "health":
        return health(holder, store, version)
    if name == "ready":
        return ready(holder, store, serving)
    if name == "metrics":
        return metrics(m)
    if name == "learn" and evidence is not None:  # what `sso-router learn --url` reads
        return _json(200, evidence.snapshot())
    return 404, {"content-type": "text/plain"}, b"unknown sso-router endpoint\n"
