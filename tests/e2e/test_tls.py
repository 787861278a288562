"""TLS in production (CONTRACT "In production", issue 15 point 2).

A CA made here issues the company's certificate for the auth domain (``mitmdump --certs
auth.yourapp.test=FILE``, key + leaf + CA in one PEM) and the legacy and Scalekit providers' own
certificates (served over https on 127.0.0.1 under their names, reached with ``sni``). Clients
trust that CA only, so a connection that works shows the company's leaf was served, not one
minted by mitmproxy's CA. The router verifies upstreams against the system's trust store (which
does not hold the test CA) unless a provider names its private CA with ``ca_file``.
"""

from __future__ import annotations

import ssl
import urllib.parse

import httpx
import pytest

from .certs import CertAuthority
from .peers.provider import APP_CALLBACK
from .proxy import Mitmdump
from .steps import authorize_url
from .world import PeerTls, World

AUTH_HOST = "auth.yourapp.test"
PROVIDER_HOSTS = {"legacy": "legacy.provider.test", "scalekit": "scalekit.provider.test"}


@pytest.fixture(scope="module")
def ca(tmp_path_factory) -> CertAuthority:
    return CertAuthority(tmp_path_factory.mktemp("company-ca"))


@pytest.fixture(scope="module")
def auth_leaf(ca):
    return ca.issue(AUTH_HOST)


@pytest.fixture(scope="module")
def tls_world(keys, ca):
    w = World(keys, tls=PeerTls(ca, AUTH_HOST, PROVIDER_HOSTS)).start()
    try:
        yield w
    finally:
        w.stop()


@pytest.fixture
def router(tls_world, auth_leaf, tmp_path):
    """``router(mapping=None, env=None)``: mitmdump serving the company's certificate; stopped after."""
    started: list[Mitmdump] = []
    tls_world.clear()

    def start(mapping: dict | None = None, env: dict | None = None) -> Mitmdump:
        m = Mitmdump(
            tmp_path,
            tls_world.proxy_port,
            mapping or tls_world.base_mapping(),
            env=env,
            extra_args=["--certs", f"{AUTH_HOST}={auth_leaf.pem_file}"],
        )
        started.append(m)
        return m.start()

    try:
        yield start
    finally:
        for m in started:
            m.stop()


def with_ca_files(mapping: dict, **ca_files: str) -> dict:
    for provider, path in ca_files.items():
        mapping["providers"][provider]["ca_file"] = path
    return mapping


class BrowserAlpn(ssl.SSLContext):
    """Offers ``h2`` first, as browsers do (httpcore offers ``http/1.1`` first, and mitmproxy
    follows the client's order)."""

    def set_alpn_protocols(self, protocols):
        super().set_alpn_protocols(sorted(protocols, key=lambda p: p != "h2"))


class AuthDomain:
    """An httpx client of ``https://auth.yourapp.test:<port>``: it connects to 127.0.0.1 and sends
    the name as SNI and Host, and trusts the test CA only (hostname checked against the name)."""

    def __init__(self, ca: CertAuthority, port: int, *, http2: bool):
        self.port = port
        context = BrowserAlpn(ssl.PROTOCOL_TLS_CLIENT)  # verifies the chain and the host name
        context.load_verify_locations(ca.ca_file)
        self.client = httpx.Client(verify=context, http2=http2, timeout=10, trust_env=False, follow_redirects=False)

    def request(self, method: str, url: str, **kw) -> httpx.Response:
        parts = urllib.parse.urlsplit(url)
        assert parts.netloc == f"{AUTH_HOST}:{self.port}", url
        local = parts._replace(netloc=f"127.0.0.1:{self.port}").geturl()
        return self.client.request(
            method, local, headers={"host": parts.netloc}, extensions={"sni_hostname": AUTH_HOST}, **kw
        )

    def close(self) -> None:
        self.client.close()


def served_certificate(r: httpx.Response) -> bytes:
    ssl_object = r.extensions["network_stream"].get_extra_info("ssl_object")
    return ssl_object.getpeercert(True)  # binary_form, positionally (the stream may hold an _ssl._SSLSocket)


def form_of(page: str) -> tuple[str, dict[str, str]]:
    from .browser import parse_form

    _, action, fields = parse_form(page)
    return action, fields


@pytest.mark.parametrize("http2", [True, False], ids=["h2", "http1.1"])
def test_saml_login_over_tls_with_the_company_certificate(tls_world, router, ca, auth_leaf, http2):
    m = with_ca_files(tls_world.base_mapping(), legacy=ca.ca_file, scalekit=ca.ca_file)
    px = router(m)
    want = "HTTP/2" if http2 else "HTTP/1.1"
    auth = AuthDomain(ca, px.port, http2=http2)
    try:
        start = auth.request("GET", authorize_url(tls_world.public_url, login_hint="alice@megasoft.com"))
        assert start.http_version == want
        assert served_certificate(start) == auth_leaf.der  # the company's leaf, not mitmproxy's CA
        assert start.status_code == 302 and start.headers["x-peer"] == "legacy", (start, start.text[:300])
        # an https public_url: the router's cookie is for cross-site IdP round trips, and never sent in clear
        ours = [c for c in start.headers.get_list("set-cookie") if c.startswith("sso_router=")]
        assert len(ours) == 1 and "; HttpOnly" in ours[0] and ours[0].endswith("; SameSite=None; Secure"), ours
        idp = httpx.get(start.headers["location"], timeout=10, trust_env=False)  # the customer's IdP (http)
        assert idp.status_code == 200, idp.text[:300]
        action, fields = form_of(idp.text)
        assert action.startswith(f"{tls_world.public_url}/"), action
        acs = auth.request("POST", action, data=fields)
        assert acs.http_version == want
        assert acs.status_code == 302 and acs.headers["x-peer"] == "legacy", (acs, acs.text[:300])
        assert acs.headers["location"].startswith(APP_CALLBACK + "?code=")
    finally:
        auth.close()
    assert [r.outcome for r in tls_world.legacy.server.seen("/login/callback")][-1].startswith("accepted")
    assert tls_world.legacy.server.tls  # the provider really was behind TLS with the test CA's leaf


def test_upstream_verified_against_the_system_trust_store(tls_world, router, ca):
    """No ca_file: the test CA is in no trust store, so the upstream is refused with a 502 naming the
    provider, and nothing reaches it."""
    px = router()
    auth = AuthDomain(ca, px.port, http2=True)
    try:
        r = auth.request("GET", authorize_url(tls_world.public_url, login_hint="alice@megasoft.com"))
    finally:
        auth.close()
    assert r.status_code == 502, (r.status_code, r.text[:300])
    assert "legacy" in r.text and "certificate" in r.text.lower(), r.text[:300]
    assert tls_world.legacy.server.seen() == []


def test_system_trust_store_is_the_one_openssl_names(tls_world, router, ca):
    """Which store is "the system's": OpenSSL's (``SSL_CERT_FILE`` overrides it), not certifi's,
    which mitmproxy 12.2 uses by default. With the test CA as the system's store, no ca_file is needed."""
    px = router(env={"SSL_CERT_FILE": ca.ca_file})
    auth = AuthDomain(ca, px.port, http2=True)
    try:
        r = auth.request("GET", authorize_url(tls_world.public_url, login_hint="alice@megasoft.com"))
    finally:
        auth.close()
    assert r.status_code == 302 and r.headers.get("x-peer") == "legacy", (r.status_code, r.text[:300])


def test_a_private_ca_is_trusted_for_its_provider_only(tls_world, router, ca, tmp_path):
    """``ca_file`` on legacy trusts the test CA for legacy; Scalekit, whose certificate comes from the
    same CA, is still verified against the system's store and refused. A ca_file naming another CA
    than the upstream's refuses it too: only the CAs in the file are trusted."""
    other = CertAuthority(tmp_path / "other", "Some Other CA")
    px = router(with_ca_files(tls_world.base_mapping(), legacy=ca.ca_file))
    auth = AuthDomain(ca, px.port, http2=True)
    try:
        legacy = auth.request("GET", authorize_url(tls_world.public_url, login_hint="alice@megasoft.com"))
        assert legacy.status_code == 302 and legacy.headers.get("x-peer") == "legacy", legacy.text[:300]
        sk = auth.request("GET", authorize_url(tls_world.public_url, login_hint="bob@newcompany.com"))
        assert sk.status_code == 502 and "scalekit" in sk.text, (sk.status_code, sk.text[:300])
        assert tls_world.scalekit.server.seen() == []
        px.update_mapping(lambda m: with_ca_files(m, legacy=other.ca_file))
        auth.close()  # a new client connection: the router's upstream connection is per client connection
        auth = AuthDomain(ca, px.port, http2=True)
        refused = auth.request("GET", authorize_url(tls_world.public_url, login_hint="alice@megasoft.com"))
        assert refused.status_code == 502 and "legacy" in refused.text, (refused.status_code, refused.text[:300])
    finally:
        auth.close()
