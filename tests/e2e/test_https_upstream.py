"""A provider behind https: the request reaches it over TLS with the provider's ``sni``, its
``host_header``, ``headers`` and ``client_ip_header`` applied, through the contract's
``--mode reverse:https://legacy.invalid`` (whose placeholder TLS layer the router drops)."""

from __future__ import annotations

import http.server
import ssl
import threading

import pytest
import requests

from tests.ports import free_port

from .peers.keys import make_keypair
from .proxy import Mitmdump


class TlsUpstream:
    """An https server on 127.0.0.1 that records the SNI and the request it got."""

    def __init__(self, keypair):
        self.seen: list[dict] = []
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(keypair.cert_file, keypair.key_file)
        self.sni: list[str | None] = []
        ctx.sni_callback = lambda sock, name, c: self.sni.append(name) and None
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                outer.seen.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}})
                self.send_response(200)
                self.send_header("content-length", "2")
                self.send_header("x-peer", "tls-legacy")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def tls_upstream(tmp_path):
    up = TlsUpstream(make_keypair(tmp_path / "tls", "tls-upstream"))
    try:
        yield up
    finally:
        up.stop()


def test_https_provider_gets_sni_host_header_headers_and_client_ip(tmp_path, tls_upstream):
    port = free_port()
    mapping = {
        "router": {
            "public_url": f"http://127.0.0.1:{port}",
            "default_provider": "legacy",
            "migration_target": "scalekit",
            "debug_headers": True,
        },
        "providers": {
            "legacy": {
                "kind": "auth0",
                "upstream": f"https://127.0.0.1:{tls_upstream.port}",
                "sni": "login.provider.test",
                "host_header": "login.yourapp.test",
                "headers": {"cname-api-key": "k-123"},
                "client_ip_header": "True-Client-IP",
            },
            "scalekit": {"kind": "scalekit", "upstream": "http://127.0.0.1:9"},
        },
        "orgs": {"megasoft.com": {"migrated": False}},
    }
    px = Mitmdump(tmp_path, port, mapping, extra_args=["--set", "ssl_insecure=true"])
    try:
        px.start()
        for i in range(3):  # several requests on one client connection, then a second connection
            with requests.Session() as s:
                r = s.get(f"{px.url}/authorize?login_hint=a@megasoft.com&i={i}", timeout=10)
                assert r.status_code == 200 and r.headers.get("x-peer") == "tls-legacy", (r.status_code, r.text[:200])
                assert r.headers["x-sso-route"] == "legacy; reason=org"
                r = s.get(f"{px.url}/u/assets/app.css", timeout=10)
                assert r.headers.get("x-peer") == "tls-legacy"
    finally:
        px.stop()
    assert tls_upstream.sni and set(tls_upstream.sni) == {"login.provider.test"}
    first = tls_upstream.seen[0]
    assert first["path"] == "/authorize?login_hint=a@megasoft.com&i=0"
    assert first["headers"]["host"] == "login.yourapp.test"
    assert first["headers"]["cname-api-key"] == "k-123"
    assert first["headers"]["true-client-ip"] == "127.0.0.1"
    assert len(tls_upstream.seen) == 6
