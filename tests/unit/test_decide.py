"""The engine as a table: request -> (provider, reason, org, evidence)."""

from __future__ import annotations

import base64
import json
from urllib.parse import urlencode

import pytest

from routing.correlation import Correlated
from routing.decide import decide, is_forced
from routing.extract import extract
from routing.model import Route
from routing.view import RequestView
from tests.unit.samples import authn_request, jwt, saml_response

FORM = "application/x-www-form-urlencoded"


def req(path="/", query=None, form=None, js=None, headers=None, method=None) -> RequestView:
    body, ct = b"", ""
    if form is not None:
        body, ct = urlencode(form).encode(), FORM
    elif js is not None:
        body, ct = json.dumps(js).encode(), "application/json"
    return RequestView(
        method=method or ("POST" if body else "GET"),
        host="auth.yourapp.com",
        path=path,
        query=urlencode(query) if query else "",
        headers={k.lower(): v for k, v in (headers or {}).items()},
        body=body,
        content_type=ct,
    )


def run(view, mapping, **kw):
    d = decide(extract(view, mapping.settings.limits), mapping, path=view.path, **kw)
    return d.provider, d.reason.value, d.org, d.evidence


def basic(user, pw="s3cret"):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()}


CASES = [
    # (id, view, expected (provider, reason, org, evidence))
    (
        "login_hint legacy",
        req("/authorize", {"login_hint": "bob@megasoft.com", "response_type": "code"}),
        ("legacy", "org", "megasoft.com", "login_hint domain"),
    ),
    (
        "login_hint migrated, domains alias, case",
        req("/authorize", {"login_hint": "Bob@NEWCO.io"}),
        ("scalekit", "org", "newcompany.com", "login_hint domain"),
    ),
    (
        "username form",
        req("/u/login", form={"username": "a@megasoft.io"}),
        ("legacy", "org", "megasoft.com", "username domain"),
    ),
    (
        "sso-login form email",
        req("/sso-login", form={"email": "x@newcompany.com"}),
        ("scalekit", "org", "newcompany.com", "email domain"),
    ),
    (
        "sso-login JSON email",
        req("/sso-login", js={"email": "x@megasoft.com"}),
        ("legacy", "org", "megasoft.com", "email domain"),
    ),
    (
        "domain_hint",
        req("/authorize", {"domain_hint": "newcompany.com"}),
        ("scalekit", "org", "newcompany.com", "domain_hint"),
    ),
    ("domain", req("/sso/authorize", {"domain": "megasoft.io"}), ("legacy", "org", "megasoft.com", "domain")),
    (
        "organization",
        req("/oauth/authorize", {"organization": "org_01HNEWCO"}),
        ("scalekit", "org", "newcompany.com", "organization"),
    ),
    (
        "organization_id",
        req("/oauth/authorize", {"organization_id": "org_01HMEGA"}),
        ("legacy", "org", "megasoft.com", "organization_id"),
    ),
    ("connection", req("/authorize", {"connection": "megasoft-saml"}), ("legacy", "org", "megasoft.com", "connection")),
    (
        "connection_id",
        req("/authorize", {"connection_id": "conn_01HNEWCO"}),
        ("scalekit", "org", "newcompany.com", "connection_id"),
    ),
    (
        "cognito identity_provider",
        req("/oauth2/authorize", {"identity_provider": "us-east-1_pool-newco"}),
        ("scalekit", "org", "newcompany.com", "identity_provider"),
    ),
    (
        "cognito idp_identifier -> domain",
        req("/oauth2/authorize", {"idp_identifier": "megasoft.com"}),
        ("legacy", "org", "megasoft.com", "idp_identifier"),
    ),
    (
        "cognito idp_identifier -> connection",
        req("/oauth2/authorize", {"idp_identifier": "newco-saml"}),
        ("scalekit", "org", "newcompany.com", "idp_identifier"),
    ),
    (
        "firebase providerId",
        req("/v1/accounts:createAuthUri", js={"providerId": "newco-saml"}),
        ("scalekit", "org", "newcompany.com", "providerId"),
    ),
    (
        "firebase tenantId",
        req("/v2/accounts:signIn", js={"tenantId": "tenant-newco"}),
        ("scalekit", "org", "newcompany.com", "tenantId"),
    ),
    (
        "nested customParameters",
        req("/v1/accounts:createAuthUri", js={"customParameters": {"login_hint": "a@newco.io"}}),
        ("scalekit", "org", "newcompany.com", "login_hint domain"),
    ),
    (
        "nested in a string param",
        req("/authorize", {"customParameters": json.dumps({"domain_hint": "megasoft.com"})}),
        ("legacy", "org", "megasoft.com", "domain_hint"),
    ),
    (
        "top-level wins over nested",
        req("/x", js={"login_hint": "a@megasoft.com", "customParameters": {"login_hint": "b@newco.io"}}),
        ("legacy", "org", "megasoft.com", "login_hint domain"),
    ),
    (
        "workos ACS path",
        req("/sso/saml/acs/newco-saml", form={"RelayState": "zz"}),
        ("scalekit", "org", "newcompany.com", "path connection (WorkOS ACS)"),
    ),
    (
        "scalekit conn_ path",
        req("/sso/v1/saml/conn_01HMEGA/acs", form={}, method="POST"),
        ("legacy", "org", "megasoft.com", "path connection (conn_ id)"),
    ),
    (
        "SAML Issuer (POST)",
        req("/login/callback", form={"SAMLResponse": saml_response("https://sts.windows.net/newco/")}),
        ("scalekit", "org", "newcompany.com", "SAML Issuer"),
    ),
    (
        "SAML Issuer with whitespace",
        req("/login/callback", form={"SAMLResponse": saml_response("\n  http://www.okta.com/exk1megasoft \n")}),
        ("legacy", "org", "megasoft.com", "SAML Issuer"),
    ),
    (
        "SAML Audience connection",
        req(
            "/login/callback",
            form={
                "SAMLResponse": saml_response("http://unknown", name_id="zz", audience="urn:auth0:yourapp:newco-saml")
            },
        ),
        ("scalekit", "org", "newcompany.com", "SAML Audience connection"),
    ),
    (
        "SAML Destination connection",
        req(
            "/login/callback",
            form={
                "SAMLResponse": saml_response(
                    "http://unknown",
                    name_id="zz",
                    audience="x",
                    destination="https://auth.yourapp.com/login/callback?connection=newco-saml",
                )
            },
        ),
        ("scalekit", "org", "newcompany.com", "SAML Destination connection"),
    ),
    (
        "SAML NameID email",
        req(
            "/login/callback",
            form={"SAMLResponse": saml_response("http://unknown", name_id="u@megasoft.io", audience="x")},
        ),
        ("legacy", "org", "megasoft.com", "SAML NameID domain"),
    ),
    (
        "SAMLRequest redirect binding",
        req("/samlp/logout", {"SAMLRequest": authn_request("https://sts.windows.net/newco/")}),
        ("scalekit", "org", "newcompany.com", "SAML Issuer"),
    ),
    (
        "form_post id_token iss",
        req("/login/callback", form={"id_token": jwt({"iss": "https://newco.okta.com"}), "state": "unknown"}),
        ("scalekit", "org", "newcompany.com", "id_token iss"),
    ),
    (
        "form_post id_token email",
        req("/login/callback", form={"id_token": jwt({"iss": "https://x", "email": "a@megasoft.com"})}),
        ("legacy", "org", "megasoft.com", "id_token email domain"),
    ),
    (
        "id_token_hint iss",
        req("/v2/logout", {"id_token_hint": jwt({"iss": "https://newco.okta.com"})}),
        ("scalekit", "org", "newcompany.com", "id_token_hint iss"),
    ),
    (
        "id_token tid",
        req("/cb", form={"id_token": jwt({"iss": "https://login.microsoftonline.com", "tid": "tenant-newco"})}),
        ("scalekit", "org", "newcompany.com", "id_token tid"),
    ),
    (
        "client_id query",
        req("/authorize", {"client_id": "m2m-newco"}),
        ("scalekit", "org", "newcompany.com", "client_id"),
    ),
    (
        "client_id form",
        req("/oauth/token", form={"grant_type": "client_credentials", "client_id": "m2m-client-1"}),
        ("legacy", "org", "megasoft.com", "client_id"),
    ),
    (
        "client_id JSON",
        req("/oauth/token", js={"client_id": "m2m-newco"}),
        ("scalekit", "org", "newcompany.com", "client_id"),
    ),
    (
        "client_id Basic",
        req("/oauth/token", form={"grant_type": "client_credentials"}, headers=basic("m2m-newco")),
        ("scalekit", "org", "newcompany.com", "client_id (Basic auth)"),
    ),
    (
        "client_assertion iss",
        req("/oauth/token", form={"client_assertion": jwt({"iss": "m2m-newco", "sub": "m2m-newco"})}),
        ("scalekit", "org", "newcompany.com", "client_assertion iss"),
    ),
    (
        "test user of legacy org",
        req("/authorize", {"login_hint": "IT-Admin@megasoft.com"}),
        ("scalekit", "org", "megasoft.com", "test user (login_hint)"),
    ),
    ("nothing", req("/u/assets/app.css"), ("legacy", "default", None, "no identifier")),
    (
        "unknown domain",
        req("/authorize", {"login_hint": "a@elsewhere.org"}),
        ("legacy", "default", None, "no identifier"),
    ),
    ("provider path", req("/keys"), ("scalekit", "path", None, "provider path")),
    ("provider path below", req("/keys/abc"), ("scalekit", "path", None, "provider path")),
    ("not a path boundary", req("/keysx"), ("legacy", "default", None, "no identifier")),
    (
        "org beats path",
        req("/keys", {"organization_id": "org_01HMEGA"}),
        ("legacy", "org", "megasoft.com", "organization_id"),
    ),
    # precedence when identifiers disagree
    (
        "connection beats login_hint",
        req("/authorize", {"connection": "newco-saml", "login_hint": "a@megasoft.com"}),
        ("scalekit", "org", "newcompany.com", "connection"),
    ),
    (
        "Issuer beats NameID domain",
        req(
            "/login/callback",
            form={
                "SAMLResponse": saml_response(
                    "http://www.okta.com/exk1megasoft", name_id="contractor@newco.io", audience="x"
                )
            },
        ),
        ("legacy", "org", "megasoft.com", "SAML Issuer"),
    ),
    (
        "test user beats connection",
        req("/authorize", {"connection": "megasoft-saml", "login_hint": "it-admin@megasoft.com"}),
        ("scalekit", "org", "megasoft.com", "test user (login_hint)"),
    ),
    (
        "garbage SAML still routes by path",
        req("/sso/saml/acs/newco-saml", form={"SAMLResponse": "!!!not base64"}),
        ("scalekit", "org", "newcompany.com", "path connection (WorkOS ACS)"),
    ),
]


@pytest.mark.parametrize("view,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_table(mapping, view, expected):
    assert run(view, mapping) == expected


def test_forced_wins_over_everything(mapping):
    v = req("/authorize", {"login_hint": "a@megasoft.com"})
    assert run(
        v, mapping, forced=True, correlated=[Correlated("state", "state", Route("legacy"))], sticky=Route("legacy")
    ) == ("scalekit", "forced", "megasoft.com", "force header")


def test_correlation_beats_org_and_sticky(mapping):
    v = req("/login/callback", form={"SAMLResponse": saml_response("https://sts.windows.net/newco/")})
    got = run(
        v,
        mapping,
        correlated=[Correlated("saml_id", "SAML InResponseTo", Route("legacy", "newcompany.com"))],
        sticky=Route("scalekit"),
    )
    assert got == ("legacy", "correlation", "newcompany.com", "SAML InResponseTo")


def test_correlation_to_a_removed_provider_is_ignored(mapping):
    v = req("/authorize", {"login_hint": "a@megasoft.com"})
    assert run(v, mapping, correlated=[Correlated("state", "state", Route("gone"))]) == (
        "legacy",
        "org",
        "megasoft.com",
        "login_hint domain",
    )
    # the next candidate the store knew still counts
    assert run(
        v,
        mapping,
        correlated=[Correlated("state", "state", Route("gone")), Correlated("code", "code", Route("scalekit"))],
    )[:2] == ("scalekit", "correlation")


def test_sticky_beats_org_on_a_non_login_start(mapping):
    v = req("/u/login", form={"username": "a@newco.io"})
    assert run(v, mapping, sticky=Route("legacy", "megasoft.com"))[:3] == ("legacy", "sticky", "megasoft.com")


@pytest.mark.parametrize(
    "view",
    [
        req("/authorize", {"login_hint": "a@newcompany.com"}),
        req("/x", {"response_type": "code", "organization_id": "org_01HNEWCO"}),
        req("/login/callback", form={"SAMLResponse": saml_response("https://sts.windows.net/newco/")}),
        req("/sso-login", form={"email": "a@newcompany.com"}),
    ],
    ids=["authorize", "response_type", "SAMLResponse", "sso-login"],
)
def test_login_start_naming_an_org_beats_sticky(mapping, view):
    assert run(view, mapping, sticky=Route("legacy", "megasoft.com"))[:3] == ("scalekit", "org", "newcompany.com")


@pytest.mark.parametrize("in_response_to", [None, "_req123"], ids=["IdP-initiated", "with InResponseTo"])
def test_a_saml_response_whose_issuer_names_an_org_is_never_routed_by_the_cookie(mapping, in_response_to):
    """CONTRACT "Routing" 3: with or without an InResponseTo (some IdPs put one in IdP-initiated
    Responses); one that correlates nothing leaves the Issuer's org to decide, not the cookie of
    whichever login this browser made last."""
    v = req(
        "/login/callback",
        form={"SAMLResponse": saml_response("https://sts.windows.net/newco/", in_response_to=in_response_to)},
    )
    assert run(v, mapping, sticky=Route("legacy", "megasoft.com"))[:3] == ("scalekit", "org", "newcompany.com")
    assert run(v, mapping)[:3] == ("scalekit", "org", "newcompany.com")


def test_a_saml_response_whose_issuer_names_no_org_may_follow_the_cookie(mapping):
    v = req(
        "/login/callback",
        form={"SAMLResponse": saml_response("http://unknown-idp/", name_id="zz", in_response_to="_req123")},
    )
    assert run(v, mapping, sticky=Route("scalekit", "newcompany.com"))[:2] == ("scalekit", "sticky")


def _relay(route: Route) -> list[Correlated]:
    return [Correlated("relay_state", "RelayState", route)]


def test_a_relay_state_correlation_yields_to_an_issuer_naming_another_org(mapping):
    """CONTRACT "Routing" 2: many IdPs send one fixed RelayState for every org."""
    v = req(
        "/login/callback",
        form={
            "SAMLResponse": saml_response("https://sts.windows.net/newco/"),
            "RelayState": "https://yourapp.com/dashboard",
        },
    )
    assert run(v, mapping, correlated=_relay(Route("legacy", "megasoft.com")))[:3] == (
        "scalekit",
        "org",
        "newcompany.com",
    )
    assert run(v, mapping, correlated=_relay(Route("legacy")))[:3] == ("scalekit", "org", "newcompany.com")
    # the Issuer's own org: the RelayState continues its login (say, started before a flip)
    assert run(v, mapping, correlated=_relay(Route("legacy", "newcompany.com")))[:3] == (
        "legacy",
        "correlation",
        "newcompany.com",
    )


@pytest.mark.parametrize("kind", ["saml_id", "state", "code", "request_uri", "token"])
def test_other_correlations_never_yield_to_the_issuer(mapping, kind):
    v = req(
        "/login/callback",
        form={"SAMLResponse": saml_response("https://sts.windows.net/newco/", in_response_to="_req1")},
    )
    got = run(v, mapping, correlated=[Correlated(kind, kind, Route("legacy", "megasoft.com"))])
    assert got[:3] == ("legacy", "correlation", "megasoft.com")


def test_a_relay_state_without_an_issuer_naming_an_org_still_correlates(mapping):
    v = req("/sso/saml/acs/x", form={"RelayState": "rs"})
    assert run(v, mapping, correlated=_relay(Route("scalekit", "newcompany.com")))[:2] == ("scalekit", "correlation")


def test_a_route_without_an_org_takes_the_request_org(mapping):
    """CONTRACT "Routing": target_paths apply whatever the reason, so a correlated ACS post whose
    login started with no org (forced, a cookie without one) is still the Issuer's org's."""
    v = req(
        "/login/callback",
        form={"SAMLResponse": saml_response("http://www.okta.com/exk1megasoft", in_response_to="_req1")},
    )
    got = run(v, mapping, correlated=[Correlated("saml_id", "SAML InResponseTo", Route("scalekit"))])
    assert got == ("scalekit", "correlation", "megasoft.com", "SAML InResponseTo")
    assert run(req("/u/assets/a.css", {"login_hint": "a@megasoft.com"}), mapping, sticky=Route("scalekit"))[:3] == (
        "scalekit",
        "sticky",
        "megasoft.com",
    )
    # a route's own org stands
    got = run(v, mapping, correlated=[Correlated("saml_id", "SAML InResponseTo", Route("scalekit", "newcompany.com"))])
    assert got[2] == "newcompany.com"


def test_path_beats_sticky_when_no_org(mapping):
    assert run(req("/keys"), mapping, sticky=Route("legacy"))[:2] == ("scalekit", "path")


def test_sticky_without_identifiers(mapping):
    assert run(req("/u/assets/app.css"), mapping, sticky=Route("scalekit", "newcompany.com"))[:3] == (
        "scalekit",
        "sticky",
        "newcompany.com",
    )


def test_shadow_forwards_to_default(mapping):
    from dataclasses import replace

    shadow = replace(mapping, settings=replace(mapping.settings, shadow=True))
    d = decide(
        extract(req("/authorize", {"login_hint": "a@newcompany.com"}), shadow.settings.limits),
        shadow,
        path="/authorize",
    )
    assert (d.provider, d.forward_to, d.shadow) == ("scalekit", "legacy", True)


@pytest.mark.parametrize(
    "value,secret,expected",
    [
        ("yes", "", True),
        ("YES ", "", True),
        ("no", "", False),
        (None, "", False),
        ("yes", "hunter2", False),
        ("hunter2", "hunter2", True),
        ("Hunter2", "hunter2", False),
    ],
)
def test_is_forced(mapping, value, secret, expected):
    from dataclasses import replace

    m = replace(mapping, settings=replace(mapping.settings, force_header_secret=secret))
    assert is_forced(value, m) is expected


def test_correlation_candidates_are_collected():
    from routing.limits import Limits

    v = req("/cb", {"state": "S1", "code": "C1"}, headers={"Authorization": "Bearer T1"})
    got = extract(v, Limits()).correlations
    assert {(ns, val) for ns, val, _ in got} == {("state", "S1"), ("code", "C1"), ("token", "T1")}


@pytest.mark.parametrize("where", ["query", "form"])
@pytest.mark.parametrize("name", ["token", "refresh_token", "id_token_hint", "access_token"])
def test_token_parameters_are_correlation_candidates(name, where):
    from routing.limits import Limits

    v = req("/any/path", **({"query": {name: "TOK"}} if where == "query" else {"form": {name: "TOK"}}))
    assert ("token", "TOK") in [c[:2] for c in extract(v, Limits()).correlations]


@pytest.mark.parametrize("path", ["/oauth/revoke", "/oauth/introspect", "/oauth2/revoke"])
def test_the_token_parameter_comes_before_the_callers_bearer(path):
    """At revocation and introspection the Bearer authenticates the caller; ``token`` is the
    token the request is about, and it decides (CONTRACT "Routing" 2)."""
    from routing.limits import Limits

    v = req(path, form={"token": "THE-TOKEN"}, headers={"Authorization": "Bearer CALLERS"})
    got = [c[:2] for c in extract(v, Limits()).correlations]
    assert got == [("token", "THE-TOKEN"), ("token", "CALLERS")]


def test_saml_in_response_to_is_the_first_correlation():
    from routing.limits import Limits

    v = req("/acs", form={"RelayState": "rs", "SAMLResponse": saml_response("x", in_response_to="_req9")})
    got = extract(v, Limits()).correlations
    assert got[0][:2] == ("saml_id", "_req9") and ("relay_state", "rs") in [g[:2] for g in got]
