"""Parsing that is subtle, through the real proxy: which token decides at revocation and
introspection, our own origin written with its default port, and a provider's ``Set-Cookie``
Domain written with spaces or a trailing dot."""

from __future__ import annotations

import requests

from .browser import Browser
from .steps import authorize_url, exchange_code, login

SAME_DOMAIN_APP = ("same-domain-app", "same-domain-secret")


def _tokens(proxy, hint: str) -> dict:
    lg = login(proxy.url, login_hint=hint)
    r = exchange_code(proxy.url, lg.code)
    assert r.status_code == 200, r.text
    return r.json()


def test_revocation_and_introspection_go_by_the_token_parameter_not_the_callers_bearer(peers, start_proxy):
    """The caller authenticates with its own Bearer (here a token scalekit issued); the token the
    request is about (one legacy issued) decides where it goes."""
    proxy = start_proxy()
    legacy = _tokens(proxy, "alice@megasoft.com")
    scalekit = _tokens(proxy, "bob@newcompany.com")
    peers.clear()
    r = requests.post(
        proxy.url + "/oauth/revoke",
        data={"token": legacy["refresh_token"]},
        timeout=10,
        headers={"Authorization": f"Bearer {scalekit['access_token']}"},
    )
    assert r.status_code == 200 and r.headers.get("X-Peer") == "legacy", r.text
    assert peers.legacy.server.records[-1].outcome == "accepted: revoked"
    r = requests.post(
        proxy.url + "/oauth/introspect",
        data={"token": scalekit["access_token"]},
        timeout=10,
        headers={"Authorization": f"Bearer {legacy['access_token']}"},
    )
    assert r.status_code == 200 and r.headers.get("X-Peer") == "scalekit", r.text
    assert r.json()["active"] is True
    assert [x.path for x in peers.legacy.server.records] == ["/oauth/revoke"]
    d = proxy.decision_for("POST", "/oauth/revoke")
    assert (d["provider"], d["reason"], d["identifier"]) == ("legacy", "correlation", "token")


def _named_public_url(world) -> dict:
    """The proxy published as http://auth.test (default port); tests reach it at 127.0.0.1."""
    m = world.base_mapping()
    m["router"]["public_url"] = "http://auth.test"
    m["router"]["hosts"] = ["127.0.0.1"]
    return m


def test_a_redirect_to_public_url_with_its_default_port_is_our_own(peers, start_proxy):
    """``http://auth.test:80/…`` is the router's own origin: a code sent there goes back through the
    router, not to the provider's app_callback (which would take the browser to the app)."""
    own = "http://auth.test:80/app/callback"
    peers.scalekit.add_client(*SAME_DOMAIN_APP, [own])
    proxy = start_proxy(_named_public_url(peers))
    lg = login(proxy.url, login_hint="bob@newcompany.com", client_id=SAME_DOMAIN_APP[0], redirect_uri=own)
    assert lg.callback.peer == "scalekit" and lg.callback.status == 302, lg.callback.text
    assert lg.app_location.startswith(own + "?code="), lg.app_location
    r = requests.post(
        proxy.url + "/oauth/token",
        auth=SAME_DOMAIN_APP,
        timeout=10,
        data={"grant_type": "authorization_code", "code": lg.code, "redirect_uri": own},
    )
    assert r.status_code == 200 and r.headers.get("X-Peer") == "scalekit", r.text


def test_a_set_cookie_domain_with_spaces_or_a_trailing_dot_is_rewritten_like_the_plain_form(peers, start_proxy):
    proxy = start_proxy(_named_public_url(peers))
    for written in ("Domain = 127.0.0.1", "domain=127.0.0.1.", "Domain=.127.0.0.1"):
        peers.legacy.session_cookie_domain = written
        hop = Browser().get(authorize_url(proxy.url, login_hint="alice@megasoft.com"))
        assert hop.peer == "legacy" and hop.status == 302, hop
        session = next(c for c in hop.set_cookies if c.startswith("legacy_session="))
        assert "; Domain=auth.test;" in session and "127.0.0.1" not in session, (written, session)
