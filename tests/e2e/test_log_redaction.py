"""Nothing secret or internal in any log line or page (issue 13 point 6).

mitmproxy's own protocol errors quote what the client sent — ``Bad HTTP request line: b'GET
/cb?code=…'``, ``Invalid header line: b'Authorization …'``, HTTP/2's ``Received header value
surrounded by whitespace b'Bearer eyJ…'`` — and mitmdump writes them to its terminal log. Each
such malformed request goes through a real mitmdump (with its most verbose log), and its stdout and
stderr are scanned for the secrets; so are URLs with a password (a store URL, a refused upstream)
and the 502 page of a provider that is down, which names the provider, not its upstream.
"""

from __future__ import annotations

import socket
import ssl
import subprocess

import h2.config
import h2.connection
import h2.events
import requests

from .proxy import MITMDUMP, Mitmdump
from .world import free_port, write_mapping

SECRETS = {
    "request line": "CODE-in-request-line-7f3a9",
    "header line": "TOKEN-in-header-line-52c1e",
    "h2 header": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJoMi1zZWNyZXQifQ.c2lnLWgyLXNlY3JldA",
    "query in h2 path": "STATE-in-h2-path-0be4d",
}


def raw_http1(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    return out


def h2_with_bad_header(port: int) -> None:
    """An HTTP/2 request whose Authorization value has surrounding whitespace (h2 refuses to send
    that unless told not to validate): mitmproxy's h2 stack rejects it and logs the value."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["h2"])
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s,
    ):
        assert s.selected_alpn_protocol() == "h2"
        conn = h2.connection.H2Connection(
            h2.config.H2Configuration(
                client_side=True, validate_outbound_headers=False, normalize_outbound_headers=False
            )
        )
        conn.initiate_connection()
        conn.send_headers(
            1,
            [
                (":method", "GET"),
                (":scheme", "https"),
                (":authority", "127.0.0.1"),
                (":path", f"/userinfo?state={SECRETS['query in h2 path']}"),
                ("authorization", f" Bearer {SECRETS['h2 header']} "),
            ],
            end_stream=True,
        )
        s.sendall(conn.data_to_send())
        try:
            for _ in range(20):  # bounded: until the proxy resets the stream or closes
                data = s.recv(65536)
                if not data:
                    break
                events = conn.receive_data(data)
                if any(
                    isinstance(e, (h2.events.StreamReset, h2.events.ConnectionTerminated, h2.events.StreamEnded))
                    for e in events
                ):
                    break
        except (ConnectionResetError, ssl.SSLError, TimeoutError):
            pass


def test_mitmproxys_own_protocol_errors_never_log_secrets(peers, start_proxy):
    px = start_proxy(extra_args=["--set", "termlog_verbosity=debug"])
    raw_http1(px.port, f"GET /cb?code={SECRETS['request line']} HTTP/1.1 trailing-junk\r\n\r\n".encode())
    raw_http1(
        px.port,
        (
            f"GET /userinfo HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization Bearer {SECRETS['header line']}\r\n\r\n"
        ).encode(),
    )
    h2_with_bad_header(px.port)
    assert requests.get(px.url + "/.sso-router/ready", timeout=5).status_code == 200  # still serving
    px.stop()
    out = px.stdout_path.read_text(errors="replace") + px.stderr_path.read_text(errors="replace")
    # mitmproxy did log each protocol error (so the scan below scanned something) ...
    for words in ("Bad HTTP request line", "Invalid header line", "HTTP/2 protocol error"):
        assert words in out, f"expected mitmproxy to log {words!r}:\n{out[-3000:]}"
    # ... and none of what the client sent
    leaks = [where for where, secret in SECRETS.items() if secret in out]
    assert not leaks, (leaks, out[-3000:])


def test_a_store_url_password_never_shows(peers, start_proxy):
    dead = free_port()
    url = f"redis://:hunter2-store-pw@127.0.0.1:{dead}/0?password=hunter2-query-pw"
    px = start_proxy(extra_args=["--set", f"sso_store={url}"], wait_ready=False)
    try:
        from .test_store_degraded import wait_serving

        wait_serving(px)
        health = requests.get(px.url + "/.sso-router/health", timeout=5).text
        requests.get(px.url + "/authorize?state=abc&login_hint=a@megasoft.com", timeout=10)
    finally:
        px.stop()
    out = px.output() + health + px.decision_log.read_text()
    assert f"127.0.0.1:{dead}" in out  # the store is named ...
    assert "hunter2" not in out  # ... without its password (userinfo or query)


def test_a_refused_upstream_url_shows_no_password(tmp_path, world):
    mapping = world.base_mapping()
    mapping["providers"]["legacy"]["upstream"] = "https://admin:hunter2-upstream-pw@origin.internal.example"
    path = tmp_path / "mapping.toml"
    write_mapping(path, mapping)
    r = subprocess.run(
        [
            str(MITMDUMP),
            "--mode",
            "reverse:https://legacy.invalid",
            "--listen-host",
            "127.0.0.1",
            "-p",
            str(free_port()),
            "-s",
            str(Mitmdump.__init__.__globals__["ADDON"]),
            "--set",
            f"sso_mapping={path}",
            "--set",
            "sso_secret=x",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode != 0
    assert "providers.legacy.upstream" in r.stdout + r.stderr
    assert "hunter2" not in r.stdout + r.stderr and "admin:" not in r.stdout + r.stderr


def test_a_502_names_the_provider_not_its_upstream(peers, start_proxy):
    mapping = peers.base_mapping()
    dead = free_port()  # nothing listens: connection refused
    mapping["providers"]["legacy"]["upstream"] = f"http://127.0.0.1:{dead}"
    px = start_proxy(mapping)
    r = requests.get(px.url + "/authorize?login_hint=alice@megasoft.com", timeout=10, allow_redirects=False)
    assert r.status_code == 502
    assert "legacy" in r.text and "connection refused" in r.text, r.text
    assert str(dead) not in r.text and "127.0.0.1" not in r.text, r.text
    d = px.decision_for("GET", "/authorize")
    assert d["status"] == 502 and str(dead) not in d.get("error", ""), d
