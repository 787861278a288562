"""SAML through the real proxy: SP-initiated for a legacy and a migrated org, IdP-initiated routed by
Issuer, test users, the force header and target_paths. The providers verify every response
(signature, InResponseTo they issued, RelayState, Destination), so a misroute fails at the provider."""

from __future__ import annotations

import base64

import jwt
import pytest

from .browser import Browser, parse_form, query_of
from .peers.provider import APP_CALLBACK
from .routes import route
from .steps import accepted, authorize_url, exchange_code, login
from .world import SK_APP_CALLBACK, TEST_USER


def test_sp_initiated_legacy_org(peers, proxy):
    lg = login(proxy.url, login_hint="alice@megasoft.com")
    assert lg.start.peer == "legacy" and route(lg.start) == ("legacy", "org")
    # the IdP's SSO URL (same IP, another port) is a foreign host: left alone
    assert lg.start.location.startswith(peers.idp.sso_url("megasoft") + "?SAMLRequest=")
    assert query_of(lg.start.location)["RelayState"] == peers.legacy.issued["relay_state"][-1]
    assert lg.callback.peer == "legacy", lg.callback.text
    assert lg.callback.status == 302, lg.callback.text
    assert route(lg.callback) == ("legacy", "correlation")
    assert lg.app_location.startswith(APP_CALLBACK + "?"), lg.app_location
    assert query_of(lg.app_location)["state"] == "app-state-1"
    assert [r.path for r in accepted(peers.legacy.server.records)] == ["/authorize", "/login/callback"]
    assert peers.scalekit.server.records == []
    d = proxy.decision_for("POST", "/login/callback")
    assert (d["provider"], d["reason"], d["org"]) == ("legacy", "correlation", "megasoft.com")

    tokens = exchange_code(proxy.url, lg.code)
    assert tokens.status_code == 200, tokens.text
    claims = jwt.decode(
        tokens.json()["id_token"], peers.legacy.keypair.public_pem, algorithms=["RS256"], audience="app-client"
    )
    assert claims["email"] == "alice@megasoft.com" and claims["iss"] == peers.legacy.issuer
    assert peers.scalekit.server.records == []


def test_sp_initiated_migrated_org(peers, proxy):
    lg = login(proxy.url, login_hint="bob@newcompany.com")
    assert lg.start.peer == "scalekit" and route(lg.start) == ("scalekit", "org")
    assert lg.start.location.startswith(peers.idp.sso_url("newcompany") + "?")
    assert lg.callback.peer == "scalekit" and lg.callback.status == 302, lg.callback.text
    assert peers.scalekit.server.seen("/sso/v1/saml/conn_newco/acs")[0].accepted
    # scalekit has app_callback: the browser is sent there, query (code, state) kept
    assert lg.app_location.startswith(SK_APP_CALLBACK + "?"), lg.app_location
    q = query_of(lg.app_location)
    assert q["code"] == peers.scalekit.issued["code"][-1] and q["state"] == "app-state-1"
    assert peers.legacy.server.records == []
    d = proxy.decision_for("POST", "/sso/v1/saml/conn_newco/acs")
    assert (d["provider"], d["org"]) == ("scalekit", "newcompany.com")

    tokens = exchange_code(proxy.url, lg.code)  # no org in it: only the code says scalekit
    assert tokens.status_code == 200, tokens.text
    assert peers.scalekit.server.seen("/oauth/token")[0].accepted
    assert peers.legacy.server.records == []


@pytest.mark.parametrize(
    "slug,provider,org,acs_path",
    [
        ("megasoft", "legacy", "megasoft.com", "/login/callback"),
        ("newcompany", "scalekit", "newcompany.com", "/sso/v1/saml/conn_newco/acs"),
    ],
)
def test_idp_initiated_routed_by_issuer(peers, proxy, slug, provider, org, acs_path):
    prov = getattr(peers, provider)
    prov.allow_unsolicited = True
    b = Browser()
    # the NameID's domain names no org: only the Issuer can route this
    page = b.get(peers.idp.idp_init_url(slug, peers.sp_entity[slug], user="temp@contractor.example"))
    assert page.status == 200, page.text
    acs = b.submit_form(page)
    assert acs.peer == provider and acs.status == 302, (acs, acs.text)
    assert route(acs) == (provider, "org")
    assert [r.path for r in accepted(prov.server.records)] == [acs_path]
    other = peers.scalekit if provider == "legacy" else peers.legacy
    assert other.server.records == []
    d = proxy.decision_for("POST", acs_path)
    assert (d["provider"], d["reason"], d["org"]) == (provider, "org", org)


def test_test_user_of_legacy_org_goes_to_scalekit(peers, proxy):
    lg = login(proxy.url, login_hint=TEST_USER)
    assert lg.start.peer == "scalekit" and route(lg.start)[0] == "scalekit"
    # the ACS path names conn_megasoft (a legacy org): only the correlation keeps it at scalekit
    assert lg.callback.url.endswith("/sso/v1/saml/conn_megasoft/acs")
    assert lg.callback.peer == "scalekit" and lg.callback.status == 302, lg.callback.text
    assert route(lg.callback) == ("scalekit", "correlation")
    assert peers.legacy.server.records == []
    d = proxy.decision_for("GET", "/authorize")
    assert (d["provider"], d["org"]) == ("scalekit", "megasoft.com")
    # a colleague who is not a test user stays on legacy
    other = login(proxy.url, login_hint="alice@megasoft.com")
    assert other.callback.peer == "legacy" and other.callback.status == 302


def test_forged_response_does_not_erase_correlation(peers, proxy):
    b = Browser()
    start = b.get(authorize_url(proxy.url, login_hint=TEST_USER))
    page = b.get(start.location)
    _, action, fields = parse_form(page.text)
    forged = dict(fields)
    xml = base64.b64decode(fields["SAMLResponse"]).replace(TEST_USER.encode(), b"mallory@megasoft.com")
    forged["SAMLResponse"] = base64.b64encode(xml).decode()
    bad = b.request("POST", action, data=forged, send_cookies=False)
    assert bad.peer == "scalekit" and bad.status == 403, (bad, bad.text)
    good = b.request("POST", action, data=fields, send_cookies=False)
    assert good.peer == "scalekit" and good.status == 302, (good, good.text)
    assert peers.legacy.server.records == []


def test_force_header_sends_to_scalekit(peers, proxy):
    lg = login(proxy.url, headers={"x-force-sk-route": "yes"}, login_hint="alice@megasoft.com")
    assert lg.start.peer == "scalekit" and route(lg.start) == ("scalekit", "forced")
    # the IdP's POST carries no force header: the correlation brings it back to scalekit
    assert lg.callback.url.endswith("/sso/v1/saml/conn_megasoft/acs")
    assert lg.callback.peer == "scalekit" and lg.callback.status == 302, lg.callback.text
    assert peers.legacy.server.records == []
    d = proxy.decision_for("GET", "/authorize")
    assert (d["provider"], d["reason"]) == ("scalekit", "forced")

    peers.clear()
    not_forced = login(proxy.url, headers={"x-force-sk-route": "no"}, login_hint="alice@megasoft.com")
    assert not_forced.start.peer == "legacy" and not_forced.callback.peer == "legacy"
    assert not_forced.callback.status == 302
    assert peers.scalekit.server.records == []


def test_target_paths_rewrite_legacy_acs_for_migrated_org(peers, proxy):
    """newcompany's IdP still posts to the legacy ACS /login/callback; it is migrated, so the router
    sends the post to scalekit's /sso/v1/saml/conn_newco/acs."""
    peers.scalekit.allow_unsolicited = True
    b = Browser()
    legacy_acs = peers.public_url + "/login/callback"
    page = b.get(peers.idp.idp_init_url("newcompany", peers.sp_entity["newcompany"], acs=legacy_acs))
    _, action, _ = parse_form(page.text)
    assert action == legacy_acs
    acs = b.submit_form(page)
    assert acs.peer == "scalekit" and acs.status == 302, (acs, acs.text)
    assert [r.path for r in peers.scalekit.server.records] == ["/sso/v1/saml/conn_newco/acs"]
    assert peers.scalekit.server.records[0].accepted
    assert peers.legacy.server.records == []
