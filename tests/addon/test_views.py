"""The SAML and JWT contentviews, called directly with ``Metadata`` as mitmproxy's own contentview tests do."""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
import zlib
from pathlib import Path

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from mitmproxy import contentviews, http
from mitmproxy.contentviews import Metadata
from mitmproxy.test import taddons, tflow

from routing.mitm import view_fields, views
from routing.mitm.views import jwt_view, saml_view
from tests import memory
from tests.memory import Measured

HOSTILE = Path(__file__).resolve().parents[1] / "hostile"
MANIFEST: list[dict] = json.loads((HOSTILE / "manifest.json").read_text())
# tests/unit/test_hostile.py's markers, less "xi:include": the view shows an XInclude element as the inert
# element it is (never processed); what it must never show is what one would have pulled in.
FORBIDDEN = ("root:", "lol", "XXE", "AAAA", "/bin/", "127.0.0.1", "ENTITY", "DOCTYPE")
FORM = "application/x-www-form-urlencoded"

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
AUTHN_REQUEST = (
    f'<samlp:AuthnRequest xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" ID="_req-7f3a" Version="2.0" '
    'IssueInstant="2025-01-01T00:00:00Z" Destination="https://sts.windows.net/newco/saml2" '
    'AssertionConsumerServiceURL="https://auth.yourapp.com/sso/v1/saml/conn_01HNEWCO/acs">'
    "<saml:Issuer>https://auth.yourapp.com/sso/v1/saml/conn_01HNEWCO</saml:Issuer>"
    '<samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"/>'
    "</samlp:AuthnRequest>"
).encode()
RESPONSE = (
    f'<samlp:Response xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" ID="_resp-91" Version="2.0" '
    'InResponseTo="_req-7f3a" Destination="https://auth.yourapp.com/login/callback?connection=newco-saml">'
    "<saml:Issuer> https://sts.windows.net/newco/ </saml:Issuer>"
    '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>'
    '<saml:Assertion ID="_assert-1" Version="2.0"><saml:Issuer>https://sts.windows.net/newco/</saml:Issuer>'
    "<saml:Subject><saml:NameID>bob@newcompany.com</saml:NameID></saml:Subject>"
    "<saml:Conditions><saml:AudienceRestriction><saml:Audience>urn:auth0:yourapp:newco-saml</saml:Audience>"
    "<saml:Audience>https://auth.yourapp.com</saml:Audience></saml:AudienceRestriction></saml:Conditions>"
    "</saml:Assertion></samlp:Response>"
).encode()
REQUEST_HEADER = {
    "Issuer": "https://auth.yourapp.com/sso/v1/saml/conn_01HNEWCO",
    "ID": "_req-7f3a",
    "InResponseTo": "-",
    "Destination": "https://sts.windows.net/newco/saml2",
    "Audience": "-",
    "NameID": "-",
}
RESPONSE_HEADER = {
    "Issuer": "https://sts.windows.net/newco/",
    "ID": "_resp-91",
    "InResponseTo": "_req-7f3a",
    "Destination": "https://auth.yourapp.com/login/callback?connection=newco-saml",
    "Audience": "urn:auth0:yourapp:newco-saml, https://auth.yourapp.com",
    "NameID": "bob@newcompany.com",
}


def deflate_b64(xml: bytes) -> str:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return base64.b64encode(c.compress(xml) + c.flush()).decode()


def b64(xml: bytes) -> str:
    return base64.b64encode(xml).decode()


def request(url: str, body: bytes = b"", method: str = "GET", **headers: str) -> http.Request:
    return http.Request.make(method, url, body, headers)


def header_of(text: str) -> dict[str, str]:
    """The header block of the first section: the lines after the title, up to the first blank line."""
    block = text.split("\n\n", 1)[0].splitlines()[1:]
    return {k: v.strip() for k, _, v in (line.partition(":") for line in block)}


def xml_of(text: str) -> str:
    return text.split("\n\n", 1)[1]


@pytest.fixture
def registered():
    views.register()
    try:
        yield contentviews.registry
    finally:
        views.unregister()


# -- SAML, both bindings ---------------------------------------------------------------------------
def test_authn_request_redirect_binding_from_the_query(registered):
    req = request(
        f"https://auth.yourapp.com/saml2?SAMLRequest={urllib.parse.quote(deflate_b64(AUTHN_REQUEST))}&RelayState=xyz"
    )
    md = Metadata(http_message=req)
    assert saml_view.render_priority(b"", md) > contentviews.registry["query"].render_priority(b"", md)
    assert registered.get_view(b"", md).name == "SAML"
    text = saml_view.prettify(b"", md)
    assert text.splitlines()[0] == "SAMLRequest · query · HTTP-Redirect binding · AuthnRequest"
    assert header_of(text) == REQUEST_HEADER
    assert xml_of(text).splitlines() == [
        f'<samlp:AuthnRequest xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" ID="_req-7f3a" Version="2.0" '
        'IssueInstant="2025-01-01T00:00:00Z" Destination="https://sts.windows.net/newco/saml2" '
        'AssertionConsumerServiceURL="https://auth.yourapp.com/sso/v1/saml/conn_01HNEWCO/acs">',
        "  <saml:Issuer>https://auth.yourapp.com/sso/v1/saml/conn_01HNEWCO</saml:Issuer>",
        '  <samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"/>',
        "</samlp:AuthnRequest>",
    ]
    assert "xyz" not in text  # RelayState is the query view's business


def test_response_post_binding_from_a_whole_form_body(registered):
    body = urllib.parse.urlencode({"SAMLResponse": b64(RESPONSE), "RelayState": "rs-1"}).encode()
    md = Metadata(content_type=FORM, http_message=request("https://auth.yourapp.com/login/callback", body, "POST"))
    assert saml_view.render_priority(body, md) > contentviews.registry["url-encoded"].render_priority(body, md)
    assert registered.get_view(body, md).name == "SAML"
    text = saml_view.prettify(body, md)
    assert text.splitlines()[0] == "SAMLResponse · form body · HTTP-POST binding · Response"
    assert header_of(text) == RESPONSE_HEADER
    lines = xml_of(text).splitlines()
    assert lines[0].startswith("<samlp:Response ") and lines[-1] == "</samlp:Response>"
    assert "      <saml:NameID>bob@newcompany.com</saml:NameID>" in lines  # Response > Assertion > Subject
    assert "        <saml:Audience>https://auth.yourapp.com</saml:Audience>" in lines


@pytest.mark.parametrize("content_type", [FORM, None])
def test_post_binding_base64_wrapped_over_lines_and_no_content_type(content_type):
    wrapped = "\r\n".join(re.findall(".{1,76}", b64(RESPONSE)))
    body = ("RelayState=a&SAMLResponse=" + urllib.parse.quote(wrapped)).encode()
    text = saml_view.prettify(body, Metadata(content_type=content_type))
    assert header_of(text) == RESPONSE_HEADER


def test_bare_xml_and_bare_base64_bodies():
    md = Metadata(content_type="application/xml")
    assert saml_view.render_priority(RESPONSE, md) > 1
    assert header_of(saml_view.prettify(RESPONSE, md)) == RESPONSE_HEADER
    bare = b64(AUTHN_REQUEST).encode()
    assert saml_view.render_priority(bare, Metadata()) > 0
    assert header_of(saml_view.prettify(bare, Metadata())) == REQUEST_HEADER


def test_redirect_binding_in_a_response_location_and_an_auto_post_form():
    loc = f"https://sts.windows.net/newco/saml2?SAMLRequest={urllib.parse.quote(deflate_b64(AUTHN_REQUEST))}"
    resp = http.Response.make(302, b"Found. Redirecting...", {"location": loc, "content-type": "text/plain"})
    md = Metadata(content_type="text/plain", http_message=resp)
    assert saml_view.render_priority(resp.content, md) > 1
    text = saml_view.prettify(resp.content, md)
    assert text.startswith("SAMLRequest · Location · HTTP-Redirect binding · AuthnRequest\n")
    assert header_of(text) == REQUEST_HEADER

    html = (
        f'<html><body onload="document.forms[0].submit()"><form method="post" action="https://x/acs">'
        f'<input type="hidden" name="SAMLResponse" value="{b64(RESPONSE)}"/>'
        '<input type="hidden" name="RelayState" value="r"/></form></body></html>'
    ).encode()
    md = Metadata(content_type="text/html", http_message=http.Response.make(200, html))
    assert saml_view.render_priority(html, md) > 1
    text = saml_view.prettify(html, md)
    assert text.startswith("SAMLResponse · HTML form · HTTP-POST binding · Response\n")
    assert header_of(text) == RESPONSE_HEADER


def test_header_values_cannot_forge_lines():
    evil = RESPONSE.replace(
        b"<saml:Issuer> https://sts.windows.net/newco/ </saml:Issuer>",
        b"<saml:Issuer>https://idp.evil/&#10;NameID:       admin@newcompany.com</saml:Issuer>",
    )
    text = saml_view.prettify(f"SAMLResponse={urllib.parse.quote(b64(evil))}".encode(), Metadata(content_type=FORM))
    head = text.split("\n\n", 1)[0].splitlines()
    assert len(head) == 7
    assert head[1] == r"Issuer:       https://idp.evil/\x0aNameID:       admin@newcompany.com"
    assert header_of(text)["NameID"] == "bob@newcompany.com"


def test_an_unreadable_field_is_explained_not_raised():
    body = b"SAMLResponse=bm90IHhtbA%3D%3D&RelayState=x"  # base64 of "not xml"
    text = saml_view.prettify(body, Metadata(content_type=FORM))
    assert text.splitlines()[0] == "SAMLResponse · form body · HTTP-POST binding"
    assert text.splitlines()[1].startswith("not shown: saml: ")
    assert "not xml" not in text


# -- JWT -----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


CLAIMS = {
    "iss": "https://newco.okta.com",
    "sub": "00u1bob",
    "aud": "client-newco",
    "email": "bob@newcompany.com",
    "iat": 1735689600,
    "exp": 1735693200,
    "nonce": "n-0S6",
}


def signed(rsa_key, claims=CLAIMS, kid="k-2025") -> str:
    return pyjwt.encode(claims, rsa_key, algorithm="RS256", headers={"kid": kid})


def jwt_parts(section: str) -> tuple[dict, dict]:
    head, _, claims = section.split("\nheader:\n", 1)[1].partition("\nclaims:\n")
    return json.loads(head), json.loads(claims)


def test_id_token_in_a_form_post(rsa_key, registered):
    token = signed(rsa_key)
    body = urllib.parse.urlencode({"id_token": token, "state": "st"}).encode()
    md = Metadata(content_type=FORM)
    assert registered.get_view(body, md).name == "JWT"
    text = jwt_view.prettify(body, md)
    assert text.splitlines()[0] == "id_token · form body · JWT, decoded, signature NOT verified"
    assert header_of(text) == {
        "alg": "RS256",
        "iss": "https://newco.okta.com",
        "sub": "00u1bob",
        "aud": "client-newco",
        "email": "bob@newcompany.com",
        "exp": "1735693200 (2025-01-01T01:00:00Z)",
        "iat": "1735689600 (2025-01-01T00:00:00Z)",
    }
    assert jwt_parts(text) == ({"alg": "RS256", "kid": "k-2025", "typ": "JWT"}, CLAIMS)
    assert token not in text and "st" not in header_of(text).values()


def test_a_bad_signature_is_still_decoded(rsa_key):
    head, payload, _ = signed(rsa_key).split(".")
    text = jwt_view.prettify(f"id_token={head}.{payload}.AAAAnotasignature".encode(), Metadata(content_type=FORM))
    assert jwt_parts(text)[1] == CLAIMS


def test_json_token_response_shows_every_jwt_and_skips_opaque_tokens(rsa_key, registered):
    access = signed(rsa_key, {"iss": "https://yourapp.scalekit.com", "sub": "u1", "scope": "openid"})
    body = json.dumps(
        {
            "access_token": access,
            "id_token": signed(rsa_key),
            "refresh_token": "opaque-rt",
            "token_type": "Bearer",
            "expires_in": 3600,
        }
    ).encode()
    md = Metadata(content_type="application/json", http_message=http.Response.make(200, body))
    assert registered.get_view(body, md).name == "JWT"
    text = jwt_view.prettify(body, md)
    sections = re.split(r"\n\n(?=\S+ · )", text)  # each section starts with its title line
    assert [s.splitlines()[0].split(" · ")[0] for s in sections] == ["access_token", "id_token"]
    assert jwt_parts(sections[0])[1]["scope"] == "openid"
    assert "opaque-rt" not in text


def test_jwts_in_the_query_and_the_authorization_header(rsa_key):
    hint, login = signed(rsa_key), signed(rsa_key, {"iss": "https://yourapp.scalekit.com", "connection_id": "c1"})
    req = request(f"https://auth.yourapp.com/oidc/logout?id_token_hint={hint}&idp_initiated_login={login}")
    md = Metadata(http_message=req)
    assert jwt_view.render_priority(b"", md) > contentviews.registry["query"].render_priority(b"", md)
    titles = [ln for ln in jwt_view.prettify(b"", md).splitlines() if " · " in ln]
    assert titles == [
        "id_token_hint · query · JWT, decoded, signature NOT verified",
        "idp_initiated_login · query · JWT, decoded, signature NOT verified",
    ]

    req = request("https://auth.yourapp.com/userinfo", Authorization=f"Bearer {hint}", Cookie="sso_router=secret")
    md = Metadata(http_message=req)
    assert jwt_view.render_priority(b"", md) > 0
    text = jwt_view.prettify(b"", md)
    assert text.startswith("Bearer token · Authorization header · JWT") and "secret" not in text


def test_client_assertion_in_a_token_request(rsa_key):
    ca = signed(
        rsa_key,
        {
            "iss": "m2m-newco",
            "sub": "m2m-newco",
            "aud": "https://auth.yourapp.com/oauth/token",
            "exp": 4102444800,
            "jti": "j1",
        },
    )
    body = urllib.parse.urlencode(
        {
            "grant_type": "client_credentials",
            "client_assertion": ca,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        }
    )
    text = jwt_view.prettify(body.encode(), Metadata(content_type=FORM))
    assert header_of(text)["iss"] == "m2m-newco"
    assert header_of(text)["exp"] == "4102444800 (2100-01-01T00:00:00Z)"


# -- unrelated and hostile data -------------------------------------------------------------------
UNRELATED = [
    (b"", Metadata()),
    (b'{"name": "value", "items": [1, 2]}', Metadata(content_type="application/json")),
    (b"<html><body><form><input name=q></form></body></html>", Metadata(content_type="text/html")),
    (b"username=bob&password=hunter2", Metadata(content_type=FORM)),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", Metadata(content_type="image/png")),
    (b'{"access_token": "opaque", "token_type": "Bearer"}', Metadata(content_type="application/json")),
    (b"<note><to>x</to></note>", Metadata(content_type="application/xml")),
    (b"", Metadata(http_message=http.Request.make("GET", "https://a/authorize?login_hint=bob@x.com"))),
    (b"", Metadata(http_message=http.Request.make("GET", "https://a/u", headers={"Authorization": "Bearer abc"}))),
    (b"", Metadata(http_message=http.Response.make(302, b"", {"location": "https://a/cb?code=c"}))),
]


@pytest.mark.parametrize("data,md", UNRELATED)
def test_unrelated_data_is_declined(data, md):
    for view in views.VIEWS:
        assert view.render_priority(data, md) < 0
        with pytest.raises(ValueError):
            view.prettify(data, md)  # only when chosen by hand; mitmproxy then says it could not parse


def test_render_priority_does_not_parse(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("render_priority parsed the payload")

    for name in ("decode_b64", "inflate", "read_saml_xml", "parse_xml", "read_jwt_claims"):
        monkeypatch.setattr(views, name, boom)
    monkeypatch.setattr(view_fields, "read_form", boom)
    md = Metadata(content_type=FORM)
    assert saml_view.render_priority(f"SAMLResponse={b64(RESPONSE)}".encode(), md) > 0
    assert jwt_view.render_priority(b"id_token=eyJhbGciOiJub25lIn0.e30.", md) > 0


def _feeds(entry: dict):
    """(label, view, data, metadata) for every way one hostile file reaches a view."""
    data = (HOSTILE / entry["file"]).read_bytes()
    feed = entry["feed"]
    form = Metadata(content_type=FORM)
    if feed == "jwt":
        yield "id_token form", jwt_view, b"id_token=" + urllib.parse.quote_from_bytes(data).encode(), form
        yield "bare body", jwt_view, data, Metadata(content_type="application/jwt")
        return
    post = b64(data) if feed == "xml" else data.decode("latin-1")
    redirect = deflate_b64(data) if feed == "xml" else data.decode("latin-1")
    if feed in ("xml", "post", "value"):
        yield "post form", saml_view, ("SAMLResponse=" + urllib.parse.quote(post)).encode(), form
    if feed in ("xml", "redirect", "value"):
        req = request("https://auth.yourapp.com/saml2?SAMLRequest=" + urllib.parse.quote(redirect))
        yield "redirect query", saml_view, b"", Metadata(http_message=req)
    if feed == "xml":
        yield "bare xml body", saml_view, data, Metadata(content_type="application/xml")


def _guarded(fn, *args):
    with Measured() as m:
        out = fn(*args)
    memory.check(m.growth)
    return out


@pytest.mark.parametrize("entry", MANIFEST, ids=lambda e: e["file"])
def test_hostile_inputs_render_nothing_dangerous(entry: dict):
    for label, view, data, md in _feeds(entry):
        label = f"{entry['file']} [{label}]"
        priority = view.render_priority(data, md)
        assert isinstance(priority, float | int), label
        try:
            text = _guarded(view.prettify, data, md)
        except ValueError as e:  # allowed only where the view declined the data in the first place
            assert priority < 0, f"{label}: raised {e!r} after render_priority {priority}"
            continue
        assert len(text) < 200_000, label
        for marker in FORBIDDEN:
            assert marker not in text, f"{label}: output contains {marker!r}: {text[:300]}"
        shown = "not shown: " not in text
        if entry["expect"] == "error":
            assert not shown, f"{label}: expected a refusal, got {text[:300]}"
        elif entry["expect"] == "ok":
            assert shown, f"{label}: {text[:300]}"
        if shown and view is saml_view and "issuer" in entry.get("fields", {}):
            assert header_of(text)["Issuer"] == (entry["fields"]["issuer"] or "-"), label


# -- registration and mitmproxy's own pipeline ----------------------------------------------------------
def test_register_and_unregister_are_idempotent_and_survive_a_reload():
    try:
        views.register()
        views.register()
        assert contentviews.registry["saml"] is saml_view and contentviews.registry["jwt"] is jwt_view
        views.unregister()  # done() ...
        views.unregister()
        assert "saml" not in contentviews.registry and "jwt" not in contentviews.registry
        views.register()  # ... then load() again
        assert contentviews.registry["saml"] is saml_view
        assert {"saml", "jwt"} <= set(contentviews.registry.available_views())
    finally:
        views.unregister()


def test_unregister_leaves_a_foreign_view_of_the_same_name():
    class Foreign(contentviews.Contentview):
        name = "SAML"

        def prettify(self, data, metadata):
            return ""

    foreign = Foreign()
    contentviews.add(foreign)
    try:
        views.unregister()
        assert contentviews.registry["saml"] is foreign
    finally:
        contentviews.registry._by_name.pop("saml", None)


def test_mitmproxy_picks_the_view_for_a_flow(registered):
    url = f"https://auth.yourapp.com/saml2?SAMLRequest={urllib.parse.quote(deflate_b64(AUTHN_REQUEST))}"
    f = tflow.tflow(req=http.Request.make("GET", url))
    with taddons.context():
        res = contentviews.prettify_message(f.request, f)
    assert res.view_name == "SAML" and res.syntax_highlight == "xml"
    assert header_of(res.text)["Issuer"] == REQUEST_HEADER["Issuer"]


@pytest.mark.parametrize("content_type", ["application/javascript", "text/html", "text/css"])
def test_pages_that_merely_mention_the_names_are_declined(content_type):
    page = (
        b'<script>var p = {SAMLResponse: x, id_token: "eyJhbGciOiJSUzI1NiJ9.e30.c2ln"};'
        b"form.SAMLRequest = 1; access_token = 2;</script>"
    )
    md = Metadata(content_type=content_type)
    assert saml_view.render_priority(page, md) < 0
    assert jwt_view.render_priority(page, md) < 0
