"""Each identifier and payload shape of CONTRACT "Routing" as a request through the real mitmdump to a
provider peer that records what it got: the provider it reached, the decision record's identifier,
and the message exactly as sent. Plus the flows around them: ``target_paths`` on a correlated ACS
post and IdP messages (LogoutRequest, AuthnRequest) routed by their Issuer. (A provider whose
AuthnRequest leaves in an auto-post page: tests/e2e/test_saml_post_binding.py.)"""

from __future__ import annotations

import base64
import json
import urllib.parse
import zlib

import pytest
import requests

from tests.unit.samples import jwt as unsigned_jwt
from tests.unit.samples import saml_response

from .browser import Browser
from .routes import route
from .steps import accepted, authorize_url, finish_at_proxy
from .world import MEGASOFT_IDP, NEWCO_IDP, TEST_USER

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
FORM = "application/x-www-form-urlencoded"
UNKNOWN_IDP = "http://idp.unknown.test/"


def redirect_value(xml: str) -> str:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return base64.b64encode(c.compress(xml.encode()) + c.flush()).decode()


def logout_request(issuer: str) -> str:
    return (
        f'<samlp:LogoutRequest xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" ID="_lo1" Version="2.0" '
        f'IssueInstant="2026-01-01T00:00:00Z"><saml:Issuer>{issuer}</saml:Issuer>'
        f"<saml:NameID>someone@contractor.example</saml:NameID></samlp:LogoutRequest>"
    )


def authn_request(issuer: str, destination: str = "https://idp.example/sso") -> str:
    return (
        f'<samlp:AuthnRequest xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" ID="_ar1" Version="2.0" '
        f'Destination="{destination}"><saml:Issuer>{issuer}</saml:Issuer></samlp:AuthnRequest>'
    )


def form(**fields: str) -> bytes:
    return urllib.parse.urlencode(fields).encode()


# (id, method, path?query, content type, body, provider reached, the decision's identifier)
SHAPES = [
    ("connection", "GET", "/authorize?connection=newco-saml&client_id=app-client", "", b"", "scalekit", "connection"),
    ("connection_id", "GET", "/authorize?connection_id=conn_newco", "", b"", "scalekit", "connection_id"),
    ("domain_hint", "GET", "/authorize?domain_hint=newcompany.com", "", b"", "scalekit", "domain_hint"),
    ("organization", "GET", "/authorize?organization=org_newco", "", b"", "scalekit", "organization"),
    (
        "workos-acs-path",
        "POST",
        "/sso/saml/acs/newco-saml",
        FORM,
        form(SAMLResponse=saml_response(UNKNOWN_IDP, audience="x")),
        "scalekit",
        "path connection (WorkOS ACS)",
    ),
    (
        "scalekit-conn-path",
        "GET",
        "/sso/v1/oidc/conn_newco/callback?x=1",
        "",
        b"",
        "scalekit",
        "path connection (conn_ id)",
    ),
    (
        "saml-audience",
        "POST",
        "/saml/acs",
        FORM,
        form(SAMLResponse=saml_response(UNKNOWN_IDP, audience="urn:auth0:yourapp:newco-saml")),
        "scalekit",
        "SAML Audience connection",
    ),
    (
        "saml-destination",
        "POST",
        "/saml/acs",
        FORM,
        form(
            SAMLResponse=saml_response(
                UNKNOWN_IDP, audience="x", destination="https://auth.yourapp.test/login/callback?connection=newco-saml"
            )
        ),
        "scalekit",
        "SAML Destination connection",
    ),
    (
        "json-client-id",
        "POST",
        "/oauth/token",
        "application/json",
        json.dumps({"grant_type": "client_credentials", "client_id": "m2m-newco", "client_secret": "s"}).encode(),
        "scalekit",
        "client_id",
    ),
    (
        "json-connection",
        "POST",
        "/sso-login",
        "application/json",
        json.dumps({"connection": "conn_newco"}).encode(),
        "scalekit",
        "connection",
    ),
    (
        "client-assertion",
        "POST",
        "/oauth/token",
        FORM,
        form(
            grant_type="client_credentials",
            client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            client_assertion=unsigned_jwt({"iss": "m2m-newco", "sub": "m2m-newco", "aud": "x", "exp": 1}),
        ),
        "scalekit",
        "client_assertion iss",
    ),
    (
        "basic-client-id",
        "POST",
        "/oauth/token",
        FORM,
        form(grant_type="client_credentials"),
        "scalekit",
        "client_id (Basic auth)",
    ),
    (
        "logout-request-issuer",
        "GET",
        f"/logout?SAMLRequest={urllib.parse.quote(redirect_value(logout_request(NEWCO_IDP)))}",
        "",
        b"",
        "scalekit",
        "SAML Issuer",
    ),
    (
        "authn-request-issuer",
        "GET",
        f"/saml2?SAMLRequest={urllib.parse.quote(redirect_value(authn_request(MEGASOFT_IDP)))}",
        "",
        b"",
        "legacy",
        "SAML Issuer",
    ),
    (
        "posted-logout-request",
        "POST",
        "/logout",
        FORM,
        form(SAMLRequest=base64.b64encode(logout_request(NEWCO_IDP).encode()).decode()),
        "scalekit",
        "SAML Issuer",
    ),
]


@pytest.mark.parametrize("name, method, target, ctype, body, provider, identifier", SHAPES, ids=[s[0] for s in SHAPES])
def test_each_identifier_reaches_its_orgs_provider_unchanged(
    peers, proxy, name, method, target, ctype, body, provider, identifier
):
    headers = {"content-type": ctype} if ctype else {}
    if name == "basic-client-id":
        headers["authorization"] = "Basic " + base64.b64encode(b"m2m-newco:m2m-newco-secret").decode()
    since = proxy.mark()
    r = requests.request(
        method, proxy.url + target, data=body or None, headers=headers, allow_redirects=False, timeout=10
    )
    assert r.headers.get("x-peer") == provider, (name, r.status_code, r.headers, r.text[:200])
    path, _, query = target.partition("?")
    d = proxy.decision_for(method, path, since=since)
    assert (d["provider"], d["reason"], d["identifier"]) == (provider, "org", identifier), d
    other = peers.legacy if provider == "scalekit" else peers.scalekit
    got = getattr(peers, provider).server.seen(path)
    assert got and not other.server.seen(path), (got, other.server.records)
    sent = got[-1]
    assert sent.body == body  # byte for byte
    assert urllib.parse.urlencode(sent.query) == urllib.parse.urlencode(dict(urllib.parse.parse_qsl(query))), sent


def test_target_paths_apply_to_a_correlated_acs_post(peers, proxy):
    """megasoft.com's test user logs in at Scalekit; megasoft's IdP posts to the SP's default ACS,
    the legacy /login/callback, whatever the request asked. The InResponseTo brings it to Scalekit
    (reason correlation), and megasoft's target_paths send it to Scalekit's ACS for the connection."""
    peers.idp.fixed_acs.add("megasoft")
    b = Browser()
    start = b.get(authorize_url(proxy.url, login_hint=TEST_USER))
    assert start.peer == "scalekit", start
    page = b.get(start.location)
    since = proxy.mark()
    acs = finish_at_proxy(b, page, proxy.url)
    assert acs.url.endswith("/login/callback"), acs.url  # where the IdP posted
    assert acs.peer == "scalekit" and acs.status == 302 and route(acs) == ("scalekit", "correlation"), (acs, acs.text)
    assert [r.path for r in accepted(peers.scalekit.server.records)][-1] == "/sso/v1/saml/conn_megasoft/acs"
    assert not peers.legacy.server.records
    d = proxy.decision_for("POST", "/login/callback", since=since)
    assert (d["provider"], d["reason"], d["org"]) == ("scalekit", "correlation", "megasoft.com"), d
