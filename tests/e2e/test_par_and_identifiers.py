"""Issue 9 through real mitmdump: a PAR request_uri routes the following authorize to the provider
that issued it (which accepts only its own), and the identifier-table additions (Identity Platform
tenant ids, Firebase providerId, Cognito idp_identifier, a JSON object inside a parameter,
id_token_hint read like a posted id_token) route to the org's provider."""

from __future__ import annotations

import base64
import json
import urllib.parse

import pytest

from .browser import Browser
from .routes import route
from .steps import APP_CALLBACK, APP_CLIENT, authorize_url


def unsigned_jwt(claims: dict) -> str:
    seg = lambda o: base64.urlsafe_b64encode(json.dumps(o).encode()).rstrip(b"=").decode()  # noqa: E731
    return f"{seg({'alg': 'RS256', 'typ': 'JWT'})}.{seg(claims)}.c2ln"


def test_par_request_uri_routes_authorize_back_to_its_issuer(peers, proxy):
    b = Browser()
    pushed = b.request(
        "POST",
        proxy.url + "/oauth/par",
        data={
            "client_id": APP_CLIENT[0],
            "redirect_uri": APP_CALLBACK,
            "response_type": "code",
            "scope": "openid email",
            "state": "par-state",
            "organization_id": "org_newco",
        },
    )
    assert pushed.status == 201 and pushed.headers.get("x-peer") == "scalekit", pushed
    request_uri = json.loads(pushed.text)["request_uri"]
    # nothing in this request names an org: only the remembered request_uri can route it
    start = Browser().get(
        f"{proxy.url}/oauth/authorize?"
        + urllib.parse.urlencode({"client_id": APP_CLIENT[0], "request_uri": request_uri})
    )
    assert start.headers.get("x-peer") == "scalekit" and start.status == 302, (start, start.text[:200])
    assert route(start) == ("scalekit", "correlation")


def test_unknown_request_uri_goes_to_default_and_is_refused_there(peers, proxy):
    start = Browser().get(
        f"{proxy.url}/oauth/authorize?"
        + urllib.parse.urlencode(
            {"client_id": APP_CLIENT[0], "request_uri": "urn:ietf:params:oauth:request_uri:forged"}
        )
    )
    assert start.headers.get("x-peer") == "legacy" and start.status == 400
    assert route(start) == ("legacy", "default")


@pytest.mark.parametrize(
    "params,peer,identifier",
    [
        ({"tid": "org_newco"}, "scalekit", "tid"),
        ({"tenantId": "org_scalekit_globex"}, "scalekit", "tenantId"),
        ({"providerId": "newco-saml"}, "scalekit", "providerId"),
        ({"idp_identifier": "newcompany.com"}, "scalekit", "idp_identifier"),
        ({"idp_identifier": "conn_newco"}, "scalekit", "idp_identifier"),
        ({"customParameters": json.dumps({"login_hint": "ann@newcompany.com"})}, "scalekit", "login_hint domain"),
        (
            {"login_hint": "al@megasoft.com", "customParameters": json.dumps({"login_hint": "ann@newcompany.com"})},
            "legacy",
            "login_hint domain",
        ),
    ],
    ids=[
        "tid",
        "tenantId",
        "providerId",
        "idp_identifier-domain",
        "idp_identifier-connection",
        "customParameters",
        "top-level-wins",
    ],
)
def test_identifier_additions(peers, proxy, params, peer, identifier):
    hop = Browser().get(authorize_url(proxy.url, prompt="login", **params))
    assert hop.headers.get("x-peer") == peer, (hop, hop.text[:200])
    assert route(hop) == (peer, "org")
    d = proxy.decision_for("GET", "/authorize")
    assert d["identifier"] == identifier


def test_id_token_hint_that_correlates_nothing_is_read_like_an_id_token(peers, proxy):
    hint = unsigned_jwt({"iss": peers.oidc.issuer("globex"), "email": "x@elsewhere.example"})
    hop = Browser().get(f"{proxy.url}/v2/logout?" + urllib.parse.urlencode({"id_token_hint": hint}))
    assert hop.headers.get("x-peer") == "scalekit"  # globex.com is migrated; scalekit refuses a hint it never issued
    assert route(hop) == ("scalekit", "org")
    assert proxy.decision_for("GET", "/v2/logout")["identifier"] == "id_token_hint iss"
