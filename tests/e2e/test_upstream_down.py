"""A provider that is down: 502 naming it, never a silent re-route to the other provider."""

from __future__ import annotations

import re

import pytest
import requests

from .browser import Browser
from .steps import authorize_url, finish_at_proxy, start_saml_login
from .world import World


@pytest.fixture
def world(keys):  # its own peers per test: these tests stop providers
    w = World(keys).start()
    try:
        yield w
    finally:
        w.stop()


def upstream_errors(px, provider: str) -> float:
    text = requests.get(px.url + "/.sso-router/metrics", timeout=5).text
    m = re.search(rf'^sso_router_upstream_errors_total\{{provider="{provider}"\}} ([0-9.]+)$', text, re.M)
    return float(m.group(1)) if m else 0.0


def test_provider_down_mid_login_gives_502_naming_it(peers, start_proxy):
    px = start_proxy()
    b, page = start_saml_login(px, "bob@newcompany.com", "scalekit")
    peers.scalekit.server.stop()
    assert upstream_errors(px, "scalekit") == 0
    acs = finish_at_proxy(b, page, px.url)
    assert acs.status == 502, (acs, acs.text)
    assert "scalekit" in acs.text
    assert acs.peer is None
    assert peers.legacy.server.records == []
    assert upstream_errors(px, "scalekit") == 1 and upstream_errors(px, "legacy") == 0  # counted, per provider
    # the other provider still serves its own orgs
    ok = Browser().get(authorize_url(px.url, login_hint="alice@megasoft.com"))
    assert ok.peer == "legacy" and ok.status == 302


def test_default_provider_down_gives_502_naming_it(peers, start_proxy):
    px = start_proxy()
    peers.legacy.server.stop()
    r = Browser().get(authorize_url(px.url, login_hint="alice@megasoft.com"))
    assert r.status == 502 and "legacy" in r.text, (r, r.text)
    assert peers.scalekit.server.records == []
