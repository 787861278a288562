"""``GET /.sso-router/orgs`` and ``/.sso-router/orgs/<org>`` (admin-only: ``endpoints.answer`` has
admitted the client): the figures are read off the event loop (``FigureCalls``, bounded) by
``org_report.collect_org(s)``; 503 when the figure store does not answer in time."""

from __future__ import annotations

import functools
import json
import time

from mitmproxy import http

from ..endpoints import OrgsQuery
from ..org_report import collect_org, collect_orgs
from .runtime import Runtime

LIST_BOUND = 12.0  # seconds for every org (100,000 of them: a few MB); `sso-router status` waits 15
_JSON = {"content-type": "application/json", "cache-control": "no-store"}


async def answer_orgs(rt: Runtime, flow: http.HTTPFlow, q: OrgsQuery) -> None:
    m = rt.holder.mapping
    if m is None:
        flow.response = http.Response.make(503, json.dumps({"error": "no mapping loaded"}).encode(), _JSON)
        return
    now = time.time()
    if q.org is None:
        read, bound = functools.partial(collect_orgs, rt.figures, m, now), LIST_BOUND
    else:
        read, bound = functools.partial(collect_org, rt.figures, m, q.org, now), rt.options.store_timeout
    got = await rt.figure_calls.call("figures_read", bound, read)
    if got is None:
        body = {
            "error": "figure store unavailable",
            "store": rt.figures.url,
            "detail": 'counted in sso_router_store_errors_total{operation="figures_read"}',
        }
        flow.response = http.Response.make(503, json.dumps(body).encode(), _JSON)
        return
    status, headers, body_bytes = got
    flow.response = http.Response.make(status, body_bytes, headers)
