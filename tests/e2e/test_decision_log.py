"""The decision log keeps a line for every request, whatever bytes its path holds."""

from __future__ import annotations

import socket
import time


def _raw_request(port: int, request_line: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request_line + b"\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n" % port)
        out = b""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    return out


def test_a_path_that_is_not_utf8_is_logged_escaped_not_dropped(peers, proxy):
    """A browser or scanner sends raw bytes in a path; the line is written with them
    percent-encoded (what the bytes were on the wire), never dropped with a warning."""
    answer = _raw_request(proxy.port, b"GET /assets/caf\xe9-\xff\xfe.css?login_hint=a%40megasoft.com HTTP/1.1")
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
    d = proxy.decision_for("GET", "/assets/caf%E9-%FF%FE.css")
    assert (d["provider"], d["reason"], d["org"]) == ("legacy", "org", "megasoft.com")
    assert d["status"] == 200
    assert b"cannot write the decision log" not in proxy.stderr_path.read_bytes() + proxy.stdout_path.read_bytes()
    # the log stays UTF-8 JSON lines, one per request
    raw = proxy.decision_log.read_bytes()
    raw.decode("utf-8")
    assert raw.count(b"\n") == len(proxy.decisions())
