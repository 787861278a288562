"""Applying a decision to a flow (routing/mitm/apply.py): ``point_upstream`` sets the request's target
exactly as mitmproxy's own setters would, whatever form the request came in."""

from __future__ import annotations

import pytest
from mitmproxy import http

from routing.mapping_loader import load_mapping_file
from routing.mitm.apply import point_upstream


def _by_setters(req: http.Request, p) -> http.Request:
    r = req.copy()
    up = p.upstream
    r.scheme, r.port, r.host = up.scheme, up.port, up.host
    r.host_header = p.host_header or up.netloc
    for k, v in p.headers:
        r.headers[k] = v
    return r


@pytest.mark.parametrize(
    "version, authority, host",
    [
        ("HTTP/1.1", "", "auth.yourapp.com"),  # origin-form, what browsers send
        ("HTTP/1.1", "auth.yourapp.com", "auth.yourapp.com"),  # absolute-form request line
        ("HTTP/1.1", "", None),  # no Host at all (HTTP/1.0 style)
        ("HTTP/2.0", "auth.yourapp.com", None),  # :authority only
        ("HTTP/2.0", "auth.yourapp.com", "auth.yourapp.com"),  # :authority and a Host field
    ],
)
@pytest.mark.parametrize("provider", ["legacy", "scalekit"])
def test_point_upstream_matches_mitmproxys_setters(mapping_file, version, authority, host, provider):
    m = load_mapping_file(str(mapping_file))
    p = m.providers[provider]
    req = http.Request(
        "127.0.0.1",
        8080,
        b"GET",
        b"http",
        authority.encode(),
        b"/authorize?x=1",
        version.encode(),
        http.Headers(**({"Host": host} if host else {})),
        b"",
        None,
        0.0,
        0.0,
    )
    want = _by_setters(req, p)
    point_upstream(req, p)
    assert req.data.scheme == want.data.scheme and req.host == want.host and req.port == want.port
    assert req.data.authority == want.data.authority
    assert req.headers.fields == want.headers.fields
    assert req.url == want.url and req.url.startswith(p.upstream.url.rstrip("/"))
