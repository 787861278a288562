"""A real browser logs in through the router over TLS (issue 15 point 6).

Headless Chromium (``tests/e2e/chromium.py``) reaches the router at ``https://auth.yourapp.test``
(the company's certificate, ``mitmdump --certs``), the customer's IdP at
``https://idp.customer-idp.test`` — another site, so the IdP's auto-post to the ACS is a
cross-site POST and SameSite is the browser's own — and the app at ``https://app.test``; every
name resolves to 127.0.0.1 inside the browser only (``--host-resolver-rules``), and the browser
trusts the test CA through ``--ignore-certificate-errors-spki-list``. The IdP shows a sign-in page
first, so a test can flip the org while the user is at the IdP. A failing test leaves a screenshot.
"""

from __future__ import annotations

import html
import urllib.parse

import pytest

from .certs import CertAuthority
from .chromium import Chromium, missing
from .peers.http import PeerServer, Response
from .peers.provider import APP_CALLBACK
from .proxy import Mitmdump
from .steps import authorize_url, flip
from .world import SK_APP_CALLBACK, PeerTls, World

pytestmark = [pytest.mark.skipif(missing() is not None, reason=f"no browser: {missing()}"), pytest.mark.slow]

AUTH_HOST = "auth.yourapp.test"
IDP_HOST = "idp.customer-idp.test"
APP_HOST = "app.test"
HOSTS = {"saml-idp": IDP_HOST, "legacy": "legacy.provider.test", "scalekit": "scalekit.provider.test"}


@pytest.fixture(scope="module")
def ca(tmp_path_factory) -> CertAuthority:
    return CertAuthority(tmp_path_factory.mktemp("browser-ca"))


@pytest.fixture(scope="module")
def auth_leaf(ca):
    return ca.issue(AUTH_HOST)


@pytest.fixture(scope="module")
def tls_world(keys, ca):
    w = World(keys, tls=PeerTls(ca, AUTH_HOST, HOSTS))
    w.idp.sign_in_page = True
    w.start()
    try:
        yield w
    finally:
        w.stop()


@pytest.fixture(scope="module")
def app(ca):
    """The SaaS app's callback (``https://app.test/…``): a page that shows what it was given."""

    def handle(req, rec):
        rec.outcome = "accepted: app page"
        return Response.text(
            200,
            f"<html><head><title>app</title></head><body><h1>app: {html.escape(req.path)}</h1>"
            f"<p id=code>{html.escape(req.query.get('code', ''))}</p></body></html>",
            "text/html",
        )

    server = PeerServer("app", handle).serve_tls(ca.server_context(ca.issue(APP_HOST)), APP_HOST).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def router(tls_world, auth_leaf, ca, tmp_path_factory):
    mapping = tls_world.base_mapping()
    for p in mapping["providers"].values():
        p["ca_file"] = ca.ca_file  # the providers' private CA
    m = Mitmdump(
        tmp_path_factory.mktemp("browser-router"),
        tls_world.proxy_port,
        mapping,
        extra_args=["--certs", f"{AUTH_HOST}={auth_leaf.pem_file}"],
    )
    m.start()
    try:
        yield m
    finally:
        m.stop(drain=False)


@pytest.fixture(scope="module")
def chromium(ca, app, tmp_path_factory):
    rules = [
        f"MAP {APP_HOST}:443 127.0.0.1:{app.port}",
        f"MAP {AUTH_HOST} 127.0.0.1",
        f"MAP {IDP_HOST} 127.0.0.1",
        "MAP * ~NOTFOUND",
    ]  # nothing else resolves: the browser never leaves 127.0.0.1
    b = Chromium(tmp_path_factory.mktemp("chromium"), host_rules=rules, trusted_spki=[ca.spki_sha256]).start()
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture
def browser(chromium, tls_world, router, request, tmp_path):
    tls_world.clear()
    chromium.clear_cookies()
    with chromium.screenshot_on_failure(tmp_path / f"{request.node.name}.png"):
        yield chromium


def at_idp_sign_in(browser: Chromium, world: World, email: str) -> None:
    """SP-initiated: the app sends the browser to the router's /authorize; the provider sends it on
    to the IdP, which shows its sign-in page."""
    browser.get(authorize_url(world.public_url, login_hint=email))
    browser.wait_element("#sign-in")
    assert browser.url.startswith(f"https://{IDP_HOST}:"), browser.url


def sign_in(browser: Chromium, lands_at: str) -> str:
    """Press "Sign in"; the IdP's auto-post page submits itself to the ACS (cross-site); the provider
    sends the browser to the app. The app's URL."""
    browser.click("#sign-in")
    url = browser.wait_url(lands_at + "?")
    assert browser.text("#code"), browser.text()
    return url


def acs_post(world: World, provider: str):
    server = getattr(world, provider).server
    posts = [r for r in server.seen(method="POST") if "acs" in r.path or r.path == "/login/callback"]
    assert posts, f"{provider} got no ACS post: {server.seen()}"
    return posts[-1]


def router_cookie(browser: Chromium) -> dict:
    found = [c for c in browser.cookies() if c["name"] == "sso_router"]
    assert len(found) == 1, browser.cookies()
    return found[0]


@pytest.mark.parametrize(
    "email,provider,lands_at",
    [
        ("alice@megasoft.com", "legacy", APP_CALLBACK),  # legacy org
        ("bob@newcompany.com", "scalekit", SK_APP_CALLBACK),  # migrated org
    ],
    ids=["legacy", "migrated"],
)
def test_sp_initiated_saml_login_in_chromium(browser, tls_world, router, email, provider, lands_at):
    at_idp_sign_in(browser, tls_world, email)
    sign_in(browser, lands_at)
    post = acs_post(tls_world, provider)
    assert post.outcome.startswith("accepted"), post
    assert post.headers.get("sec-fetch-site") == "cross-site", post.headers  # the browser's own judgement
    assert post.headers.get("origin") == f"https://{IDP_HOST}:{tls_world.idp.server.port}"
    other = "scalekit" if provider == "legacy" else "legacy"
    assert not [r for r in getattr(tls_world, other).server.seen() if r.method == "POST"]
    d = router.decision_for("POST", urllib.parse.urlsplit(post.path).path)
    assert d["provider"] == provider, d

    cookie = router_cookie(browser)
    assert cookie["domain"] == AUTH_HOST  # host-only: no Domain attribute, so no leading dot
    assert (cookie["secure"], cookie["httpOnly"], cookie["sameSite"]) == (True, True, "None"), cookie


def test_the_browser_gets_the_company_certificate_over_h2(browser, tls_world, auth_leaf):
    browser.cdp("Network.enable")  # before the request, so DevTools keeps the connection's certificate
    browser.get(f"{tls_world.public_url}/.sso-router/ready")
    assert browser.execute("return performance.getEntriesByType('navigation')[0].nextHopProtocol") == "h2"
    assert browser.execute("return window.isSecureContext") is True
    chain = browser.cdp("Network.getCertificate", {"origin": tls_world.public_url})["tableNames"]
    import base64

    assert base64.b64decode(chain[0]) == auth_leaf.der  # the company's leaf, not one from mitmproxy's CA


def test_flip_while_the_user_is_at_the_idp(browser, tls_world, router):
    """megasoft.com is flipped to Scalekit while its user reads the IdP's sign-in page: that login
    still finishes at legacy (the provider that started it); the next one goes to Scalekit, though
    the browser now carries the router's cookie from the legacy login."""
    at_idp_sign_in(browser, tls_world, "alice@megasoft.com")
    router.update_mapping(flip("megasoft.com", True))
    try:
        sign_in(browser, APP_CALLBACK)
        assert acs_post(tls_world, "legacy").outcome.startswith("accepted")
        assert router.decision_for("POST", "/login/callback")["reason"] == "correlation"
        assert not tls_world.scalekit.server.seen(method="POST")

        at_idp_sign_in(browser, tls_world, "alice@megasoft.com")
        sign_in(browser, SK_APP_CALLBACK)
        post = acs_post(tls_world, "scalekit")
        assert post.outcome.startswith("accepted") and post.path == "/sso/v1/saml/conn_megasoft/acs", post
    finally:
        router.update_mapping(flip("megasoft.com", False))
