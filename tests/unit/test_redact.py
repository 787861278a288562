"""``Redactor`` (routing/redact.py): every secret replaced by a stand-in, what routing reads kept, so a
redacted capture still explains as the original did (the CLI around it: tests/cli/test_redact.py)."""

from __future__ import annotations

import base64
import zlib

from routing.extract.jwt import read_jwt_claims
from routing.extract.saml import parse_saml
from routing.limits import Limits
from routing.redact import Redactor
from tests.cli import captures

R = Redactor(key=b"k", keep_emails=frozenset({"it-admin@megasoft.com"}))


def test_stand_ins_are_stable_and_emails_keep_their_domain():
    r = R
    assert r.standin("abc") == r.standin("abc") != r.standin("abd")
    assert r.email("Alice@megasoft.com").endswith("@megasoft.com") and "alice" not in r.email("alice@megasoft.com")
    assert r.email("IT-Admin@megasoft.com") == "IT-Admin@megasoft.com"  # a test user routes by its whole address


def test_a_saml_response_keeps_what_routing_reads_in_both_bindings():
    for deflated in (False, True):
        value = captures.saml_response()
        if deflated:
            c = zlib.compressobj(9, zlib.DEFLATED, -15)
            value = base64.b64encode(c.compress(base64.b64decode(value)) + c.flush()).decode()
        red = parse_saml(R.saml(value, deflated=deflated), deflated=deflated, limits=Limits())
        orig = parse_saml(value, deflated=deflated, limits=Limits())
        assert (red.kind, red.id, red.in_response_to, red.issuer, red.destination, red.audiences) == (
            orig.kind,
            orig.id,
            orig.in_response_to,
            orig.issuer,
            orig.destination,
            orig.audiences,
        )
        assert red.name_id.endswith("@megasoft.com") and captures.USER_LOCAL not in red.name_id


def test_jwts_keep_their_routing_claims_only():
    claims = read_jwt_claims(R.jwt(captures.ID_TOKEN), limits=Limits())
    assert claims["iss"] == "https://megasoft.okta.com" and claims["email"].endswith("@megasoft.com")
    assert "secret_claim" not in claims and "sub" not in claims
    ca = captures.jwt({"iss": "m2m-client-1", "sub": "m2m-client-1", "exp": 1})
    assert read_jwt_claims(R.param("client_assertion", ca, deflated=False), limits=Limits())["sub"] == "m2m-client-1"


def test_headers_and_queries_lose_their_secrets():
    basic = base64.b64encode(b"app-client:s3cret").decode()
    assert base64.b64decode(R.authorization(f"Basic {basic}").split()[1]) == b"app-client:redacted"
    assert R.header("x-force-sk-route", "yes") == "yes"
    assert R.header("x-force-sk-route", "the-secret") != "the-secret"
    assert R.header("cname-api-key", "k-123") != "k-123"
    assert (
        R.query("state=a&connection=megasoft-saml&login_hint=it-admin%40megasoft.com")
        == f"state={R.standin('a')}&connection=megasoft-saml&login_hint=it-admin%40megasoft.com"
    )
