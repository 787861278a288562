"""The SAML Issuer against what belongs to another org or to no org, through the real proxy: a fixed
RelayState legacy echoed, a sticky cookie from another org's login, a correlation that remembers no
org, and a SAMLResponse whose '+' signs a form encoder sent as spaces. The providers verify every
Response, so a misroute fails at the provider as well as in the decision log."""

from __future__ import annotations

import base64
import urllib.parse

from .browser import Browser, parse_form
from .routes import route
from .steps import authorize_url

DASHBOARD = "https://yourapp.com/dashboard"  # the one RelayState many IdPs send for every org
APP_ACS = "https://yourapp.com/sso/saml/acs"


def _decision(proxy, method: str, path: str) -> tuple:
    d = proxy.decision_for(method, path)
    return d["provider"], d["reason"], d["org"]


def test_a_fixed_relay_state_legacy_echoed_never_steers_another_org(peers, proxy):
    """megasoft (legacy) and newcompany (migrated) both start logins at their IdP with the same
    RelayState. Legacy answers megasoft's with an auto-post to the app carrying that RelayState: it
    sends the browser to no IdP, so it is no login of legacy's to continue."""
    peers.legacy.allow_unsolicited = peers.scalekit.allow_unsolicited = True
    peers.legacy.app_saml_acs = APP_ACS
    b = Browser()
    page = b.get(peers.idp.idp_init_url("megasoft", peers.sp_entity["megasoft"], relay_state=DASHBOARD))
    answer = b.submit_form(page)
    assert answer.peer == "legacy" and answer.status == 200, (answer, answer.text[:300])
    _, action, fields = parse_form(answer.text)
    assert action == APP_ACS and fields["RelayState"] == DASHBOARD
    assert _decision(proxy, "POST", "/login/callback") == ("legacy", "org", "megasoft.com")

    page = Browser().get(peers.idp.idp_init_url("newcompany", peers.sp_entity["newcompany"], relay_state=DASHBOARD))
    _, action, fields = parse_form(page.text)
    assert fields["RelayState"] == DASHBOARD and action.endswith("/sso/v1/saml/conn_newco/acs")
    acs = Browser().submit_form(page)
    assert acs.peer == "scalekit" and acs.status == 302, (acs, acs.text[:300])
    assert _decision(proxy, "POST", "/sso/v1/saml/conn_newco/acs") == ("scalekit", "org", "newcompany.com")
    assert [r.path for r in peers.legacy.server.records] == ["/login/callback"]


def test_a_response_whose_issuer_names_an_org_is_never_routed_by_the_cookie(peers, proxy):
    """The browser last started a megasoft login (legacy cookie); newcompany's IdP then posts an
    IdP-initiated Response carrying an InResponseTo that correlates nothing (as Rippling does), and
    the browser sends the cookie with it (SameSite=None). The Issuer decides: scalekit."""
    peers.scalekit.allow_unsolicited = peers.scalekit.unsolicited_in_response_to = True
    b = Browser()
    start = b.get(authorize_url(proxy.url, login_hint="alice@megasoft.com"))
    assert start.peer == "legacy" and any(c.startswith("sso_router=") for c in start.set_cookies)
    legacy_acs = peers.public_url + "/login/callback"
    page = b.get(
        peers.idp.idp_init_url(
            "newcompany", peers.sp_entity["newcompany"], acs=legacy_acs, in_response_to="_rippling-idp-initiated-7"
        )
    )
    assert b'InResponseTo="_rippling-idp-initiated-7"' in base64.b64decode(parse_form(page.text)[2]["SAMLResponse"])
    acs = b.submit_form(page, cross_site=False)  # with the router's cookie
    assert acs.peer == "scalekit" and acs.status == 302, (acs, acs.text[:300])
    assert route(acs) == ("scalekit", "org")
    assert _decision(proxy, "POST", "/login/callback") == ("scalekit", "org", "newcompany.com")
    assert [r.path for r in peers.scalekit.server.records] == ["/sso/v1/saml/conn_newco/acs"]  # target_paths


def configure_mapping(mapping: dict, world) -> None:
    # scalekit's connection id for megasoft is not in the mapping: a login started with it names no org
    mapping["orgs"]["megasoft.com"]["connections"] = ["megasoft-saml"]


def test_a_correlation_that_remembers_no_org_takes_the_issuers_target_paths(peers, proxy):
    """A login forced to scalekit by a connection the mapping does not know is remembered with no org.
    megasoft's IdP posts every Response to the legacy ACS it was set up with; the Issuer names
    megasoft, so megasoft's target_paths send it to scalekit's ACS for megasoft."""
    peers.idp.fixed_acs.add("megasoft")
    b = Browser()
    start = b.get(authorize_url(proxy.url, connection="conn_megasoft"), headers={"x-force-sk-route": "yes"})
    assert start.peer == "scalekit" and route(start) == ("scalekit", "forced"), (start, start.text[:200])
    assert _decision(proxy, "GET", "/authorize")[2] is None
    page = b.get(start.location)
    _, action, _ = parse_form(page.text)
    assert action == peers.public_url + "/login/callback"
    acs = b.submit_form(page)
    assert acs.peer == "scalekit" and acs.status == 302, (acs, acs.text[:300])
    assert _decision(proxy, "POST", "/login/callback") == ("scalekit", "correlation", "megasoft.com")
    assert [r.path for r in peers.scalekit.server.records][-1] == "/sso/v1/saml/conn_megasoft/acs"
    assert peers.legacy.server.records == []


def _page_with_pluses(peers, b: Browser, legacy_acs: str, max_tries: int = 60):
    """An IdP-initiated page whose SAMLResponse has a multiple of 4 '+' signs, one of them in its
    first 2 KB (before the Issuer is read): the case that decoded into garbage."""
    for i in range(max_tries):  # the user's name shifts what follows it against base64's 3-byte groups
        page = b.get(
            peers.idp.idp_init_url(
                "newcompany", peers.sp_entity["newcompany"], acs=legacy_acs, user=f"{'x' * (i + 1)}@contractor.example"
            )
        )
        value = parse_form(page.text)[2]["SAMLResponse"]
        if value.count("+") % 4 == 0 and "+" in value[:2000]:
            return page, value
    raise AssertionError(f"no SAMLResponse with a multiple of 4 '+' in {max_tries} tries")


def test_plus_signs_a_form_encoder_sent_as_spaces_still_route_by_the_issuer(peers, proxy):
    peers.scalekit.allow_unsolicited = True
    b = Browser()
    legacy_acs = peers.public_url + "/login/callback"
    _page, value = _page_with_pluses(peers, b, legacy_acs)
    # the careless encoder: '+' left as it is, so the form decoder reads each one as a space
    body = "SAMLResponse=" + urllib.parse.quote(value, safe="+/=")
    acs = b.request(
        "POST",
        legacy_acs,
        data=body.encode(),
        send_cookies=False,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert acs.peer == "scalekit" and acs.status == 302, (acs, acs.text[:300])
    assert _decision(proxy, "POST", "/login/callback") == ("scalekit", "org", "newcompany.com")
    assert peers.legacy.server.records == []
