"""Each use of mitmproxy's private internals (routing/mitm/mitm12.py), pinned against the installed
mitmproxy: what it touches exists with the shape it was written for, it does what it says, and on
another version it takes the public path with one WARNING instead of crashing."""

from __future__ import annotations

import inspect
import logging

import pytest
from mitmproxy import contentviews
from mitmproxy.addons.tlsconfig import TlsConfig
from mitmproxy.proxy.layers import http as http_layers
from mitmproxy.test import taddons

from routing.mitm import errorpage, mitm12


def test_written_for_the_installed_version():
    from mitmproxy.version import VERSION

    assert VERSION.startswith(mitm12.WRITTEN_FOR) and mitm12.SUPPORTED


def test_another_version_warns_once_and_takes_the_public_paths(monkeypatch, caplog):
    monkeypatch.setattr(mitm12, "SUPPORTED", False)
    monkeypatch.setattr(mitm12, "_warned", [])
    caplog.set_level(logging.WARNING, "sso_router")
    assert mitm12.check() is False and mitm12.check() is False
    assert [r.levelname for r in caplog.records if "written for mitmproxy" in r.getMessage()] == ["WARNING"]
    assert mitm12.wrap_upstream_errors(errorpage.upstream_message) is False
    with taddons.context():
        assert mitm12.option_is_default("ssl_insecure") is None  # can't tell: the caller leaves it alone


def test_the_placeholder_layers_are_the_ones_it_stacks():
    """serve_https_placeholder builds mitmproxy's own layers by hand (e2e: test_https_upstream)."""
    from mitmproxy.net.tls import starts_like_tls_record
    from mitmproxy.proxy import tunnel
    from mitmproxy.proxy.layers import ClientTLSLayer, HttpLayer
    from mitmproxy.proxy.layers.http import HTTPMode
    from mitmproxy.proxy.layers.modes import ReverseProxy
    from mitmproxy.proxy.mode_specs import ReverseMode

    assert starts_like_tls_record(b"\x16\x03\x01\x02\x00\x01") and not starts_like_tls_record(b"GET / HTTP/1.1")
    assert hasattr(tunnel, "LayerStack") and HTTPMode.transparent
    assert list(inspect.signature(HttpLayer).parameters) == ["context", "mode"]
    assert next(iter(inspect.signature(ClientTLSLayer).parameters)) == "context"
    assert ReverseMode.parse("reverse:https://legacy.invalid").scheme == "https" and ReverseProxy


def test_the_error_page_wrapper_is_installed_once_and_removable():
    stream = http_layers.HttpStream
    params = list(inspect.signature(stream.handle_protocol_error).parameters)
    assert params == ["self", "event"]
    try:
        assert mitm12.wrap_upstream_errors(errorpage.upstream_message)
        first = stream.handle_protocol_error
        assert mitm12.wrap_upstream_errors(errorpage.upstream_message)  # again: wraps the original, not itself
        assert stream.handle_protocol_error.__wrapped__ is first.__wrapped__
        mitm12.unwrap_upstream_errors()
        assert not getattr(stream.handle_protocol_error, mitm12._MARK, False)
    finally:
        mitm12.wrap_upstream_errors(errorpage.upstream_message)  # as the addon leaves it for the process


def test_the_error_event_can_be_rebuilt_with_another_message():
    import dataclasses

    from mitmproxy.proxy.layers.http import ErrorCode, ResponseProtocolError

    e = ResponseProtocolError(1, "Server connection to ('10.0.0.5', 443) failed", ErrorCode.CONNECT_FAILED)
    replaced = dataclasses.replace(e, message="sso-router: provider 'legacy' failed: connection refused")
    assert (replaced.stream_id, replaced.code, replaced.message) == (
        1,
        ErrorCode.CONNECT_FAILED,
        "sso-router: provider 'legacy' failed: connection refused",
    )


def test_option_is_default_tells_a_set_option_from_an_unset_one():
    with taddons.context() as tctx:
        assert mitm12.option_is_default("ssl_insecure") is True
        tctx.options.update(ssl_insecure=False)  # the user's value, even if it equals the default
        assert mitm12.option_is_default("ssl_insecure") is False
        assert mitm12.option_is_default("no_such_option") is None


def test_the_certificate_store_is_built_before_running(tmp_path):
    tls = TlsConfig()
    with taddons.context(tls) as tctx:
        tctx.configure(tls, confdir=str(tmp_path))
        tls.certstore = None  # as 12.2 leaves it until running()
        mitm12.prepare_certstore()
        assert tls.certstore is not None


class _View(contentviews.Contentview):
    name = "sso-router-test-view"

    def prettify(self, data, metadata):
        return data.decode()

    def render_priority(self, data, metadata):
        return -1


def test_a_contentview_is_removed_from_the_registry():
    view = _View()
    contentviews.add(view)
    assert contentviews.registry.get(view.name) is view
    mitm12.remove_contentview(view, lambda registered, ours: registered is ours)
    with pytest.raises(KeyError):
        contentviews.registry[view.name]


def test_pointing_a_request_upstream_matches_mitmproxys_setters():
    """Pinned in full, for HTTP/1 and HTTP/2 and each request form, by tests/addon/test_apply.py
    (``point_upstream`` against the setters); here: the fields it writes are the ones the setters use."""
    from mitmproxy import http

    req = http.Request.make("GET", "http://auth.yourapp.com/authorize?x=1", b"", {"Host": "auth.yourapp.com"})
    mitm12.point_request(req, "https", "yourapp.us.auth0.com", 443, "login.yourapp.com", (("x-k", "v"),))
    assert (req.scheme, req.host, req.port, req.headers["host"], req.headers["x-k"]) == (
        "https",
        "yourapp.us.auth0.com",
        443,
        "login.yourapp.com",
        "v",
    )
    assert req.url == "https://yourapp.us.auth0.com/authorize?x=1"
