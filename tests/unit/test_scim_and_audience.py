"""SCIM paths (directory ids, the bearer token's hash) and an Audience matched whole."""

from __future__ import annotations

import hashlib

import pytest

from routing.decide import decide
from routing.extract import extract, is_scim_path, scim_directory_candidates
from routing.limits import Limits
from routing.mapping_loader import load_mapping
from routing.view import RequestView

from .samples import saml_response

TOKEN = "scim-static-token-1"
M = load_mapping(
    f'''
[router]
public_url = "https://auth.test"
[providers.legacy]
upstream = "https://l.test"
[providers.scalekit]
upstream = "https://s.test"
[orgs."a.com"]
directories = ["directory_01A"]
[orgs."b.com"]
migrated = true
scim_token_sha256 = ["{hashlib.sha256(TOKEN.encode()).hexdigest().upper()}"]
connections = ["https://auth0.example/sp/b-custom-entity"]
'''.encode()
)


def route(view: RequestView):
    clues = extract(view, Limits())
    return clues, decide(clues, M, path=view.path)


@pytest.mark.parametrize(
    "path, scim, dirs",
    [
        ("/scim/v2.0/directory_01A/Users", True, ["directory_01A"]),
        ("/scim/v2.0/directory_01A/Groups/grp_9", True, ["directory_01A"]),
        ("/scim/v2/Users", True, []),
        ("/api/scim/directory_01A/v2/Users/u_1", True, ["api", "directory_01A"]),
        ("/scim/config", False, None),
        ("/v2/logout", False, None),
    ],
)
def test_scim_paths_and_their_directory_candidates(path, scim, dirs):
    assert is_scim_path(path) is scim
    if scim:
        assert scim_directory_candidates(path) == dirs


def test_a_scim_request_routes_by_its_directory():
    _, d = route(
        RequestView("POST", "auth.test", "/scim/v2.0/directory_01A/Users", headers={"authorization": "Bearer whatever"})
    )
    assert (d.provider, d.reason, d.org, d.evidence) == ("legacy", "org", "a.com", "SCIM directory in the path")


def test_a_scim_request_routes_by_its_tokens_hash_never_the_token():
    clues, d = route(
        RequestView(
            "PATCH", "auth.test", "/scim/v2.0/dir_unknown/Groups/g1", headers={"authorization": f"Bearer {TOKEN}"}
        )
    )
    assert (d.provider, d.reason, d.org) == ("scalekit", "org", "b.com")
    assert clues.correlations == []  # a SCIM credential is no provider-issued token: not looked up
    assert all(TOKEN not in value for _, value in clues.scim_tokens)


def test_a_bearer_off_scim_paths_is_a_correlation_candidate_not_a_scim_token():
    clues, _ = route(RequestView("GET", "auth.test", "/userinfo", headers={"authorization": f"Bearer {TOKEN}"}))
    assert clues.scim_tokens == [] and [c[0] for c in clues.correlations] == ["token"]


def test_an_audience_is_matched_whole_against_connections():
    form = "SAMLResponse=" + saml_response(
        "http://unmapped-idp.test/", audience="https://auth0.example/sp/b-custom-entity"
    )
    _, d = route(
        RequestView(
            "POST",
            "auth.test",
            "/login/callback",
            body=form.replace("+", "%2B").encode(),
            content_type="application/x-www-form-urlencoded",
        )
    )
    assert (d.provider, d.reason, d.org, d.evidence) == ("scalekit", "org", "b.com", "SAML Audience")
