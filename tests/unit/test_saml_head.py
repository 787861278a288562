"""read_saml_head: the root's attributes and Issuer of a POSTed SAML message from its first ~1.5 KB,
and the shortcut ``pipeline.begin`` takes with it. What the head reads must be what the whole parse
reads; anything the head cannot read that way must fall back to the whole parse (None)."""

from __future__ import annotations

import base64
from pathlib import Path
from urllib.parse import quote

import pytest

from routing import pipeline
from routing.extract import extract
from routing.extract.saml import parse_saml, read_saml_head
from routing.limits import Limits
from routing.mapping_loader import load_mapping
from routing.view import RequestView
from tests.unit.samples import MAPPING, saml_response

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "saml"
NAMES = sorted(p.name for p in FIXTURES.glob("*.xml"))
LIMITS = Limits()
HEAD_FIELDS = ("kind", "id", "in_response_to", "issuer", "destination")


def form_value(xml: bytes) -> bytes:
    """As a browser posts it: base64, then form-URL-encoded (+ / = escaped)."""
    return quote(base64.b64encode(xml), safe="").encode()


# The real messages whose head cannot be read the fast way, and why: each of these is parsed whole.
# Every other fixture must be read from its head (and agree with the whole parse).
WHOLE_PARSE = {
    "onelogin-response-1.xml": "only the Assertion has an Issuer",
    "shibboleth-response-3.xml": "no Issuer at all",
    "starfield-response-1.xml": "the Issuer comes after a Signature, past the head",
}


def test_the_fallback_list_names_real_fixtures():
    assert set(WHOLE_PARSE) <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_head_reads_what_the_whole_parse_reads(name: str):
    xml = (FIXTURES / name).read_bytes()
    head = read_saml_head(form_value(xml), LIMITS)
    full = parse_saml(base64.b64encode(xml).decode(), deflated=False, limits=LIMITS)
    if name in WHOLE_PARSE:
        assert head is None, f"{name}: {WHOLE_PARSE[name]}, yet the head was read: {head}"
        return
    assert head is not None, f"{name}: the head must be read (its Issuer {full.issuer!r} is the root's own)"
    assert {f: getattr(head, f) for f in HEAD_FIELDS} == {f: getattr(full, f) for f in HEAD_FIELDS}
    assert head.audiences == () and head.name_id is None  # never read from the head


def _resp(
    before_issuer: str = "",
    issuer: str = "<saml:Issuer>https://idp.example/</saml:Issuer>",
    after: str = "<samlp:Status/>",
    prolog: str = '<?xml version="1.0"?>',
) -> bytes:
    return (
        f'{prolog}<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        f'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r1" InResponseTo="_q1" Version="2.0" '
        f'Destination="https://auth.yourapp.com/login/callback">{before_issuer}{issuer}{after}'
        f"</samlp:Response>"
    ).encode()


@pytest.mark.parametrize(
    "xml, reason",
    [
        (_resp(before_issuer="<!-- </saml:Issuer> -->"), "an end tag inside a comment"),
        (_resp(issuer="<saml:Issuer><![CDATA[x</saml:Issuer>]]>https://idp.example/</saml:Issuer>"), "inside CDATA"),
        (
            _resp(issuer="", after="<saml:Assertion><saml:Issuer>https://idp.example/</saml:Issuer></saml:Assertion>"),
            "only the Assertion has an Issuer",
        ),
        (_resp(issuer="<saml:Issuer>  </saml:Issuer>"), "an empty Issuer"),
        (_resp(prolog='<!DOCTYPE r [<!ENTITY e "x">]>'), "a DTD"),
        (
            _resp(issuer="<saml:Issuer>https://idp.example/</saml:Issuer>" + "<x>" * 5).replace(
                b"<samlp:Status/>", b""
            ),
            "ill-formed after the Issuer, but the head is well formed",
        ),
    ],
)
def test_tricky_heads_fall_back_or_agree(xml: bytes, reason: str):
    head = read_saml_head(form_value(xml), LIMITS)
    try:
        full = parse_saml(base64.b64encode(xml).decode(), deflated=False, limits=LIMITS)
    except Exception:  # the whole message is malformed
        full = None
    if reason.startswith("ill-formed"):
        # the one accepted difference: what follows the Issuer is not read, so a message broken
        # further on still routes by its Issuer (the provider rejects it, as it would anyway)
        assert full is None and head is not None and head.issuer == "https://idp.example/"
        return
    if head is not None:
        assert full is not None, reason
        assert {f: getattr(head, f) for f in HEAD_FIELDS} == {f: getattr(full, f) for f in HEAD_FIELDS}, reason
    if reason in ("only the Assertion has an Issuer", "an empty Issuer", "a DTD", "inside CDATA"):
        assert head is None, reason


@pytest.mark.parametrize(
    "mangle, reason",
    [
        (lambda v: v.replace(b"%2B", b"+"), "'+' left unescaped by a careless encoder"),
        (lambda v: b"%0D%0A".join(v[i : i + 76] for i in range(0, len(v), 76)), "line-wrapped"),
        (lambda v: v[:40] + b"*" + v[41:], "not base64"),
    ],
)
def test_unusual_encodings_fall_back(mangle, reason):
    xml = _resp() + b"<!--" + b"x" * 3000 + b"-->"
    value = mangle(form_value(xml))
    assert b"%2B" in form_value(xml) or reason != "'+' left unescaped by a careless encoder"
    assert read_saml_head(value, LIMITS) is None, reason


def test_over_limit_values_fall_back_to_the_whole_parse():
    xml = _resp()
    assert read_saml_head(form_value(xml), LIMITS) is not None
    assert read_saml_head(form_value(xml), Limits(max_xml=64)) is None


# -- the shortcut in pipeline.begin ----------------------------------------------------------------


def _view(xml: bytes) -> RequestView:
    body = b"SAMLResponse=" + form_value(xml) + b"&RelayState=abc"
    return RequestView(
        "POST",
        "localhost",
        "/login/callback",
        "",
        {"content-type": "application/x-www-form-urlencoded"},
        body,
        "application/x-www-form-urlencoded",
    )


def _decide(m, view):
    p = pipeline.begin(view, m, b"k")
    return pipeline.conclude(p, m, {}, secret=b"k", now=0.0), p.clues


def test_issuer_that_names_an_org_is_read_from_the_head_only():
    m = load_mapping(MAPPING.replace(b'test_users = ["it-admin@megasoft.com"]\n', b""))
    assert not m.by_test_user
    xml = base64.b64decode(
        saml_response("http://www.okta.com/exk1megasoft", name_id="bob@newco.io", audience="urn:auth0:t:newco-saml")
    )
    d, clues = _decide(m, _view(xml))
    assert (d.provider, d.reason.value, d.org, d.evidence) == ("legacy", "org", "megasoft.com", "SAML Issuer")
    assert clues.emails == [] and clues.saml_connections == []  # the rest of the message was not read
    full = extract(_view(xml), m.settings.limits)  # without the shortcut: same decision, more clues
    assert [e for _, e in full.emails] == ["bob@newco.io"]


def test_whole_message_is_read_when_the_issuer_names_no_org():
    m = load_mapping(MAPPING.replace(b'test_users = ["it-admin@megasoft.com"]\n', b""))
    xml = base64.b64decode(saml_response("http://unknown-idp", name_id="bob@newco.io", audience="x"))
    d, _ = _decide(m, _view(xml))
    assert (d.org, d.evidence) == ("newcompany.com", "SAML NameID domain")


def test_whole_message_is_read_when_test_users_exist():
    """A test user's NameID outranks the Issuer, so with test users the head is never enough."""
    m = load_mapping(MAPPING)
    xml = base64.b64decode(
        saml_response("http://www.okta.com/exk1megasoft", name_id="it-admin@megasoft.com", audience="x")
    )
    d, _ = _decide(m, _view(xml))
    assert (d.provider, d.org, d.evidence) == ("scalekit", "megasoft.com", "test user (SAML NameID)")
