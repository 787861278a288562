"""``/.sso-router/*``: answered by the router, never forwarded. Pure: ``(status, headers, body)``, or
for ``/orgs`` an ``OrgsQuery`` (who may ask is decided here; the edge reads the figure store)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .metrics import CONTENT_TYPE, Metrics
from .onboard.evidence import Evidence
from .org_report import parse_path
from .reload import MappingHolder

PREFIX = "/.sso-router/"
Answer = tuple[int, dict[str, str], bytes]


@dataclass(frozen=True, slots=True)
class StoreStatus:
    url: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class OrgsQuery:
    """``/.sso-router/orgs`` (``org`` None) or ``/orgs/<org>``: the figures live in a store, so the edge
    answers it off the event loop (``org_report.collect_org(s)``)."""

    org: str | None


def _json(status: int, obj: dict[str, Any]) -> Answer:
    return status, {"content-type": "application/json", "cache-control": "no-store"}, json.dumps(obj, indent=1).encode()


def health(holder: MappingHolder | None, store: StoreStatus, version: str) -> Answer:
    m = holder.mapping if holder else None
    last = holder.last if holder else None
    return _json(
        200,
        {
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
        },
    )


def ready(
    holder: MappingHolder | None,
    store: StoreStatus,
    serving: bool = True,
    draining: bool = False,
    *,
    say_why: bool = True,
) -> Answer:
    """200 when a mapping is loaded, the store answers and the process is not draining; else 503.
    Only an admitted client is told why (the rest of the world learns ready or not, nothing more)."""
    why = (
        "starting"
        if not serving
        else "draining"
        if draining
        else "no mapping loaded"
        if holder is None or holder.mapping is None
        else f"store unavailable: {store.detail}"
        if not store.ok
        else ""
    )
    if not why:
        return _json(200, {"ready": True})
    return _json(503, {"ready": False, "why": why} if say_why else {"ready": False})


def metrics(m: Metrics) -> Answer:
    return 200, {"content-type": CONTENT_TYPE}, m.render().encode()


NOT_FOUND: Answer = (404, {"content-type": "text/plain"}, b"unknown sso-router endpoint\n")
PUBLIC = frozenset({"ready"})  # answered to anyone; every other endpoint only to admitted clients


def answer(
    path: str,
    method: str,
    *,
    admitted: bool,
    holder: MappingHolder | None,
    store: StoreStatus,
    m: Metrics,
    version: str,
    serving: bool = True,
    draining: bool = False,
    evidence: Evidence | None = None,
) -> Answer | OrgsQuery:
    name = path[len(PREFIX) :]
    if name not in PUBLIC and not admitted:
        return NOT_FOUND  # as for a path that does not exist: nothing to learn, nothing forwarded
    if method not in ("GET", "HEAD"):
        return 405, {"allow": "GET, HEAD", "content-type": "text/plain"}, b"method not allowed\n"
    if name == "health":
        return health(holder, store, version)
    if name == "ready":
        return ready(holder, store, serving, draining, say_why=admitted)
    if name == "metrics":
        return metrics(m)
    if name == "learn" and evidence is not None:  # what `sso-router learn --url` reads
        return _json(200, evidence.snapshot())
    if (orgs := parse_path(path)) is not None:  # what `sso-router status` reads
        return OrgsQuery(orgs[1])
    return NOT_FOUND
