"""Lifetimes and switches of CONTRACT "mapping.toml" through the real mitmdump: ``correlation_ttl``
(an expired login start no longer correlates; the router's cookie lives no longer), ``force_header
= ""`` (no control header at all), ``force_header_secret`` (``yes`` no longer forces), and Scalekit's
``idp_initiated_login`` sent to ``app_callback`` and remembered like a code."""

from __future__ import annotations

import time
import urllib.parse

import pytest

from .browser import Browser, query_of
from .peers.provider import APP_CALLBACK
from .routes import route
from .steps import authorize_url, finish_at_proxy, flip, login, start_saml_login
from .world import SK_APP_CALLBACK

TTL = 3  # s: a correlation_ttl short enough to outlive in a test
MARGIN = 1.0  # s past the ttl: the store's and the cookie's clocks are whole seconds


def sticky_cookie(hop) -> str:
    ours = [c for c in hop.set_cookies if c.startswith("sso_router=")]
    assert ours, hop.set_cookies
    return ours[-1]


@pytest.mark.slow  # waits out a correlation_ttl
def test_a_login_start_older_than_correlation_ttl_no_longer_correlates(peers, start_proxy):
    mapping = peers.base_mapping()
    mapping["router"]["correlation_ttl"] = TTL
    px = start_proxy(mapping)
    early_b, early_page = start_saml_login(px, "alice@megasoft.com", "legacy")
    late_b, late_page = start_saml_login(px, "alice@megasoft.com", "legacy")
    started = time.monotonic()
    px.update_mapping(flip("megasoft.com", True))

    acs = finish_at_proxy(early_b, early_page, px.url)  # within the ttl: back to the provider that started it
    assert acs.peer == "legacy" and route(acs) == ("legacy", "correlation"), acs

    time.sleep(max(0.0, started + TTL + MARGIN - time.monotonic()))  # the ttl passing is what is tested
    acs = finish_at_proxy(late_b, late_page, px.url)
    assert route(acs) == ("scalekit", "org"), acs  # no correlation any more: routed by its Issuer
    assert acs.peer == "scalekit" and acs.status == 403, (acs, acs.text[:200])  # which refuses it, rightly


@pytest.mark.slow  # waits out a correlation_ttl
def test_the_routers_cookie_lives_no_longer_than_correlation_ttl(peers, start_proxy):
    mapping = peers.base_mapping()
    mapping["router"]["correlation_ttl"] = TTL
    px = start_proxy(mapping)
    b = Browser()
    start = b.get(authorize_url(px.url, login_hint="bob@newcompany.com", prompt="login"))
    set_at = time.monotonic()
    cookie = sticky_cookie(start)
    assert f"Max-Age={TTL}" in cookie and "HttpOnly" in cookie, cookie
    value = cookie.split(";", 1)[0]
    asset = Browser().get(px.url + "/assets/app.css", headers={"Cookie": value})
    assert route(asset) == ("scalekit", "sticky"), asset
    time.sleep(max(0.0, set_at + TTL + MARGIN - time.monotonic()))
    asset = Browser().get(px.url + "/assets/app.css", headers={"Cookie": value})  # a browser ignoring Max-Age
    assert route(asset) == ("legacy", "default"), asset  # the signed expiry says no


def test_an_empty_force_header_turns_forcing_off(peers, start_proxy):
    mapping = peers.base_mapping()
    mapping["router"]["force_header"] = ""
    px = start_proxy(mapping)
    lg = login(px.url, headers={"x-force-sk-route": "yes"}, login_hint="alice@megasoft.com")
    assert lg.start.peer == "legacy" and route(lg.start) == ("legacy", "org"), lg.start
    assert lg.callback.peer == "legacy" and lg.callback.status == 302
    # not the router's header any more: an ordinary one, forwarded like any other
    assert peers.legacy.server.seen("/authorize")[-1].headers.get("x-force-sk-route") == "yes"


def test_with_a_force_header_secret_only_the_secret_forces(peers, start_proxy):
    mapping = peers.base_mapping()
    mapping["router"]["force_header_secret"] = "Sup3r-Secret"
    px = start_proxy(mapping)
    for value, provider, reason in (
        ("yes", "legacy", "org"),
        ("sup3r-secret", "legacy", "org"),
        ("Sup3r-Secret", "scalekit", "forced"),
    ):
        hop = Browser().get(
            authorize_url(px.url, login_hint="alice@megasoft.com", prompt="login"), headers={"x-force-sk-route": value}
        )
        assert (hop.peer, route(hop)) == (provider, (provider, reason)), (value, hop)
    assert all("x-force-sk-route" not in r.headers for p in (peers.legacy, peers.scalekit) for r in p.server.records)


def test_idp_initiated_login_goes_to_app_callback_and_comes_back_to_its_provider(peers, start_proxy):
    """Scalekit answers an IdP-initiated login by sending the browser to the app with an
    ``idp_initiated_login`` token; the router sends it to Scalekit's ``app_callback`` (query kept)
    and remembers it: when the app hands it back to the authorize endpoint, it goes to Scalekit —
    even after the org was rolled back to legacy meanwhile."""
    peers.scalekit.allow_unsolicited = peers.scalekit.idp_initiated_login = True
    px = start_proxy()
    b = Browser()
    page = b.get(peers.idp.idp_init_url("newcompany", peers.sp_entity["newcompany"]))
    acs = b.submit_form(page)
    assert acs.peer == "scalekit" and acs.status == 302, (acs, acs.text[:200])
    token = peers.scalekit.issued["idp_initiated_login"][-1]
    assert acs.location == f"{SK_APP_CALLBACK}?{urllib.parse.urlencode({'idp_initiated_login': token})}", acs.location

    px.update_mapping(flip("newcompany.com", False))
    start = Browser().get(
        f"{px.url}/oauth/authorize?"
        + urllib.parse.urlencode(
            {
                "client_id": "app-client",
                "redirect_uri": APP_CALLBACK,
                "response_type": "code",
                "idp_initiated_login": token,
            }
        )
    )
    assert start.peer == "scalekit" and start.status == 302, (start, start.text[:200])
    assert route(start) == ("scalekit", "correlation")
    assert query_of(start.location).get("SAMLRequest"), start.location  # Scalekit took it: SSO begins
    assert not peers.legacy.server.records
