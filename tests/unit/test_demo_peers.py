"""The demo's peers are real: signatures another XML-DSig implementation accepts, and providers and
IdPs that refuse what they did not issue or were not set up for."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import urllib.parse
import zlib

import pytest

from routing.demo import saml
from routing.demo.idp import IdP, Tenant
from routing.demo.keys import make_signing_key
from routing.demo.provider import AUTH0, SCALEKIT, Client, Connection, Provider
from routing.demo.web import Request

PUBLIC = "http://127.0.0.1:9"
ACS = f"{PUBLIC}/login/callback"
SP = "urn:auth0:yourapp:megasoft-saml"
IDP_ENTITY = "http://www.okta.com/exk1megasoft"


@pytest.fixture(scope="module")
def key():
    return make_signing_key("idp")


def _assertion(irt: str | None = "_req1", user: str = "bob@megasoft.com") -> saml.Assertion:
    return saml.Assertion(IDP_ENTITY, irt, ACS, SP, user)


def test_signature_verifies_with_xmlsec1(key, tmp_path):
    xmlsec1 = shutil.which("xmlsec1")
    if xmlsec1 is None:
        pytest.skip("xmlsec1 not installed (scripts/bootstrap --test installs it)")
    (tmp_path / "r.xml").write_bytes(base64.b64decode(saml.signed_response(_assertion(), key.key_pem, key.cert_pem)))
    (tmp_path / "c.pem").write_bytes(key.cert_pem)
    cmd = [
        xmlsec1,
        "--verify",
        "--pubkey-cert-pem",
        str(tmp_path / "c.pem"),
        "--id-attr:ID",
        "urn:oasis:names:tc:SAML:2.0:protocol:Response",
        str(tmp_path / "r.xml"),
    ]
    ok = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert ok.returncode == 0, ok.stderr
    (tmp_path / "r.xml").write_bytes((tmp_path / "r.xml").read_bytes().replace(b"bob@", b"eve@"))
    assert subprocess.run(cmd, capture_output=True, timeout=30).returncode != 0


def test_verify_reads_the_signed_response(key):
    signed = saml.signed_response(_assertion(), key.key_pem, key.cert_pem)
    assert saml.verify_response(signed, key.cert_pem) == _assertion()


@pytest.mark.parametrize(
    "change",
    [
        lambda xml: xml.replace(b"bob@megasoft.com", b"eve@megasoft.com"),  # altered after signing
        lambda xml: xml.replace(b'InResponseTo="_req1"', b'InResponseTo="_req2"', 1),
    ],
)
def test_altered_response_refused(key, change):
    xml = base64.b64decode(saml.signed_response(_assertion(), key.key_pem, key.cert_pem))
    with pytest.raises(saml.SamlError, match="signature"):
        saml.verify_response(base64.b64encode(change(xml)).decode(), key.cert_pem)


def test_other_certificate_refused(key):
    signed = saml.signed_response(_assertion(), key.key_pem, key.cert_pem)
    with pytest.raises(saml.SamlError, match="signature"):
        saml.verify_response(signed, make_signing_key("other").cert_pem)


def test_dtd_refused_before_signxml(key):
    evil = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "y">]><r>&x;</r>'
    with pytest.raises(saml.SamlError, match="DTD"):
        saml.verify_response(base64.b64encode(evil).decode(), key.cert_pem)


def test_authn_request_round_trip_and_inflate_bound():
    req = saml.AuthnRequest(saml.new_id(), SP, ACS, "http://127.0.0.1:8/megasoft/sso")
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(saml.redirect_url(req, "rs_1")).query))
    assert saml.read_authn_request(q["SAMLRequest"]) == req and q["RelayState"] == "rs_1"
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    bomb = base64.b64encode(c.compress(b"<a>" + b" " * (saml.MAX_XML + 10) + b"</a>") + c.flush()).decode()
    with pytest.raises(saml.SamlError, match="limit"):
        saml.read_authn_request(bomb)


# -- the peers ------------------------------------------------------------------------------------
def _get(path: str, **query: str) -> Request:
    return Request("GET", path, query, {}, {})


def _post(path: str, **form: str) -> Request:
    return Request("POST", path, {}, form, {"content-type": "application/x-www-form-urlencoded"})


@pytest.fixture
def world(key):
    idp = IdP([Tenant("megasoft", "megasoft.com", IDP_ENTITY, "Okta", SP)])
    idp.acs_url = ACS
    client = Client("demo-app", "s3cret", "http://127.0.0.1:7/callback")
    providers = {}
    for name, layout, conn_id in (("legacy", AUTH0, "megasoft-saml"), ("scalekit", SCALEKIT, "conn_1")):
        p = Provider(
            name,
            layout,
            client,
            [Connection(conn_id, "megasoft.com", SP, IDP_ENTITY, idp.sso_url("megasoft"), idp.cert_pem("megasoft"))],
        )
        p.public_url = PUBLIC
        providers[name] = p
    return idp, providers, client


def _login_at_idp(world, provider: str) -> tuple[str, dict[str, str]]:
    """Starts a login at ``provider``; returns the ACS URL the IdP posts to and the posted fields."""
    idp, providers, client = world
    start = providers[provider]._handle(
        _get(
            "/authorize",
            client_id=client.id,
            redirect_uri=client.redirect_uri,
            login_hint="bob@megasoft.com",
            state="app1",
        )
    )
    assert start.status == 302
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(dict(start.headers)["Location"]).query))
    page = idp._handle(
        _post("/megasoft/sso", SAMLRequest=q["SAMLRequest"], RelayState=q["RelayState"], username="bob@megasoft.com")
    )
    assert page.status == 200, page.body
    return ACS, dict(re.findall(r'name="(\w+)" value="([^"]*)"', page.body.decode()))


def test_provider_accepts_its_own_login_and_code(world):
    _, providers, client = world
    _, fields = _login_at_idp(world, "legacy")
    done = providers["legacy"]._handle(_post("/login/callback", **fields))
    assert done.status == 302, done.body
    code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(dict(done.headers)["Location"]).query))["code"]
    token_form = dict(
        grant_type="authorization_code",
        code=code,
        redirect_uri=client.redirect_uri,
        client_id=client.id,
        client_secret=client.secret,
    )
    assert providers["scalekit"]._handle(_post("/oauth/token", **token_form)).status == 400  # not its code
    assert providers["legacy"]._handle(_post("/oauth/token", **token_form)).status == 200
    assert providers["legacy"]._handle(_post("/oauth/token", **token_form)).status == 400  # used


def test_provider_refuses_a_login_another_provider_started(world):
    _, providers, _ = world
    _, fields = _login_at_idp(world, "legacy")
    refused = providers["scalekit"]._handle(_post("/sso/v1/saml/conn_1/acs", **fields))
    assert refused.status == 403 and b"no AuthnRequest scalekit sent" in refused.body


def test_provider_refuses_a_changed_relay_state(world):
    _, providers, _ = world
    _, fields = _login_at_idp(world, "legacy")
    refused = providers["legacy"]._handle(_post("/login/callback", **{**fields, "RelayState": "rs_other"}))
    assert refused.status == 403 and b"RelayState" in refused.body


def test_idp_refuses_an_unregistered_acs(world):
    idp, _, _ = world
    req = saml.AuthnRequest(saml.new_id(), SP, f"{PUBLIC}/elsewhere", idp.sso_url("megasoft"))
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(saml.redirect_url(req, "rs")).query))
    page = idp._handle(_get("/megasoft/sso", **q))
    assert page.status == 400 and b"not the registered" in page.body
