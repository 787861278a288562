"""Applying a decision to a flow: point it upstream, mark it, say it in words.

What changes on the way out is only what the contract allows: the upstream (scheme, host, port),
the Host sent upstream, the provider's ``headers`` and ``client_ip_header``, a ``target_paths``
rewrite (query kept), and the router's own control header, which is removed.
"""

from __future__ import annotations

from collections.abc import Callable

from mitmproxy import http

from ..model import Decision, Mapping, Provider
from ..record import describe, to_record
from . import mitm12
from .flows import REQUEST_META

META = "sso_router"  # flow.metadata key of the decision record


def apply_decision(
    flow: http.HTTPFlow,
    d: Decision,
    m: Mapping,
    *,
    path: str,
    query: str,
    had_force_header: bool,
    client: Callable[[], str],
    authority: str,
) -> None:
    req = flow.request
    flow.metadata[REQUEST_META] = {"authority": authority, "path": req.path}
    s = m.settings
    if had_force_header:  # a provider never sees the router's control header, nor its secret
        del req.headers[s.force_header]
    p = m.providers[d.forward_to]
    if d.org and d.forward_to == s.migration_target:
        new = m.orgs.target_path(d.org, path)
        if new is not None:
            req.path = new + (f"?{query}" if query else "")
    point_upstream(req, p)
    if p.client_ip_header:
        req.headers[p.client_ip_header] = client()
    flow.metadata[META] = to_record(d)
    flow.comment = describe(d)


def point_upstream(req: http.Request, p: Provider) -> None:
    """Send ``req`` to ``p``: as setting ``scheme``, ``port``, ``host`` and ``host_header`` would."""
    up = p.upstream
    mitm12.point_request(req, up.scheme, up.host, up.port, p.host_header or up.netloc, p.headers)
