"""Hand-built captures for the CLI tests: a mapping, SAML/JWT values, flow files (tflow +
FlowWriter) and HAR documents with a login sequence in each."""

from __future__ import annotations

import base64
import json
import zlib
from urllib.parse import quote, urlencode

PUBLIC = "auth.yourapp.com"
LEGACY = "https://yourapp.us.auth0.com"
SCALEKIT = "https://yourapp.scalekit.com"

MAPPING = """\
# Example mapping for the CLI tests.
# A comment that must survive a flip.

[router]
public_url = "https://auth.yourapp.com"   # browsers see this
default_provider = "legacy"
migration_target = "scalekit"
debug_headers = true

[providers.legacy]
kind = "auth0"
upstream = "https://yourapp.us.auth0.com"
app_callback = "https://yourapp.com/auth/ext-provider/callback"

[providers.scalekit]
kind = "scalekit"
upstream = "https://yourapp.scalekit.com"
app_callback = "https://yourapp.com/auth/scalekit/callback"
paths = ["/keys"]

# megasoft is still on the legacy provider
[orgs."megasoft.com"]
migrated = false     # flip with `sso-router migrate megasoft.com`
domains = ["megasoft.io"]
idp_entity_ids = ["http://www.okta.com/exk1megasoft"]
connections = ["megasoft-saml"]
client_ids = ["m2m-client-1"]
test_users = ["it-admin@megasoft.com"]

[orgs."newcompany.com"]
migrated = true
idp_entity_ids = ["https://sts.windows.net/newcompany-tenant/"]
connections = ["newcompany-saml", "conn_01HNEWCO"]
org_ids = ["org_01HNEWCO"]
"""

# secrets a capture carries; none may survive `redact`, none may be printed by `explain`
STATE = "st-Secret-State-0001"
RELAY = "rs-Secret-Relay-0002"
CODE = "code-Secret-0003"
ACCESS = "at-Secret-Access-0004"
REFRESH = "rt-Secret-Refresh-0005"
CLIENT_SECRET = "cs-Secret-Client-0006"
SESSION = "sess-Secret-Cookie-0007"
ASSERTION_SECRET = "Secret-Assertion-Attribute-0008"
USER_LOCAL = "alice.secretuser"
REQ_ID = "id-authn-0001"
SECRETS = (STATE, RELAY, CODE, ACCESS, REFRESH, CLIENT_SECRET, SESSION, ASSERTION_SECRET, USER_LOCAL)

NS = 'xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"'


def authn_request(id_: str = REQ_ID) -> str:
    xml = (
        f'<samlp:AuthnRequest {NS} ID="{id_}" Version="2.0" '
        f'AssertionConsumerServiceURL="https://{PUBLIC}/login/callback">'
        f"<saml:Issuer>urn:auth0:yourapp:megasoft-saml</saml:Issuer></samlp:AuthnRequest>"
    ).encode()
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return base64.b64encode(c.compress(xml) + c.flush()).decode()


def saml_response(in_response_to: str | None = REQ_ID, issuer: str = "http://www.okta.com/exk1megasoft") -> str:
    irt = f' InResponseTo="{in_response_to}"' if in_response_to else ""
    xml = (
        f'<samlp:Response {NS} ID="id-resp-1" Version="2.0"{irt} '
        f'Destination="https://{PUBLIC}/login/callback">'
        f"<saml:Issuer>{issuer}</saml:Issuer>"
        f'<saml:Assertion ID="a1" Version="2.0"><saml:Issuer>{issuer}</saml:Issuer>'
        f"<saml:Subject><saml:NameID>{USER_LOCAL}@megasoft.com</saml:NameID></saml:Subject>"
        f"<saml:Conditions><saml:AudienceRestriction><saml:Audience>urn:auth0:yourapp:megasoft-saml"
        f"</saml:Audience></saml:AudienceRestriction></saml:Conditions>"
        f'<saml:AttributeStatement><saml:Attribute Name="secret"><saml:AttributeValue>{ASSERTION_SECRET}'
        f"</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>"
        f"</saml:Assertion></samlp:Response>"
    )
    return base64.b64encode(xml.encode()).decode()


def jwt(claims: dict) -> str:
    def b(o: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(o).encode()).rstrip(b"=").decode()

    return f"{b({'alg': 'RS256', 'kid': 'k1'})}.{b(claims)}.c2lnbmF0dXJlLXNlY3JldA"


ID_TOKEN = jwt(
    {
        "iss": "https://megasoft.okta.com",
        "email": f"{USER_LOCAL}@megasoft.com",
        "sub": "u1",
        "secret_claim": "idt-Secret-Claim-0009",
    }
)


LIVE_KEY = b"the live proxy's own key"  # not the replay's: explain reads what such a cookie says


def live_cookie(provider: str = "legacy", org: str | None = "megasoft.com", expires: int = 4_000_000_000) -> str:
    """The router's cookie as the live proxy signed it (``sso_router=…``)."""
    from routing import sticky
    from routing.model import Route

    return "sso_router=" + sticky.sign(Route(provider, org), secret=LIVE_KEY, expires=expires)


def login_steps() -> list[dict]:
    """A megasoft SAML login through the router, as (request, response) dicts."""
    authn = authn_request()
    idp = f"https://megasoft.okta.com/app/sso/saml?SAMLRequest={quote(authn, safe='')}&RelayState={RELAY}"
    basic = base64.b64encode(f"app-client:{CLIENT_SECRET}".encode()).decode()
    token_body = json.dumps(
        {
            "access_token": ACCESS,
            "refresh_token": REFRESH,
            "id_token": ID_TOKEN,
            "token_type": "Bearer",
            "expires_in": 3600,
        }
    ).encode()
    return [
        dict(
            method="GET",
            path=f"/authorize?response_type=code&client_id=app-client&state={STATE}"
            f"&login_hint={USER_LOCAL}%40megasoft.com",
            status=302,
            location=f"https://yourapp.us.auth0.com/u/login?state={STATE}",
            set_cookie=f"auth0={SESSION}; Path=/; HttpOnly",
        ),
        # hosted login page: correlates by the state recorded from the Location above
        dict(
            method="GET",
            path=f"/u/login?state={STATE}",
            cookie=f"auth0={SESSION}; {live_cookie()}",
            status=302,
            location=idp,
        ),
        # an asset: nothing in it; sticky
        dict(method="GET", path="/u/assets/app.css", cookie=f"auth0={SESSION}; {live_cookie()}", status=200),
        # the IdP's cross-site POST: only InResponseTo / RelayState tie it to the login
        dict(
            method="POST",
            path="/login/callback",
            body=urlencode({"SAMLResponse": saml_response(), "RelayState": RELAY}).encode(),
            content_type="application/x-www-form-urlencoded",
            sec_fetch_site="cross-site",
            status=302,
            location=f"https://yourapp.com/callback?code={CODE}&state={STATE}",
        ),
        # the app's back end exchanges the code (nothing else names the org)
        dict(
            method="POST",
            path="/oauth/token",
            authorization=f"Basic {basic}",
            body=urlencode({"grant_type": "authorization_code", "code": CODE, "client_secret": CLIENT_SECRET}).encode(),
            content_type="application/x-www-form-urlencoded",
            status=200,
            resp_body=token_body,
            resp_type="application/json",
        ),
        dict(
            method="GET",
            path="/userinfo",
            authorization=f"Bearer {ACCESS}",
            status=200,
            resp_body=json.dumps({"email": f"{USER_LOCAL}@megasoft.com"}).encode(),
            resp_type="application/json",
        ),
        # a host the mapping does not serve
        dict(method="GET", path="/authorize?client_id=x", host="evil.example.com", status=404),
    ]


EXPECTED = [  # (method, path, provider, reason, org)
    ("GET", "/authorize", "legacy", "org", "megasoft.com"),
    ("GET", "/u/login", "legacy", "correlation", "megasoft.com"),
    ("GET", "/u/assets/app.css", "legacy", "sticky", "megasoft.com"),
    ("POST", "/login/callback", "legacy", "correlation", "megasoft.com"),
    ("POST", "/oauth/token", "legacy", "correlation", "megasoft.com"),
    ("GET", "/userinfo", "legacy", "correlation", "megasoft.com"),
]


def _headers(step: dict) -> list[tuple[str, str]]:
    h = [("Host", step.get("host", PUBLIC)), ("User-Agent", "Mozilla/5.0 test")]
    for key, name in (
        ("cookie", "Cookie"),
        ("authorization", "Authorization"),
        ("content_type", "Content-Type"),
        ("sec_fetch_site", "Sec-Fetch-Site"),
    ):
        if key in step:
            h.append((name, step[key]))
    return h


def write_flow_file(path, steps: list[dict], *, t0: float = 1_700_000_000.0) -> None:
    from mitmproxy import http, io
    from mitmproxy.test import tflow

    with open(path, "wb") as f:
        w = io.FlowWriter(f)
        for i, s in enumerate(steps):
            flow = tflow.tflow()
            # as mitmdump in reverse mode records it: the placeholder upstream in request.host
            req = http.Request.make(
                s["method"],
                "https://legacy.invalid" + s["path"],
                s.get("body", b""),
                [(k.encode(), v.encode()) for k, v in _headers(s)],
            )
            req.headers["Host"] = s.get("host", PUBLIC)  # make() put the URL's host there
            req.timestamp_start = req.timestamp_end = t0 + i
            flow.request = req
            rh = []
            if "location" in s:
                rh.append(("Location", s["location"]))
            if "set_cookie" in s:
                rh.append(("Set-Cookie", s["set_cookie"]))
            if "resp_type" in s:
                rh.append(("Content-Type", s["resp_type"]))
            flow.response = http.Response.make(
                s["status"], s.get("resp_body", b""), [(k.encode(), v.encode()) for k, v in rh]
            )
            flow.response.timestamp_start = flow.response.timestamp_end = t0 + i + 0.5
            if "recorded" in s:  # the decision the router noted in the flow (mitmdump -w through it)
                provider, reason, org = s["recorded"]
                flow.metadata["sso_router"] = {
                    "provider": provider,
                    "reason": reason,
                    "org": org,
                    "identifier": s.get("identifier", "x"),
                    "forwarded_to": provider,
                    "shadow": False,
                    "upstream": "https://up.invalid",
                }
            w.add(flow)


def har_document(steps: list[dict], *, broken: bool = True, cookies: bool = False) -> dict:
    """Exported sanitized (no cookies), as Chrome does by default, unless ``cookies``."""
    entries = []
    for i, s in enumerate(steps):
        url = f"https://{s.get('host', PUBLIC)}{s['path']}"
        req: dict = {
            "method": s["method"],
            "url": url,
            "httpVersion": "HTTP/2",
            "headers": [{"name": k, "value": v} for k, v in _headers(s) if k != "Host" and (cookies or k != "Cookie")],
            "cookies": [],
            "queryString": [],
            "headersSize": -1,
            "bodySize": 0,
        }
        if "body" in s:  # Firefox style: params only, no text
            from urllib.parse import parse_qsl

            req["postData"] = {
                "mimeType": s["content_type"],
                "params": [{"name": k, "value": v} for k, v in parse_qsl(s["body"].decode())],
            }
        resp_headers = [{"name": "Location", "value": s["location"]}] if "location" in s else []
        if "set_cookie" in s and cookies:
            resp_headers.append({"name": "Set-Cookie", "value": s["set_cookie"]})
        content = {"size": 0, "mimeType": s.get("resp_type", "text/html")}
        if "resp_body" in s:
            content["text"] = s["resp_body"].decode()
        entries.append(
            {
                "startedDateTime": f"2024-01-01T00:00:{i:02d}.000Z",
                "time": 10,
                "request": req,
                "response": {
                    "status": s["status"],
                    "statusText": "",
                    "httpVersion": "HTTP/2",
                    "headers": resp_headers,
                    "cookies": [],
                    "content": content,
                    "redirectURL": s.get("location", ""),
                    "headersSize": -1,
                    "bodySize": -1,
                },
                "cache": {},
                "timings": {"send": 0, "wait": 0, "receive": 0},
                "_initiator": {"type": "other", "url": url},
            }
        )
    if broken:
        entries.insert(2, {"startedDateTime": "2024-01-01T00:00:01.500Z", "request": {"method": "GET"}})
    return {
        "log": {
            "version": "1.2",
            "creator": {"name": "test", "version": "1"},
            "pages": [{"title": f"https://{PUBLIC}/authorize?state={STATE}"}],
            "entries": entries,
        }
    }
