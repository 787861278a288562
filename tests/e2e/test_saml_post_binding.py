"""A provider that sends its AuthnRequest in an auto-post page (SAML HTTP-POST binding), as providers
do for large or signed requests (CONTRACT "Responses": the router records the ID and RelayState of a
SAMLRequest in a redirect *or an auto-post form*). One mitmdump per test: the mapping is flipped."""

from __future__ import annotations

from .browser import Browser
from .routes import route
from .steps import authorize_url, finish_at_proxy, flip


def test_a_saml_request_in_an_auto_post_page_is_remembered(peers, start_proxy):
    """The legacy provider sends its AuthnRequest in an auto-post page (HTTP-POST binding), not a
    redirect. The router remembers its ID and RelayState from the page, so when the org is flipped
    while the user is at the IdP, the Response still goes back to legacy."""
    peers.legacy.saml_post_binding = True
    px = start_proxy()
    b = Browser()
    start = b.get(authorize_url(px.url, login_hint="alice@megasoft.com"))
    assert start.peer == "legacy" and start.status == 200 and "SAMLRequest" in start.text, (start, start.text[:300])
    page = b.submit_form(start)  # to the IdP, which answers with its own auto-post page
    assert page.status == 200 and "SAMLResponse" in page.text, (page, page.text[:300])
    px.update_mapping(flip("megasoft.com", True))
    acs = finish_at_proxy(b, page, px.url)
    assert acs.peer == "legacy" and acs.status == 302 and route(acs) == ("legacy", "correlation"), (acs, acs.text)
    d = px.decision_for("POST", "/login/callback")
    assert d["identifier"] == "SAML InResponseTo", d
    assert not peers.scalekit.server.seen("/sso/v1/saml")
