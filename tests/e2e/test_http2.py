"""HTTP/2 over TLS: mitmdump (reverse mode detects TLS on the same port) serves browsers with h2;
routing and the Host check use ``:authority``.

The client is curl (nghttp2), which, like browsers, offers ``h2`` first in ALPN; httpx offers
``http/1.1`` first and so is served HTTP/1.1 (mitmproxy follows the client's preference).
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl (the HTTP/2 client) is not installed")


def curl_h2(url: str, *extra: str) -> tuple[str, int, dict[str, str]]:
    out = subprocess.run(
        [
            "curl",
            "-sk",
            "--http2",
            "--max-time",
            "10",
            "-o",
            "/dev/null",
            "-D",
            "-",
            "-w",
            "\n%{http_version} %{http_code}",
            *extra,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    ).stdout
    head, _, tail = out.rpartition("\n")
    version, code = tail.split()
    headers = {}
    for line in head.splitlines()[1:]:
        k, sep, v = line.partition(":")
        if sep:
            headers[k.strip().lower()] = v.strip()
    return version, int(code), headers


def test_login_start_over_http2_is_routed_by_org(peers, proxy):
    url = proxy.url.replace("http://", "https://")
    version, status, headers = curl_h2(
        f"{url}/authorize?login_hint=bob%40newcompany.com&response_type=code"
        f"&client_id=app-client&redirect_uri=https%3A%2F%2Fapp.test%2Fcallback&state=h2s"
    )
    assert version == "2"
    assert headers.get("x-peer") == "scalekit", (status, headers)
    d = proxy.decision_for("GET", "/authorize")
    assert (d["provider"], d["reason"], d["org"]) == ("scalekit", "org", "newcompany.com")


def test_foreign_authority_over_http2_gets_421(peers, proxy):
    url = proxy.url.replace("http://", "https://")
    # curl sends a Host header given with -H as the :authority pseudo-header over HTTP/2
    version, status, headers = curl_h2(f"{url}/authorize?login_hint=bob%40newcompany.com", "-H", "Host: evil.example")
    assert (version, status) == ("2", 421)
    assert "x-peer" not in headers
