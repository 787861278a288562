"""Response planning: Location / Set-Cookie rewrites and what is remembered."""

from __future__ import annotations

import json

import pytest

from routing.rewrite import plan_response, rewrite_set_cookie
from routing.view import ResponseView
from tests.unit.samples import authn_request


def loc(location, mapping, provider="legacy"):
    return plan_response(ResponseView(302, location), mapping.providers[provider], mapping)


def kinds(plan):
    return sorted((ns, v) for ns, v, _, _ in plan.records)


def test_own_host_location_is_rewritten_and_its_state_remembered(mapping):
    plan = loc("https://yourapp.us.auth0.com/u/login?state=S1#f", mapping)
    assert plan.location == "https://auth.yourapp.com/u/login?state=S1#f"
    assert kinds(plan) == [("state", "S1")]


def test_port_matters_for_own_host(mapping):
    assert loc("https://yourapp.scalekit.com:8443/x", mapping, "scalekit").location == "https://auth.yourapp.com/x"
    plan = loc("https://yourapp.scalekit.com/x", mapping, "scalekit")
    assert plan.location is None


def test_foreign_location_untouched_but_idp_ids_remembered(mapping):
    req = authn_request("https://yourapp.us.auth0.com/", req_id="_abc")
    plan = loc(
        f"https://idp.megasoft.com/sso?SAMLRequest={req.replace('+', '%2B').replace('/', '%2F').replace('=', '%3D')}&RelayState=RS1",
        mapping,
    )
    assert plan.location is None
    assert kinds(plan) == [("relay_state", "RS1"), ("saml_id", "_abc")]


def test_idp_on_same_host_name_other_port_is_foreign(tmp_path):
    from routing.mapping_loader import load_mapping

    m = load_mapping(
        b'[router]\npublic_url = "http://127.0.0.1:9000"\n[providers.legacy]\nupstream = "http://127.0.0.1:9001"\n'
        b'app_callback = "http://app.test/cb"\n[providers.scalekit]\nupstream = "http://127.0.0.1:9002"\n'
    )
    plan = plan_response(
        ResponseView(302, "http://127.0.0.1:9003/authorize?state=ST&response_type=code"), m.providers["legacy"], m
    )
    assert plan.location is None and kinds(plan) == [("state", "ST")]
    plan = plan_response(ResponseView(302, "http://127.0.0.1:9005/cb?code=C9"), m.providers["legacy"], m)
    assert plan.location == "http://app.test/cb?code=C9" and kinds(plan) == [("code", "C9")]
    plan = plan_response(ResponseView(302, "http://127.0.0.1:9000/continue?code=C8"), m.providers["legacy"], m)
    assert plan.location is None and kinds(plan) == [("code", "C8")]  # to the router itself: not the app


def test_code_to_app_goes_to_app_callback(mapping):
    plan = loc("https://yourapp.com/whatever?code=C1&state=app", mapping, "scalekit")
    assert plan.location == "https://yourapp.com/auth/scalekit/callback?code=C1&state=app"
    assert kinds(plan) == [("code", "C1")]


def test_idp_initiated_login_goes_to_app_callback(mapping):
    plan = loc("https://yourapp.com/x?idp_initiated_login=JWT1", mapping, "scalekit")
    assert plan.location.startswith("https://yourapp.com/auth/scalekit/callback?idp_initiated_login=JWT1")


def test_auto_post_form_to_idp(mapping):
    html = (
        b'<html><body onload="document.forms[0].submit()"><form method="post" action="https://idp.test/sso">'
        b'<input type="hidden" name="SAMLRequest" value="PHNhbWxwOkF1dGhuUmVxdWVzdCB4bWxuczpzYW1scD0idXJuOm9hc2lzOm5hbWVzOnRjOlNBTUw6Mi4wOnByb3RvY29sIiBJRD0iX2Zvcm0xIi8+"/>'
        b'<input type="hidden" name="RelayState" value="RS2"/></form></body></html>'
    )
    plan = plan_response(ResponseView(200, None, "text/html", html), mapping.providers["legacy"], mapping)
    assert kinds(plan) == [("relay_state", "RS2"), ("saml_id", "_form1")]


@pytest.mark.parametrize(
    "body,expected",
    [
        (
            {"access_token": "A", "id_token": "I", "refresh_token": "R", "expires_in": 60},
            [("token", "A", 60), ("token", "I", 86400), ("token", "R", 86400)],
        ),
        ({"access_token": "A", "expires_in": 10**9}, [("token", "A", 86400)]),
        ({"refresh_token": "R", "refresh_token_expires_in": 3600}, [("token", "R", 3600)]),
        (
            {"request_uri": "urn:ietf:params:oauth:request_uri:x", "expires_in": 60},
            [("request_uri", "urn:ietf:params:oauth:request_uri:x", 60)],
        ),
        ({"error": "invalid_grant"}, []),
    ],
)
def test_token_response(mapping, body, expected):
    plan = plan_response(
        ResponseView(200, None, "application/json", json.dumps(body).encode()), mapping.providers["legacy"], mapping
    )
    assert sorted((ns, v, ttl) for ns, v, ttl, _ in plan.records) == sorted(expected)


def test_set_cookie_domain(mapping):
    p = mapping.providers["legacy"]
    assert (
        rewrite_set_cookie("a=1; Domain=.yourapp.us.auth0.com; Path=/", p, "auth.yourapp.com")
        == "a=1; Domain=auth.yourapp.com; Path=/"
    )
    assert rewrite_set_cookie("a=1; Domain=other.com", p, "auth.yourapp.com") == "a=1; Domain=other.com"
    assert rewrite_set_cookie("a=1; Path=/", p, "auth.yourapp.com") == "a=1; Path=/"


def test_an_error_redirect_back_to_the_app_does_not_record_its_state(mapping):
    # the app's own state echoed in an error redirect is no login of ours: it must not be able
    # to re-point a state another provider issued
    plan = loc("https://yourapp.com/cb?error=access_denied&state=V", mapping, "scalekit")
    assert kinds(plan) == []
    plan = loc("https://idp.example/authorize?client_id=x&response_type=code&state=V", mapping, "scalekit")
    assert kinds(plan) == [("state", "V")]


# -- RelayState: only from an answer that sends the browser to an IdP with a SAML request ----------


def _html(*inputs: tuple[str, str], action: str = "https://yourapp.com/sso/acs") -> bytes:
    fields = "".join(f'<input type="hidden" name="{k}" value="{v}"/>' for k, v in inputs)
    return (
        f'<html><body onload="document.forms[0].submit()"><form method="post" action="{action}">'
        f'{fields}<noscript><input type="submit" value="Continue"/></noscript></form></body></html>'
    ).encode()


def test_a_relay_state_beside_a_saml_response_to_the_app_is_not_remembered(mapping):
    """Legacy answering an IdP-initiated login with an auto-post to the app echoes the IdP's fixed
    RelayState: remembering it would steer every other org's IdP-initiated logins to legacy."""
    page = _html(("SAMLResponse", "PHNhbWxwOlJlc3BvbnNlLz4="), ("RelayState", "https://yourapp.com/dashboard"))
    plan = plan_response(ResponseView(200, None, "text/html", page), mapping.providers["legacy"], mapping)
    assert kinds(plan) == []


def test_a_relay_state_in_a_redirect_without_a_saml_request_is_not_remembered(mapping):
    assert (
        kinds(loc("https://auth.yourapp.com/continue?RelayState=https%3A%2F%2Fyourapp.com%2Fdashboard", mapping)) == []
    )
    assert kinds(loc("https://yourapp.us.auth0.com/u/x?RelayState=R1", mapping)) == []
    assert kinds(loc("https://yourapp.com/dashboard?RelayState=R1", mapping)) == []


def test_a_relay_state_beside_a_saml_request_is_remembered(mapping):
    req = authn_request("https://yourapp.us.auth0.com/", req_id="_r7")
    q = req.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
    assert kinds(loc(f"https://idp.megasoft.com/sso?SAMLRequest={q}&RelayState=R7", mapping)) == [
        ("relay_state", "R7"),
        ("saml_id", "_r7"),
    ]


# -- our own origin ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "origin",
    [
        "https://auth.yourapp.com:443",
        "https://AUTH.yourapp.com",
        "//auth.yourapp.com:443",
        "https://user@auth.yourapp.com",
    ],
)
def test_a_location_on_public_url_with_its_default_port_is_our_own(mapping, origin):
    """A code redirect to the router itself is not the app's (no app_callback), and a state there
    is a hosted page's."""
    plan = loc(f"{origin}/continue?code=C5", mapping)
    assert plan.location is None and kinds(plan) == [("code", "C5")]
    plan = loc(f"{origin}/u/login?state=S5", mapping, "scalekit")
    assert kinds(plan) == [("state", "S5")]


def test_another_port_or_scheme_of_public_host_is_not_our_own(mapping):
    assert loc("https://auth.yourapp.com:8443/continue?code=C6", mapping).location.startswith(
        "https://yourapp.com/auth/ext-provider/callback?code=C6"
    )
    assert loc("http://auth.yourapp.com/continue?code=C6", mapping).location.startswith(
        "https://yourapp.com/auth/ext-provider/callback?code=C6"
    )


# -- Set-Cookie Domain as browsers read it --------------------------------------------------------


@pytest.mark.parametrize(
    "attr",
    [
        "Domain = yourapp.us.auth0.com",
        "domain=yourapp.us.auth0.com.",
        "DOMAIN= .yourapp.us.auth0.com. ",
        "Domain=YourApp.US.auth0.com",
    ],
)
def test_set_cookie_domain_variants_are_rewritten_like_the_plain_form(mapping, attr):
    p = mapping.providers["legacy"]
    assert rewrite_set_cookie(f"a=1; {attr}; Path=/", p, "auth.yourapp.com") == "a=1; Domain=auth.yourapp.com; Path=/"


def test_set_cookie_domain_of_another_host_with_spaces_is_left_alone(mapping):
    p = mapping.providers["legacy"]
    assert rewrite_set_cookie("a=1; Domain = other.com.", p, "auth.yourapp.com") == "a=1; Domain = other.com."
