"""The request path: flow → view → ``pipeline.begin`` → (store) → ``pipeline.conclude`` → apply.

Synchronous unless a blocking store must be asked: then it returns the coroutine that finishes the
decision, which mitmproxy awaits (it awaits any awaitable a hook returns), so only this flow waits.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from importlib import metadata

from mitmproxy import http

from .. import endpoints, pipeline
from ..admin import admitted, client_address
from ..model import AdminSettings, Decision, Mapping, Reason, RouterSettings
from .apply import apply_decision
from .flows import view_from_flow
from .marks import mark
from .org_pages import answer_orgs
from .outcome_watch import noted_request
from .runtime import Runtime
from .store_guard import Recall

log = logging.getLogger("sso_router")
_TEXT = {"content-type": "text/plain"}
try:
    VERSION = metadata.version("sso-router")
except metadata.PackageNotFoundError:  # pragma: no cover — run from a source tree without installing
    VERSION = "unknown"


def route_request(rt: Runtime, flow: http.HTTPFlow) -> Awaitable[None] | None:
    req = flow.request
    raw_path = req.path
    m = rt.holder.mapping
    if raw_path.startswith(endpoints.PREFIX):
        return answer_endpoint(rt, flow, raw_path.split("?", 1)[0], m)
    if m is None:
        flow.response = http.Response.make(503, b"sso-router: no mapping loaded\n", _TEXT)
        return None
    started = time.perf_counter()
    view = view_from_flow(flow, m.settings.limits.max_body, raw_path)
    if view.host not in m.settings.hosts:
        rt.metrics.refused(421)
        flow.response = http.Response.make(
            421, f"sso-router: this proxy does not serve host {view.host!r}\n".encode(), _TEXT
        )
        return None
    rt.in_flight.add(flow.id)  # until its response or error hook: a draining process waits for it
    try:
        pending = pipeline.begin(view, m, rt.secret)
    except Exception as e:  # noqa: BLE001 — a bug must not lose the request: default, counted
        _fallback(rt, flow, m, e, started)
        return None
    for kind, msg in pending.clues.failures:
        rt.metrics.parse_failure(kind)
        log.info("sso-router: %s %s: could not read %s: %s", view.method, view.path, kind, msg)
    if not pending.keys:
        _decided(rt, flow, m, pending, Recall({}), started)
        return None
    if not rt.stores.blocking:
        _decided(rt, flow, m, pending, rt.stores.recall_now(pending.store_keys), started)
        return None
    return _after_store(rt, flow, m, pending, started)


async def _after_store(rt: Runtime, flow: http.HTTPFlow, m: Mapping, pending: pipeline.Pending, started: float) -> None:
    _decided(rt, flow, m, pending, await rt.stores.recall(pending.store_keys), started)


def _decided(
    rt: Runtime, flow: http.HTTPFlow, m: Mapping, pending: pipeline.Pending, recall: Recall, started: float
) -> None:
    req = flow.request
    view = pending.view
    now = time.time()
    try:
        d = pipeline.conclude(pending, m, recall.routes, secret=rt.secret, now=now, unanswered=recall.unanswered)
    except Exception as e:  # noqa: BLE001
        _fallback(rt, flow, m, e, started)
        return
    authority = req.host_header if req.is_http2 or req.is_http3 else view.headers.get("host")
    s = m.settings
    apply_decision(
        flow,
        d,
        m,
        path=view.path,
        query=view.query,
        had_force_header=bool(s.force_header) and view.headers.get(s.force_header) is not None,
        client=_client(flow, s.admin),
        authority=authority or "",
    )
    rt.in_flight.decided(flow.id, d)
    noted_request(rt, flow, view, d, m, pending, now)
    _count(rt, flow, d, s, started)
    return None


def _fallback(rt: Runtime, flow: http.HTTPFlow, m: Mapping, e: BaseException, started: float) -> None:
    """Route a request the core failed on to default_provider (never to the --mode placeholder)."""
    req = flow.request
    rt.metrics.parse_failure("internal")
    log.warning(
        "sso-router: internal error (%s) deciding %s %s; sent to %s",
        type(e).__name__,
        req.method,
        req.path.split("?", 1)[0],
        m.settings.default_provider,
    )
    s = m.settings
    d = Decision(s.default_provider, Reason.DEFAULT, None, "internal error (counted)", s.default_provider, s.shadow)
    apply_decision(
        flow,
        d,
        m,
        path=req.path.split("?", 1)[0],
        query="",
        had_force_header=bool(s.force_header) and s.force_header in req.headers,
        client=_client(flow, s.admin),
        authority=req.host_header or "",
    )
    rt.in_flight.decided(flow.id, d)
    rt.figure_buffer.routed(d.forward_to, time.time())
    _count(rt, flow, d, s, started)


def _count(rt: Runtime, flow: http.HTTPFlow, d: Decision, s: RouterSettings, started: float) -> None:
    rt.metrics.decision(d.provider, d.reason.value, d.shadow)
    if rt.mark_flows:  # mitmweb: the flow list shows who got each flow
        flow.marked = mark(d, s)
    rt.metrics.observe_decision(time.perf_counter() - started)


def _client(flow: http.HTTPFlow, admin: AdminSettings) -> Callable[[], str]:
    """The browser's address, worked out only when something needs it."""

    def client() -> str:
        peer = flow.client_conn.peername[0] if flow.client_conn.peername else ""
        xff = flow.request.headers.get("x-forwarded-for") if admin.trusted_proxies else None
        return client_address(str(peer), xff, admin.trusted_proxies)

    return client


def answer_endpoint(rt: Runtime, flow: http.HTTPFlow, path: str, m: Mapping | None) -> Awaitable[None] | None:
    """The router's own endpoints; ``/orgs`` reads the figure store: the coroutine that answers it."""
    admin = m.settings.admin if m is not None else AdminSettings()
    ok = admitted(_client(flow, admin)(), flow.request.headers.get("authorization"), admin, rt.options.admin_token)
    answer = endpoints.answer(
        path,
        flow.request.method,
        admitted=ok,
        holder=rt.holder,
        store=rt.stores.status,
        m=rt.metrics,
        version=VERSION,
        serving=rt.serving,
        draining=rt.draining,
        evidence=rt.evidence,
    )
    if isinstance(answer, endpoints.OrgsQuery):
        return answer_orgs(rt, flow, answer)
    status, headers, body = answer
    flow.response = http.Response.make(status, body, headers)
    return None
