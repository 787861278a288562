"""Mapping changes under a running proxy (one mitmdump per test): logins in flight when an org is
flipped, tokens after both orgs flip, hosted pages after a flip, target_paths, shadow mode, a
public URL on another host name, and the README's command line."""

from __future__ import annotations

import socket
import time

import requests

from .browser import Browser, query_of
from .peers.provider import APP_CALLBACK
from .routes import route
from .steps import accepted, authorize_url, exchange_code, finish_at_proxy, flip, login, start_saml_login
from .world import APP_CLIENT


def test_in_flight_login_survives_a_flip(peers, start_proxy):
    px = start_proxy()
    b, idp_page = start_saml_login(px, "alice@megasoft.com", "legacy")

    px.update_mapping(flip("megasoft.com", True))
    fresh = Browser().get(authorize_url(px.url, login_hint="alice@megasoft.com"))
    assert fresh.peer == "scalekit", "new logins of a migrated org go to scalekit"

    acs = finish_at_proxy(b, idp_page, px.url)  # the IdP's POST, no cookies
    assert acs.peer == "legacy" and acs.status == 302, (acs, acs.text)
    assert route(acs) == ("legacy", "correlation")
    assert acs.location.startswith(APP_CALLBACK + "?")
    assert [r.path for r in accepted(peers.legacy.server.records)] == ["/authorize", "/login/callback"]
    assert [r.path for r in peers.scalekit.server.records] == ["/authorize"]
    d = px.decision_for("POST", "/login/callback")
    assert (d["provider"], d["reason"], d["org"]) == ("legacy", "correlation", "megasoft.com")


def test_tokens_route_back_to_their_issuer_after_both_orgs_flip(peers, start_proxy):
    px = start_proxy()
    mega = login(px.url, login_hint="alice@megasoft.com")
    newco = login(px.url, login_hint="bob@newcompany.com")
    assert mega.callback.peer == "legacy" and newco.callback.peer == "scalekit"
    mega_tokens = exchange_code(px.url, mega.code).json()

    px.update_mapping(lambda m: (flip("megasoft.com", True)(m), flip("newcompany.com", False)(m)))

    r = exchange_code(px.url, newco.code)  # code issued before the flip
    assert r.status_code == 200 and r.headers["X-Peer"] == "scalekit", r.text
    newco_tokens = r.json()
    for tokens, issuer, other in (
        (mega_tokens, peers.legacy, peers.scalekit),
        (newco_tokens, peers.scalekit, peers.legacy),
    ):
        before = len(other.server.records)
        checks = [
            requests.get(
                px.url + "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}, timeout=10
            ),
            requests.post(
                px.url + "/oauth/introspect", auth=APP_CLIENT, data={"token": tokens["access_token"]}, timeout=10
            ),
            requests.post(
                px.url + "/oauth/token",
                auth=APP_CLIENT,
                timeout=10,
                data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            ),
            requests.get(
                px.url + "/logout",
                params={"id_token_hint": tokens["id_token"], "returnTo": "https://app.test/bye"},
                allow_redirects=False,
                timeout=10,
            ),
            requests.post(
                px.url + "/oauth/revoke", auth=APP_CLIENT, data={"token": tokens["refresh_token"]}, timeout=10
            ),
        ]
        for resp in checks:
            assert resp.headers.get("X-Peer") == issuer.name, (resp.request.url, resp.status_code, resp.text)
            assert resp.status_code in (200, 302), (resp.request.url, resp.text)
            assert resp.headers.get("x-sso-route", "").startswith(f"{issuer.name}; reason=correlation"), (
                resp.request.url,
                resp.headers.get("x-sso-route"),
            )
        assert checks[1].json()["active"] is True
        assert len(other.server.records) == before, other.server.records[before:]


def test_hosted_login_page_after_a_flip(peers, start_proxy):
    px = start_proxy()
    start = Browser().get(authorize_url(px.url, login_hint="alice@megasoft.com", prompt="login"))
    assert start.peer == "legacy" and start.location.startswith(px.url + "/u/login?state=")
    state = query_of(start.location)["state"]

    px.update_mapping(flip("megasoft.com", True))
    b = Browser()  # another tab without the router's cookie: only the state can route
    page = b.get(start.location)
    assert page.peer == "legacy" and page.status == 200, (page, page.text)
    # the username names megasoft (now migrated); the state still belongs to legacy
    post = b.request(
        "POST", px.url + "/u/login", data={"state": state, "username": "alice@megasoft.com", "password": "pw"}
    )
    assert post.peer == "legacy" and post.status == 302, (post, post.text)
    assert route(post) == ("legacy", "correlation")
    idp = b.get(post.location)
    acs = finish_at_proxy(b, idp, px.url)
    assert acs.peer == "legacy" and acs.status == 302, (acs, acs.text)
    assert peers.scalekit.server.records == []


def test_without_target_paths_the_legacy_acs_reaches_scalekit_unrewritten(peers, start_proxy):
    """Control for test_saml's target_paths test: the rewrite there is the router's doing."""
    mapping = peers.base_mapping()
    del mapping["orgs"]["newcompany.com"]["target_paths"]
    start_proxy(mapping)
    peers.scalekit.allow_unsolicited = True
    b = Browser()
    page = b.get(
        peers.idp.idp_init_url("newcompany", peers.sp_entity["newcompany"], acs=peers.public_url + "/login/callback")
    )
    acs = b.submit_form(page)
    assert acs.peer == "scalekit" and acs.status == 404, (acs, acs.text)
    assert [r.path for r in peers.scalekit.server.records] == ["/login/callback"]
    assert peers.legacy.server.records == []


def test_shadow_mode_forwards_to_default_and_logs_the_decision(peers, start_proxy):
    mapping = peers.base_mapping()
    mapping["router"]["shadow"] = True
    px = start_proxy(mapping)
    lg = login(px.url, login_hint="bob@newcompany.com")
    assert lg.start.peer == "legacy", lg.start
    assert "scalekit" in (lg.start.route or "") and "shadow" in (lg.start.route or ""), lg.start.route
    assert lg.callback.peer == "legacy" and lg.callback.status == 302, (lg.callback, lg.callback.text)
    # a legacy code never goes to scalekit's app_callback
    assert lg.app_location.startswith(APP_CALLBACK + "?"), lg.app_location
    assert [r.path for r in accepted(peers.legacy.server.records)] == ["/authorize", "/login/callback"]
    assert peers.scalekit.server.records == []
    d = px.decision_for("GET", "/authorize")
    assert d["provider"] == "scalekit" and d["org"] == "newcompany.com" and d.get("shadow") is True, d
    r = exchange_code(px.url, lg.code)
    assert r.status_code == 200 and r.headers["X-Peer"] == "legacy", r.text
    assert peers.scalekit.server.records == []


def test_location_and_cookie_domain_use_the_public_host(peers, start_proxy):
    mapping = peers.base_mapping()
    public = f"http://auth.yourapp.test:{peers.proxy_port}"
    mapping["router"]["public_url"] = public
    px = start_proxy(mapping)
    host = {"Host": f"auth.yourapp.test:{peers.proxy_port}"}
    r = Browser().get(authorize_url(px.url, login_hint="alice@megasoft.com", prompt="login"), headers=host)
    assert r.peer == "legacy" and r.status == 302
    assert r.location.startswith(public + "/u/login?state="), r.location
    provider_cookie = [c for c in r.set_cookies if c.startswith("legacy_session=")]
    assert provider_cookie, r.set_cookies
    assert "domain=auth.yourapp.test" in provider_cookie[0].lower().replace(" ", ""), provider_cookie[0]
    assert "127.0.0.1" not in provider_cookie[0]
    assert Browser().get(px.url + "/assets/a.css").status == 421  # Host 127.0.0.1 is not served now


def test_readme_command_line(peers, start_proxy):
    """`mitmdump --mode reverse:https://legacy.invalid -s sso_router_addon.py --set sso_mapping=mapping.toml`
    with no other option: the very first connection accepted is already served (lazy connect, Host
    kept), plain http:// upstreams work, and an unset secret is only a warning."""
    px = start_proxy(readme=True, secret=None, wait_ready=False)
    deadline = time.monotonic() + 20
    while True:
        try:
            sock = socket.create_connection(("127.0.0.1", px.port), timeout=1)
            break
        except OSError:
            assert px.proc.poll() is None, px.output()
            assert time.monotonic() < deadline, "mitmdump never listened"
            time.sleep(0.05)
    with sock:
        sock.settimeout(10)
        sock.sendall(
            f"GET /assets/first.css HTTP/1.1\r\nHost: 127.0.0.1:{px.port}\r\nConnection: close\r\n\r\n".encode()
        )
        data = b""
        for _ in range(100):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    assert data.startswith(b"HTTP/1.1 200"), data[:300]
    assert b"x-peer: legacy" in data.lower(), data[:500]
    # served before running(): /ready may still say 503 for a moment after that first answer
    deadline = time.monotonic() + 15
    while (ready := requests.get(px.url + "/.sso-router/ready", timeout=5).status_code) != 200:
        assert time.monotonic() < deadline, f"/ready still {ready}"
        time.sleep(0.05)
    lg = login(px.url, login_hint="bob@newcompany.com")
    assert lg.callback.peer == "scalekit" and lg.callback.status == 302
    assert "ERROR" not in px.output()
