"""Upstream TLS names the provider — its ``sni``, else its upstream's host — never the browser's SNI,
whatever the ``--mode reverse:`` placeholder is, including the natural
``--mode reverse:https://<that provider's upstream>`` (issue 13 point 3: mitmproxy then copied the
browser's SNI, and every TLS request to that provider failed with a 502)."""

from __future__ import annotations

import socket
import ssl

import pytest

from .peers.keys import make_keypair
from .proxy import Mitmdump
from .test_https_upstream import TlsUpstream
from .world import free_port

BROWSER_SNI = "auth.yourapp.test"  # what the browser asks the router for


@pytest.fixture
def tls_upstream(tmp_path):
    up = TlsUpstream(make_keypair(tmp_path / "tls", "localhost"))
    try:
        yield up
    finally:
        up.stop()


def browser_get(port: int, path: str) -> tuple[int, dict[str, str]]:
    """One HTTPS request to the router as a browser sends it: SNI and Host are the auth domain."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the router's listener serves mitmproxy's own certificate here
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        ctx.wrap_socket(raw, server_hostname=BROWSER_SNI) as s,
    ):
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: {BROWSER_SNI}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:])}
    return int(head[0].split()[1]), headers


def mapping(port: int, upstream_port: int, sni: str = "") -> dict:
    legacy = {"kind": "auth0", "upstream": f"https://localhost:{upstream_port}"}
    if sni:
        legacy["sni"] = sni
    return {
        "router": {
            "public_url": f"https://{BROWSER_SNI}",
            "hosts": ["127.0.0.1"],
            "default_provider": "legacy",
            "migration_target": "scalekit",
            "debug_headers": True,
        },
        "providers": {"legacy": legacy, "scalekit": {"kind": "scalekit", "upstream": "http://127.0.0.1:9"}},
        "orgs": {"megasoft.com": {"migrated": False}},
    }


@pytest.mark.parametrize(
    "placeholder, sni, want",
    [
        ("provider", "", "localhost"),  # the placeholder is that provider's own upstream
        ("provider", "login.provider.test", "login.provider.test"),
        ("other", "", "localhost"),
        ("other", "login.provider.test", "login.provider.test"),
    ],
    ids=["placeholder=provider", "placeholder=provider+sni", "placeholder=other", "placeholder=other+sni"],
)
def test_upstream_sni_is_the_providers_never_the_browsers(tmp_path, tls_upstream, placeholder, sni, want):
    port = free_port()
    mode = f"https://localhost:{tls_upstream.port}" if placeholder == "provider" else "https://legacy.invalid"
    px = Mitmdump(
        tmp_path,
        port,
        mapping(port, tls_upstream.port, sni),
        extra_args=["--set", "ssl_insecure=true"],
        mode=f"reverse:{mode}",
    )
    try:
        px.start()
        for _ in range(2):  # a second connection too: nothing is cached from the first
            status, headers = browser_get(port, "/authorize?login_hint=a@megasoft.com")
            assert status == 200 and headers.get("x-peer") == "tls-legacy", (status, headers, px.output())
            assert headers["x-sso-route"] == "legacy; reason=org"
    finally:
        px.stop()
    assert tls_upstream.sni == [want, want], tls_upstream.sni
