"""``pipeline`` (routing/pipeline.py): one request's way through the core around the store call —
``begin`` names the store keys (keyed hashes only), ``conclude`` decides with what the store said,
``learn`` turns a provider's answer into a plan and entries, ``sticky_cookie`` the cookie to set.
(The SAML-head shortcut ``begin`` takes is tests/unit/test_saml_head.py's.)"""

from __future__ import annotations

from routing import pipeline
from routing.correlation import key_for
from routing.mapping_loader import load_mapping
from routing.model import Reason, Route
from routing.view import RequestView, ResponseView
from tests.unit.samples import MAPPING, saml_response

SECRET = b"k" * 32
NOW = 1_700_000_000.0


def get(path: str, query: str = "", headers: dict | None = None, sticky: str | None = None) -> RequestView:
    return RequestView("GET", "auth.yourapp.com", path, query, headers or {}, sticky=sticky)


def decide(m, view, recalled=None, **kw):
    p = pipeline.begin(view, m, SECRET)
    return p, pipeline.conclude(p, m, recalled or {}, secret=SECRET, now=NOW, **kw)


def test_begin_names_keyed_hashes_never_the_values(mapping):
    p = pipeline.begin(get("/callback", "state=ST-123&code=CODE-9"), mapping, SECRET)
    assert {c.kind for c in p.keys} == {"state", "code"}
    assert set(p.store_keys) == {key_for(SECRET, "state", "ST-123"), key_for(SECRET, "code", "CODE-9")}
    assert not any("ST-123" in k or "CODE-9" in k for k in p.store_keys)


def test_another_secret_names_other_keys(mapping):
    a = pipeline.begin(get("/callback", "state=ST-1"), mapping, SECRET).store_keys
    b = pipeline.begin(get("/callback", "state=ST-1"), mapping, b"other").store_keys
    assert a and b and set(a).isdisjoint(b)


def test_a_forced_request_asks_the_store_nothing(mapping):
    p, d = decide(mapping, get("/callback", "state=ST-1", headers={"x-force-sk-route": "yes"}))
    assert p.forced and p.keys == () and (d.provider, d.reason) == ("scalekit", Reason.FORCED)


def test_conclude_follows_what_the_store_remembered(mapping):
    view = get("/callback", "state=ST-1&login_hint=a@newcompany.com")
    p = pipeline.begin(view, mapping, SECRET)
    d = pipeline.conclude(p, mapping, {p.store_keys[0]: Route("legacy", "megasoft.com")}, secret=SECRET, now=NOW)
    assert (d.provider, d.reason, d.org) == ("legacy", Reason.CORRELATION, "megasoft.com")


def test_an_unanswered_store_is_said_in_the_decision_only_when_it_was_asked(mapping):
    _, d = decide(mapping, get("/callback", "state=ST-1&login_hint=a@newcompany.com"), unanswered="timeout")
    assert (d.provider, d.reason) == ("scalekit", Reason.ORG)
    assert d.evidence == "login_hint domain; correlation not checked: store timeout"
    _, d = decide(mapping, get("/authorize", "login_hint=a@newcompany.com"), unanswered="timeout")
    assert d.evidence == "login_hint domain"  # no candidate: nothing was left unchecked


def test_a_sticky_cookie_signed_with_the_secret_routes(mapping):
    cookie = pipeline.sticky_cookie(
        decide(mapping, get("/authorize", "login_hint=a@newcompany.com"))[1], mapping, secret=SECRET, now=NOW
    )
    value = cookie.split(";", 1)[0].split("=", 1)[1]
    _, d = decide(mapping, get("/u/assets/app.css", sticky=value))
    assert (d.provider, d.reason, d.org) == ("scalekit", Reason.STICKY, "newcompany.com")
    p = pipeline.begin(get("/u/assets/app.css", sticky=value), mapping, SECRET)
    other = pipeline.conclude(p, mapping, {}, secret=b"another-instance-key", now=NOW)
    assert other.reason == Reason.DEFAULT  # a cookie another key signed means nothing


def test_the_cookie_lives_no_longer_than_correlation_ttl_and_is_secure_over_https(mapping):
    d = decide(mapping, get("/authorize", "login_hint=a@newcompany.com"))[1]
    cookie = pipeline.sticky_cookie(d, mapping, secret=SECRET, now=NOW)
    assert f"Max-Age={mapping.settings.correlation_ttl}" in cookie
    assert "HttpOnly" in cookie and "SameSite=None; Secure" in cookie
    value = cookie.split(";", 1)[0].split("=", 1)[1]
    p = pipeline.begin(get("/u/x.css", sticky=value), mapping, SECRET)
    late = pipeline.conclude(p, mapping, {}, secret=SECRET, now=NOW + mapping.settings.correlation_ttl + 1)
    assert late.reason == Reason.DEFAULT  # expired


def test_no_cookie_for_a_default_or_path_decision(mapping):
    for view in (get("/assets/x.css"), get("/keys")):
        d = decide(mapping, view)[1]
        assert d.reason in (Reason.DEFAULT, Reason.PATH)
        assert pipeline.sticky_cookie(d, mapping, secret=SECRET, now=NOW) is None


def test_over_plain_http_the_cookie_is_lax_not_secure():
    m = load_mapping(
        MAPPING.replace(b'public_url = "https://auth.yourapp.com"', b'public_url = "http://auth.yourapp.com"')
    )
    d = decide(m, get("/authorize", "login_hint=a@newcompany.com"))[1]
    cookie = pipeline.sticky_cookie(d, m, secret=SECRET, now=NOW)
    assert "Secure" not in cookie and "SameSite=Lax" in cookie


def test_learn_remembers_a_code_for_the_provider_and_org_that_issued_it(mapping):
    resp = ResponseView(302, "https://yourapp.com/cb?code=CODE-1&state=app")
    plan, entries = pipeline.learn(resp, mapping.providers["legacy"], mapping, "megasoft.com", SECRET)
    assert plan.location.startswith("https://yourapp.com/auth/ext-provider/callback?")  # app_callback
    assert (key_for(SECRET, "code", "CODE-1"), Route("legacy", "megasoft.com")) in [(k, r) for k, r, _ in entries]
    assert not any("CODE-1" in k for k, _, _ in entries)


def test_seen_names_what_learn_may_propose_and_no_secret(mapping):
    body = (
        "SAMLResponse="
        + saml_response("http://unknown-idp.example/", audience="urn:auth0:t:newco-saml").replace("+", "%2B")
    ).encode()
    view = RequestView("POST", "auth.yourapp.com", "/login/callback", "", {}, body, "application/x-www-form-urlencoded")
    d = decide(mapping, view)[1]
    assert d.seen.saml_issuer == "http://unknown-idp.example/" and "newco-saml" in d.seen.connections
    long_issuer = "http://idp.example/" + "x" * pipeline.SEEN_MAX_LEN
    body = ("SAMLResponse=" + saml_response(long_issuer).replace("+", "%2B")).encode()
    d = decide(
        mapping, RequestView("POST", "auth.yourapp.com", "/acs", "", {}, body, "application/x-www-form-urlencoded")
    )[1]
    assert d.seen.saml_issuer is None  # too long to be an id: left out, never cut
