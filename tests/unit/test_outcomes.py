"""Login outcomes as tables: each provider kind's documented answers (tests/fixtures/outcomes/cases.json,
sources in its README) → exchange, outcome, error kind. The response body is cut to what
``peek_size`` lets the edge read, as the edge will."""

from __future__ import annotations

import json
import pathlib
from urllib.parse import urlencode

import pytest

from routing.extract import extract
from routing.mapping_loader import load_mapping
from routing.outcomes import (
    SHAPES,
    Outcome,
    classify,
    classify_upstream_error,
    departure_keys,
    error_kind,
    exchange_of,
    peek_size,
    returning_keys,
)
from routing.outcomes.shapes import path_matches
from routing.rewrite import plan_response
from routing.view import RequestView, ResponseView
from tests.unit.samples import MAPPING, authn_request, saml_response

CASES = json.loads((pathlib.Path(__file__).parents[1] / "fixtures/outcomes/cases.json").read_text())["cases"]


def request_view(r: dict) -> RequestView:
    body, ct = b"", ""
    if "form" in r:
        body, ct = urlencode(r["form"]).encode(), "application/x-www-form-urlencoded"
    elif "json" in r:
        body, ct = json.dumps(r["json"]).encode(), "application/json"
    return RequestView(r["method"], "auth.yourapp.com", r["path"], r.get("query", ""), {}, body, ct)


def response_view(r: dict, exchange) -> ResponseView:
    body = r.get("body", "").encode()
    ct = r.get("content_type", "")
    return ResponseView(r["status"], r.get("location"), ct, body[: peek_size(exchange, r["status"], ct)])


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_documented_answers(case):
    view = request_view(case["request"])
    exchange = exchange_of(view, case["kind"])
    assert exchange == case["exchange"]
    got = classify(case["kind"], exchange, response_view(case["response"], exchange))
    if case["outcome"] is None:
        assert got is None
        return
    assert got == Outcome(case["stage"], case["outcome"] == "success", case.get("error_kind"))
    assert case["source"].startswith("https://")


def test_every_kind_has_cases_and_cited_docs():
    kinds = {c["kind"] for c in CASES}
    assert kinds == set(SHAPES)
    for s in SHAPES.values():
        assert s.docs and all(u.startswith("https://") for u in s.docs)
    for kind in SHAPES:
        got = {(c["outcome"]) for c in CASES if c["kind"] == kind}
        assert {"success", "failure"} <= got, kind


def test_only_a_kind_reaches_the_outcome():
    """No description, code, state or token of the answer survives classification."""
    for case in CASES:
        view = request_view(case["request"])
        ex = exchange_of(view, case["kind"])
        got = classify(case["kind"], ex, response_view(case["response"], ex))
        if got is None or got.ok:
            continue
        text = repr(got)
        for secret in ("not allowed", "Invalid authorization", "signature", "c0de", "app-st", "secret text", "01DMEK"):
            assert secret not in text


@pytest.mark.parametrize(
    "raw, kind",
    [
        ("access_denied", "access_denied"),
        ("  Invalid_Grant ", "invalid_grant"),
        ("INVALID_IDP_RESPONSE : the signature is bad", "invalid_idp_response"),
        ("a" * 49, "unrecognised_error"),
        ("", "unrecognised_error"),
        (None, "unrecognised_error"),
        (42, "unrecognised_error"),
        ("x\nset-cookie", "unrecognised_error"),
        ("saml.validation-failed", "saml.validation-failed"),
    ],
)
def test_error_kind_is_a_short_safe_code(raw, kind):
    assert error_kind(raw) == kind


def test_upstream_error_on_a_login_exchange_is_a_failure():
    assert classify_upstream_error("acs") == Outcome("login", False, "upstream_error")
    assert classify_upstream_error("token") == Outcome("token", False, "upstream_error")
    assert classify_upstream_error(None) is None


def test_peek_is_asked_only_where_a_body_decides():
    assert peek_size("token", 400, "application/json") > 0
    assert peek_size("token", 200, "application/json") == 0  # a token response is never read here
    assert peek_size("acs", 200, "text/html") > 0
    assert peek_size("acs", 302, "text/html") == 0
    assert peek_size("login_start", 200, "text/html") == 0
    assert peek_size(None, 400, "application/json") == 0


def test_a_big_post_is_not_parsed_but_an_acs_post_is_still_seen():
    big = RequestView(
        "POST", "h", "/login/callback", "", {}, b"SAMLResponse=" + b"A" * 2_000_000, "application/x-www-form-urlencoded"
    )
    assert exchange_of(big, "auth0") == "acs"
    other = RequestView("POST", "h", "/upload", "", {}, b"x=" + b"A" * 2_000_000, "application/x-www-form-urlencoded")
    assert exchange_of(other, "auth0") is None


@pytest.mark.parametrize(
    "patterns, path, hit",
    [
        (("/sso/v1/saml/*/acs",), "/sso/v1/saml/conn_1/acs", True),
        (("/sso/v1/saml/*/acs",), "/sso/v1/saml//acs", False),
        (("/sso/v1/saml/*/acs",), "/sso/v1/saml/a/b/acs", False),
        (("/u/",), "/u/login/identifier", True),
        (("/u/",), "/user", False),
        (("/login/callback",), "/login/callback/x", False),
    ],
)
def test_path_patterns(patterns, path, hit):
    assert path_matches(patterns, path) is hit


# -- departures and returns ----------------------------------------------------------------------
SECRET = b"k" * 32


@pytest.fixture(scope="module")
def m():
    return load_mapping(MAPPING)


def test_an_authn_request_redirect_is_a_departure_and_the_idp_answer_returns_it(m):
    legacy = m.providers["legacy"]
    query = urlencode({"SAMLRequest": authn_request("urn:auth0:yourapp", "_req42"), "RelayState": "rs-42"})
    loc = "https://megasoft.okta.com/sso/saml?" + query
    plan = plan_response(ResponseView(302, loc), legacy, m)
    keys = departure_keys(plan.records, SECRET)
    assert len(keys) == 2  # the AuthnRequest ID and its RelayState
    body = urlencode(
        {
            "SAMLResponse": saml_response("http://www.okta.com/exk1megasoft", in_response_to="_req42"),
            "RelayState": "rs-42",
        }
    ).encode()
    view = RequestView("POST", "auth.yourapp.com", "/login/callback", "", {}, body, "application/x-www-form-urlencoded")
    back = returning_keys(extract(view, m.settings.limits), SECRET)
    assert set(keys) <= set(back)


def test_an_oidc_authorize_redirect_is_a_departure(m):
    legacy = m.providers["legacy"]
    loc = "https://megasoft.okta.com/oauth2/v1/authorize?client_id=a0&response_type=code&state=a0-st-9"
    keys = departure_keys(plan_response(ResponseView(302, loc), legacy, m).records, SECRET)
    view = RequestView("GET", "auth.yourapp.com", "/login/callback", "code=idp&state=a0-st-9")
    assert keys and set(keys) <= set(returning_keys(extract(view, m.settings.limits), SECRET))


@pytest.mark.parametrize(
    "resp",
    [
        ResponseView(302, "https://yourapp.us.auth0.com/u/login?state=hp-1"),  # its own hosted page: not the IdP
        ResponseView(302, "https://yourapp.com/cb?code=c&state=app-st"),  # the answer to the app
        ResponseView(
            200,
            None,
            "text/html",
            b'<form action="https://yourapp.com/cb"><input name="code" value="c"><input name="state" value="s"></form>',
        ),  # form_post to the app
    ],
)
def test_answers_that_are_no_departure(m, resp):
    assert departure_keys(plan_response(resp, m.providers["legacy"], m).records, SECRET) == ()
