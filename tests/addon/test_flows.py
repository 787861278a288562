"""mitmproxy flows → the core's views (routing/mitm/flows.py)."""

from __future__ import annotations

from mitmproxy import http

from routing.mitm.flows import header_dict


def test_header_dict_joins_repeats_as_mitmproxy_does():
    h = http.Headers(
        [
            (b"Accept", b"a"),
            (b"accept", b"b"),
            (b"Cookie", b"x=1"),
            (b"cookie", b"sso_router=v"),
            (b"X-Raw", b"caf\xc3\xa9"),
            (b"X-Bad", b"\xff"),
        ]
    )
    d = header_dict(h)
    assert d["accept"] == h["accept"] == "a, b"
    assert d["cookie"] == "x=1; sso_router=v"
    assert d["x-raw"] == h["x-raw"] == "café"
    assert d["x-bad"] == h["x-bad"]  # undecodable bytes: the same surrogate escapes as mitmproxy
