"""The hostile corpus (tests/hostile, see its README) sent through the real mitmdump, each file the
ways a browser or an IdP would carry it (CONTRACT "Bad input"): every request is answered, below 500,
within ``ANSWER_WITHIN``; the proxy stays up; the next login is fine. And a plain body over
``max_body`` is forwarded uninspected, byte for byte, routed by what else names its org."""

from __future__ import annotations

import base64
import json
import time
import urllib.parse
import zlib
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from .routes import route
from .steps import login

HOSTILE = Path(__file__).resolve().parents[1] / "hostile"
MANIFEST: list[dict] = json.loads((HOSTILE / "manifest.json").read_text())
ANSWER_WITHIN = 5.0  # s for one hostile request, provider included (a bomb must not stall the parse)
FORM = {"content-type": "application/x-www-form-urlencoded"}


def raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def q(value: bytes | str) -> str:
    return urllib.parse.quote(value, safe="")


def carriers(entry: dict) -> list[tuple[str, str, str, bytes]]:
    """(label, method, path?query, form body) for each way this file reaches the auth domain."""
    data = (HOSTILE / entry["file"]).read_bytes()
    feed = entry["feed"]
    if feed == "xml":
        return [
            (
                "SAMLResponse, HTTP-POST",
                "POST",
                "/login/callback",
                f"SAMLResponse={q(base64.b64encode(data))}&RelayState=r1".encode(),
            ),
            ("SAMLRequest, HTTP-Redirect", "GET", f"/saml2?SAMLRequest={q(base64.b64encode(raw_deflate(data)))}", b""),
        ]
    if feed == "post":
        return [("SAMLResponse value", "POST", "/login/callback", f"SAMLResponse={q(data)}".encode())]
    if feed == "redirect":
        return [("SAMLRequest value", "GET", f"/saml2?SAMLRequest={q(data)}", b"")]
    if feed == "value":
        return [
            ("SAMLResponse bytes", "POST", "/login/callback", b"SAMLResponse=" + q(data).encode()),
            ("SAMLRequest bytes", "GET", f"/saml2?SAMLRequest={q(data)}", b""),
        ]
    if feed == "jwt":
        token = data.decode("utf-8", "surrogateescape").strip()
        return [
            (
                "posted id_token",
                "POST",
                "/login/callback",
                f"id_token={q(token.encode('utf-8', 'surrogateescape'))}".encode(),
            ),
            ("id_token_hint", "GET", f"/v2/logout?id_token_hint={q(token.encode('utf-8', 'surrogateescape'))}", b""),
            (
                "client_assertion",
                "POST",
                "/oauth/token",
                b"grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type"
                b"%3Ajwt-bearer&client_assertion=" + q(token.encode("utf-8", "surrogateescape")).encode(),
            ),
        ]
    raise AssertionError(f"unknown feed {feed!r}")


@pytest.fixture(scope="module")
def session():
    s = requests.Session()
    s.trust_env = False
    yield s
    s.close()


@pytest.mark.parametrize("entry", MANIFEST, ids=lambda e: e["file"])
def test_hostile_input_through_the_proxy(peers, proxy, session, entry):
    for label, method, target, body in carriers(entry):
        t = time.monotonic()
        r = session.request(
            method,
            proxy.url + target,
            data=body or None,
            headers=FORM if body else None,
            allow_redirects=False,
            timeout=ANSWER_WITHIN + 5,
        )
        took = time.monotonic() - t
        what = f"{entry['file']} as {label}"
        assert r.status_code < 500, (what, r.status_code, r.text[:300])
        assert took < ANSWER_WITHIN, f"{what}: answered after {took:.2f}s"
        assert r.headers.get("x-peer") in ("legacy", "scalekit") or r.status_code in (400, 413, 421), (what, r.headers)
        assert proxy.proc.poll() is None, f"mitmdump died on {what}:\n{proxy.output()}"


def test_the_next_login_is_fine(peers, proxy):
    """After the whole corpus (this module's proxy saw every file): logins of both providers work."""
    for hint, provider in (("alice@megasoft.com", "legacy"), ("bob@newcompany.com", "scalekit")):
        lg = login(proxy.url, login_hint=hint)
        assert lg.start.peer == provider and lg.callback.peer == provider and lg.callback.status == 302, lg.callback
    assert "Traceback" not in proxy.output()


MAX_BODY = 1_048_576  # the contract's default max_body


def test_a_body_over_max_body_is_forwarded_uninspected_byte_for_byte(peers, proxy, session):
    # in the body, a connection that would route to legacy (it outranks an email's domain) ...
    body = b"connection=megasoft-saml&padding=" + b"x" * MAX_BODY + b"&end=%FF%00"
    assert len(body) > MAX_BODY
    # ... in the query, an email of a migrated org: with the body uninspected, the query routes
    r = session.post(
        proxy.url + "/sso-login?login_hint=bob%40newcompany.com",
        data=body,
        headers=FORM,
        allow_redirects=False,
        timeout=30,
    )
    assert r.headers.get("x-peer") == "scalekit" and route_of(r) == ("scalekit", "org"), (r.status_code, r.headers)
    got = [rec for rec in peers.scalekit.server.records if rec.path == "/sso-login"]
    assert len(got) == 1 and got[0].body == body  # byte for byte
    d = proxy.decision_for("POST", "/sso-login")
    assert d["identifier"] == "login_hint domain", d


def test_a_body_within_max_body_is_read(peers, proxy, session):
    """The control: the same request with a small body is routed by its connection."""
    body = b"connection=megasoft-saml&padding=" + b"x" * 1000
    r = session.post(
        proxy.url + "/sso-login?login_hint=bob%40newcompany.com",
        data=body,
        headers=FORM,
        allow_redirects=False,
        timeout=30,
    )
    assert r.headers.get("x-peer") == "legacy" and route_of(r) == ("legacy", "org"), r.headers


def route_of(r: requests.Response) -> tuple[str, str]:
    return route(SimpleNamespace(route=r.headers.get("x-sso-route")))
