"""What the hooks note for the login figures: on the event loop, no I/O — a metric, a dict set or a
list append into the runtime's ``FigureBuffer``; the figures task takes it to the store.

- ``noted_request``: the provider a request went to (the decommission check); what kind of login
  exchange it is (``outcomes.exchange_of``: the path, substring checks of the query and a small
  body), kept on the flow for its answer; for an IdP's answer coming back, the keys that cross its
  departure off (hashed already by ``pipeline.begin``).
- ``noted_response``: the outcome a login exchange's answer carries (status, ``Location``, and only
  where ``outcomes.peek_size`` asks for it, a bounded head of the body); nothing for any other flow.
- ``noted_departures``: a provider's answer that sends the browser to the org's IdP.
- ``noted_error``: a login exchange whose provider could not be reached failed.

A failure here is counted (``sso_router_parse_failures_total{kind="internal"}``) and never raised:
the figures must not cost a login.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from mitmproxy import http

from ..model import Decision, Mapping, Provider
from ..outcomes import (
    Exchange,
    Outcome,
    classify,
    classify_upstream_error,
    departure_keys,
    exchange_of,
    peek_size,
    returning_candidate_keys,
)
from ..pipeline import Pending
from ..rewrite import Learned
from ..view import RequestView, ResponseView, media_type
from .flows import message_body
from .runtime import Runtime

log = logging.getLogger("sso_router")
EXCHANGE = "sso_router_exchange"  # flow.metadata key: the login exchange a request is (absent: none)


def noted_request(
    rt: Runtime, flow: http.HTTPFlow, view: RequestView, d: Decision, m: Mapping, pending: Pending | None, now: float
) -> None:
    try:
        rt.figure_buffer.routed(d.forward_to, now)
        p = m.providers.get(d.forward_to)
        exchange = exchange_of(view, p.kind) if p is not None else None
        if exchange is None:
            return
        flow.metadata[EXCHANGE] = exchange
        if exchange in ("acs", "idp_callback") and pending is not None and pending.keys:
            rt.figure_buffer.returned(returning_candidate_keys(pending.keys), now, m.settings.correlation_ttl)
    except Exception as e:  # noqa: BLE001
        _internal(rt, e, "noting a request")


def noted_response(
    rt: Runtime, flow: http.HTTPFlow, resp: http.Response, hdrs: dict[str, str], d: Decision, p: Provider
) -> None:
    """``hdrs``: the answer's ``header_dict`` (before the router rewrote its ``Location``: only the
    query and fragment are read, which a rewrite keeps)."""
    exchange: Exchange | None = flow.metadata.get(EXCHANGE)
    if exchange is None:
        return
    try:
        status, ct = resp.status_code, media_type(hdrs.get("content-type"))
        n = peek_size(exchange, status, ct)
        body = _peek(resp, hdrs, n) if n else b""
        o = classify(p.kind, exchange, ResponseView(status, hdrs.get("location"), ct, body))
        if o is not None:
            _count(rt, d, o)
    except Exception as e:  # noqa: BLE001
        _internal(rt, e, f"reading {p.name}'s answer for its outcome")


def noted_departures(rt: Runtime, d: Decision, p: Provider, records: Sequence[Learned], m: Mapping) -> None:
    if not records:
        return
    try:
        keys = departure_keys(records, rt.secret)
        if keys:
            rt.figure_buffer.departure(d.org, p.name, keys, time.time(), m.settings.correlation_ttl)
    except Exception as e:  # noqa: BLE001
        _internal(rt, e, f"noting what {p.name}'s answer sent to an IdP")


def noted_error(rt: Runtime, flow: http.HTTPFlow, d: Decision) -> None:
    o = classify_upstream_error(flow.metadata.get(EXCHANGE))
    if o is not None:
        _count(rt, d, o)


def _count(rt: Runtime, d: Decision, o: Outcome) -> None:
    rt.metrics.login_outcome(d.forward_to, o.ok)
    rt.figure_buffer.outcome(d.org, d.forward_to, o.stage, o.ok, o.kind, time.time())


def _peek(resp: http.Response, hdrs: dict[str, str], n: int) -> bytes:
    """The body's first ``n`` bytes, decoded within ``n`` (a compressed body longer than that: none)."""
    raw = resp.raw_content
    if not raw:
        return b""
    encoding = hdrs.get("content-encoding")
    if not encoding:
        return raw[:n]
    if len(raw) > n:
        return b""
    body, _ = message_body(resp, n, encoding)
    return body[:n]


def _internal(rt: Runtime, e: BaseException, doing: str) -> None:
    rt.metrics.parse_failure("internal")
    log.warning(f"sso-router: internal error ({type(e).__name__}) {doing}; login figures skip it")
