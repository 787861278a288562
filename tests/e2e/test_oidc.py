"""OIDC through the real proxy: code flow routed back by the provider's ``state``, a form_post
``id_token``, code exchange with HTTP Basic client auth, M2M client_credentials, userinfo."""

from __future__ import annotations

import requests

from .browser import Browser
from .routes import route
from .steps import accepted, exchange_code, login
from .world import M2M_CLIENTS


def test_oidc_code_flow_legacy_org(peers, proxy):
    lg = login(proxy.url, login_hint="carol@acme.com")
    assert lg.start.peer == "legacy" and route(lg.start) == ("legacy", "org")
    assert lg.start.location.startswith(peers.oidc.issuer("acme") + "/authorize?")
    assert lg.callback.url.startswith(proxy.url + "/login/callback?code=")
    assert lg.callback.peer == "legacy" and lg.callback.status == 302, lg.callback.text
    assert route(lg.callback) == ("legacy", "correlation")
    assert peers.scalekit.server.records == []


def test_oidc_state_brings_callback_back_to_the_provider_that_sent_it(peers, proxy):
    """acme is a legacy org, but this login was forced to scalekit: its callback path names conn_acme
    (an acme connection), so only scalekit's ``state`` can route it to scalekit."""
    lg = login(proxy.url, headers={"x-force-sk-route": "yes"}, login_hint="carol@acme.com")
    assert lg.start.peer == "scalekit"
    assert lg.callback.url.startswith(proxy.url + "/sso/v1/oidc/conn_acme/callback?")
    assert lg.callback.peer == "scalekit" and lg.callback.status == 302, lg.callback.text
    assert route(lg.callback) == ("scalekit", "correlation")
    assert peers.legacy.server.records == []
    d = proxy.decision_for("GET", "/sso/v1/oidc/conn_acme/callback")
    assert (d["provider"], d["reason"]) == ("scalekit", "correlation")


def test_oidc_form_post_id_token_migrated_org(peers, proxy):
    lg = login(proxy.url, path="/oauth/authorize", login_hint="dan@globex.com")
    assert lg.start.peer == "scalekit"
    assert lg.callback.method == "POST" and lg.callback.url.endswith("/sso/v1/oidc/conn_globex/callback")
    assert lg.callback.peer == "scalekit" and lg.callback.status == 302, lg.callback.text
    assert peers.scalekit.server.seen("/sso/v1/oidc/conn_globex/callback")[0].accepted
    assert peers.legacy.server.records == []


def test_posted_id_token_routes_by_its_issuer(peers, proxy):
    """A form_post whose state the router never saw (e.g. it started elsewhere) is routed by the
    id_token's ``iss``: globex is migrated, so it reaches scalekit (which refuses the unknown state)."""
    token = peers.oidc.id_token("globex", "scalekit-at-globex", "dan@globex.com", None)
    r = Browser().request(
        "POST", proxy.url + "/login/callback", data={"id_token": token, "state": "unseen-1"}, send_cookies=False
    )
    assert r.peer == "scalekit", (r, r.text)
    assert route(r)[0] == "scalekit"
    assert peers.legacy.server.records == []


def test_code_exchange_with_basic_auth_goes_to_the_issuer(peers, proxy):
    legacy_login = login(proxy.url, login_hint="carol@acme.com")
    sk_login = login(proxy.url, path="/oauth/authorize", login_hint="dan@globex.com")
    for lg, issuer, other in ((legacy_login, peers.legacy, peers.scalekit), (sk_login, peers.scalekit, peers.legacy)):
        assert lg.code, lg.app_location
        before = len(other.server.records)
        since = proxy.mark()
        r = exchange_code(proxy.url, lg.code)
        assert r.status_code == 200, r.text
        assert r.headers.get("X-Peer") == issuer.name
        assert issuer.server.seen("/oauth/token")[-1].accepted
        assert len(other.server.records) == before
        assert set(r.json()) >= {"access_token", "id_token", "refresh_token", "expires_in"}
        d = proxy.decision_for("POST", "/oauth/token", since=since, last=False)
        assert (d["provider"], d["reason"]) == (issuer.name, "correlation")
        again = exchange_code(proxy.url, lg.code)  # a code is redeemed once, at its issuer
        assert again.status_code == 400 and again.headers.get("X-Peer") == issuer.name

        info = requests.get(
            proxy.url + "/userinfo", timeout=10, headers={"Authorization": f"Bearer {r.json()['access_token']}"}
        )
        assert info.status_code == 200 and info.json()["provider"] == issuer.name, info.text


def test_m2m_client_credentials_routed_by_basic_client_id(peers, proxy):
    for client_id, provider in (("m2m-newco", "scalekit"), ("m2m-megasoft", "legacy")):
        r = requests.post(
            proxy.url + "/oauth/token",
            auth=(client_id, M2M_CLIENTS[client_id]),
            timeout=10,
            data={"grant_type": "client_credentials", "audience": "https://api.app.test"},
        )
        assert r.status_code == 200, r.text
        assert r.headers.get("X-Peer") == provider
        assert r.headers.get("x-sso-route", "").startswith(f"{provider}; reason=org")
    assert [r.path for r in accepted(peers.scalekit.server.records)] == ["/oauth/token"]
    assert [r.path for r in accepted(peers.legacy.server.records)] == ["/oauth/token"]
    # client_id in the form body works the same way
    r = requests.post(
        proxy.url + "/oauth/token",
        timeout=10,
        data={"grant_type": "client_credentials", "client_id": "m2m-newco", "client_secret": M2M_CLIENTS["m2m-newco"]},
    )
    assert r.status_code == 200 and r.headers.get("X-Peer") == "scalekit", r.text
