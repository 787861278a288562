"""What the browser sees besides logins: sticky cookie, Location rewrite, provider ``paths``,
foreign hosts, and the router's own endpoints."""

from __future__ import annotations

import requests

from .browser import Browser
from .routes import route
from .steps import authorize_url


def test_sticky_cookie_routes_requests_without_identifiers(peers, proxy):
    b = Browser()
    start = b.get(authorize_url(proxy.url, login_hint="bob@newcompany.com"))
    assert start.peer == "scalekit"
    router_cookies = [c for c in start.set_cookies if not c.startswith("scalekit_session=")]
    assert router_cookies, f"the router set no cookie: {start.set_cookies}"
    assert "httponly" in router_cookies[0].lower()
    asset = b.get(proxy.url + "/assets/login.css")
    assert asset.status == 200 and asset.peer == "scalekit", asset
    assert route(asset) == ("scalekit", "sticky")
    d = proxy.decision_for("GET", "/assets/login.css")
    assert (d["provider"], d["reason"], d["org"]) == ("scalekit", "sticky", "newcompany.com")
    # a browser without the cookie gets the default provider
    plain = Browser().get(proxy.url + "/assets/login.css")
    assert plain.peer == "legacy" and route(plain) == ("legacy", "default")


def test_sticky_cookie_is_signed(peers, proxy):
    b = Browser()
    b.get(authorize_url(proxy.url, login_hint="bob@newcompany.com"))
    origin = proxy.url.split("//")[1]
    for name, value in list(b.cookies[origin].items()):
        if name != "scalekit_session":
            b.cookies[origin][name] = value[:-4] + ("AAAA" if not value.endswith("AAAA") else "BBBB")
    asset = b.get(proxy.url + "/assets/login.css")
    assert asset.peer == "legacy" and route(asset) == ("legacy", "default")


def test_login_start_naming_an_org_beats_the_sticky_cookie(peers, proxy):
    b = Browser()
    assert b.get(authorize_url(proxy.url, login_hint="bob@newcompany.com")).peer == "scalekit"
    start = b.get(authorize_url(proxy.url, login_hint="alice@megasoft.com"))
    assert start.peer == "legacy" and route(start) == ("legacy", "org")


def test_location_on_the_upstream_host_is_rewritten(peers, proxy):
    b = Browser()
    start = b.get(authorize_url(proxy.url, login_hint="alice@megasoft.com", prompt="login"))
    assert start.peer == "legacy" and start.status == 302
    state = peers.legacy.issued["state"][-1]
    # legacy said http://127.0.0.1:<legacy port>/u/login?state=…; the browser must see the public URL
    assert start.location == f"{proxy.url}/u/login?state={state}"
    page = b.get(start.location)
    assert page.status == 200 and page.peer == "legacy", (page, page.text)


def test_location_on_a_foreign_host_is_left_alone(peers, proxy):
    r = Browser().get(proxy.url + "/redirect-foreign")
    assert r.peer == "legacy" and r.location == "https://elsewhere.example/landing?x=1"


def test_location_to_the_app_without_app_callback_is_left_alone(peers, proxy):
    r = requests.get(
        proxy.url + "/logout", params={"returnTo": "https://app.test/bye"}, allow_redirects=False, timeout=10
    )
    assert r.headers.get("X-Peer") == "legacy" and r.headers["Location"] == "https://app.test/bye"


def test_provider_paths_win_over_sticky_cookie(peers, proxy):
    b = Browser()
    assert b.get(authorize_url(proxy.url, login_hint="alice@megasoft.com")).peer == "legacy"  # sticky: legacy
    for path in ("/keys", "/keys/sk-1"):
        r = b.get(proxy.url + path)
        assert r.peer == "scalekit", (r, r.text)
        assert route(r) == ("scalekit", "path")
        assert not any(c for c in r.set_cookies), f"a path decision sets no cookie: {r.set_cookies}"
    jwks = b.get(proxy.url + "/keys")
    assert jwks.status == 200 and "keys" in jwks.text
    # /keysx is not under /keys: the sticky cookie (legacy) decides
    other = b.get(proxy.url + "/keysx")
    assert other.peer == "legacy" and route(other) == ("legacy", "sticky")


def test_foreign_host_gets_421(peers, proxy):
    r = requests.get(
        proxy.url + "/authorize",
        params={"login_hint": "bob@newcompany.com"},
        headers={"Host": "evil.example"},
        allow_redirects=False,
        timeout=10,
    )
    assert r.status_code == 421, r.text
    assert peers.legacy.server.records == [] and peers.scalekit.server.records == []
    # the public host is matched case-insensitively, its port ignored
    ok = requests.get(proxy.url + "/assets/x.css", headers={"Host": "127.0.0.1:1"}, timeout=10)
    assert ok.status_code == 200 and ok.headers.get("X-Peer") == "legacy"


def test_builtin_endpoints_are_answered_by_the_router(peers, proxy):
    for name in ("health", "ready", "metrics"):
        r = requests.get(f"{proxy.url}/.sso-router/{name}", timeout=10)
        assert r.status_code == 200, (name, r.text)
        assert "X-Peer" not in r.headers
    assert "sso_router" in requests.get(f"{proxy.url}/.sso-router/metrics", timeout=10).text
    assert peers.legacy.server.records == [] and peers.scalekit.server.records == []
