"""The response path: rewrite what a provider answered, remember what it taught, set the sticky
cookie, and record the decision with the answer's status (or the error that replaced it)."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Awaitable

from mitmproxy import flow as flow_module
from mitmproxy import http

from .. import pipeline
from ..audit import decision_record
from ..correlation import Entry
from ..model import Decision, Mapping, Provider
from ..record import from_record, route_header
from ..rewrite import rewrite_set_cookie
from ..view import host_of
from .apply import META
from .errorpage import NAMED_PREFIX, ORIGINAL
from .flows import REQUEST_META, header_dict, response_view
from .outcome_watch import noted_departures, noted_error, noted_response
from .runtime import Runtime

log = logging.getLogger("sso_router")


def on_response(rt: Runtime, flow: http.HTTPFlow, *, flow_lines: bool) -> Awaitable[None] | None:
    """Synchronous unless what the response taught must go to a blocking store: then the returned
    coroutine holds the response until it is stored, before the browser moves on. The flow is in
    flight (a draining process waits for it) until then."""
    held = _answer(rt, flow, flow_lines=flow_lines)
    if held is None:
        rt.in_flight.discard(flow.id)
        return None
    return _release_after(rt, flow.id, held)


async def _release_after(rt: Runtime, flow_id: str, held: Awaitable[None]) -> None:
    try:
        await held
    finally:
        rt.in_flight.discard(flow_id)


def _decision(rt: Runtime, flow: http.HTTPFlow) -> Decision | None:
    """The flow's decision: kept by the runtime while in flight, else read from its record."""
    d = rt.in_flight.decision(flow.id)
    if d is not None:
        return d
    rec = flow.metadata.get(META)
    return from_record(rec) if rec else None


def _answer(rt: Runtime, flow: http.HTTPFlow, *, flow_lines: bool) -> Awaitable[None] | None:
    m = rt.holder.mapping
    resp = flow.response
    d = _decision(rt, flow)
    if d is None or m is None or resp is None:
        return None
    p = m.providers.get(d.forward_to)
    entries: list[Entry] = []
    if p is not None:
        hdrs = header_dict(resp.data.headers)
        entries = _learn(rt, flow, resp, hdrs, p, m, d)
        noted_response(rt, flow, resp, hdrs, d, p)
    if cookie := pipeline.sticky_cookie(d, m, secret=rt.secret, now=time.time()):
        resp.headers.add("set-cookie", cookie)
    if m.settings.debug_headers:
        resp.headers["x-sso-route"] = route_header(d)
    if flow_lines:
        flow_line(flow, resp.status_code)
    log_decision(rt, flow, d, resp.status_code, None)
    if not entries:
        return None
    if rt.stores.blocking:
        return rt.stores.remember_later(entries)
    rt.stores.remember_now(entries)
    return None


def _learn(
    rt: Runtime, flow: http.HTTPFlow, resp: http.Response, hdrs: dict[str, str], p: Provider, m: Mapping, d: Decision
) -> list[Entry]:
    """Apply the response plan (Location, Set-Cookie) and return what to remember. ``hdrs``: the
    answer's ``header_dict``."""
    try:
        view = response_view(
            flow,
            want_body=200 <= resp.status_code < 300 and not resp.stream,
            max_body=m.settings.limits.max_body,
            headers=hdrs,
            max_html=m.settings.limits.max_auto_post,
        )
        if view.location is None and not view.body and "set-cookie" not in hdrs:
            return []  # nothing to rewrite, nothing to remember (most responses)
        plan, entries = pipeline.learn(view, p, m, d.org, rt.secret)
        noted_departures(rt, d, p, plan.records, m)
    except Exception as e:  # noqa: BLE001 — the response still goes out, unchanged; counted
        rt.metrics.parse_failure("internal")
        log.warning("sso-router: internal error (%s) reading %s's response", type(e).__name__, p.name)
        return []
    if plan.location is not None:
        resp.headers["location"] = plan.location
    if "set-cookie" in hdrs:
        cookies = resp.headers.get_all("set-cookie")
        host = m.settings.public_netloc.rsplit(":", 1)[0]
        new = [rewrite_set_cookie(c, p, host) for c in cookies]
        if new != cookies:
            resp.headers.set_all("set-cookie", new)
    for kind, _ in plan.failures:
        rt.metrics.parse_failure(kind)
    return entries


def on_error(rt: Runtime, flow: http.HTTPFlow, *, names_errors: bool) -> None:
    d = _decision(rt, flow)
    rt.in_flight.discard(flow.id)
    if d is None:
        return
    msg = flow.error.msg if flow.error else "unknown error"
    upstream = (
        msg.startswith(NAMED_PREFIX)
        if names_errors
        else (msg not in ("Client disconnected.", flow_module.Error.KILLED_MESSAGE))
    )
    if flow.response is not None or not upstream:
        # the browser went away (or the flow was killed): not the provider's failure
        log_decision(rt, flow, d, flow.response.status_code if flow.response else None, msg)
        return
    rt.metrics.upstream_error(d.forward_to)
    noted_error(rt, flow, d)
    log.warning(
        "sso-router: upstream %r failed for %s %s: %s",
        d.forward_to,
        flow.request.method,
        flow.metadata.get(REQUEST_META, {}).get("path", "").split("?", 1)[0],
        flow.metadata.get(ORIGINAL, msg),
    )
    log_decision(rt, flow, d, 502, msg)


def log_decision(rt: Runtime, flow: http.HTTPFlow, d: Decision, status: int | None, error: str | None) -> None:
    if d.seen:  # what `sso-router learn --url` reads (routing.onboard.evidence)
        rt.evidence.add_decision(d, status=status, error=error, at=flow.timestamp_created)
    if rt.decision_log is None:
        return
    started = flow.request.timestamp_start
    asked = flow.metadata.get(REQUEST_META, {})
    rec = decision_record(
        d,
        flow_id=flow.id,
        method=flow.request.method,
        host=host_of(asked.get("authority", "")),
        path=asked.get("path", "").split("?", 1)[0],
        at=flow.timestamp_created,
        status=status,
        latency_ms=(time.time() - started) * 1000 if started else None,
        error=error,
    )
    try:
        rt.decision_log.write(rec)
    except (OSError, ValueError) as e:
        log.warning(f"sso-router: cannot write the decision log: {e}")


def flow_line(flow: http.HTTPFlow, status: int) -> None:
    """One line per request, like mitmdump's own, but never a query value (to stdout as the dumper
    writes it: a log record would fire an add_log event through every addon)."""
    path = flow.metadata[REQUEST_META]["path"].split("?", 1)[0]
    try:
        sys.stdout.write(
            f"{flow.client_conn.peername[0] if flow.client_conn.peername else '-'}: "
            f"{flow.request.method} {path} {flow.comment} << {status}\n"
        )
        sys.stdout.flush()
    except (OSError, ValueError):  # a closed or broken stdout must not break routing
        pass
