"""Builders of sample requests and messages for the unit tables."""

from __future__ import annotations

import base64
import json
import zlib

MAPPING = b"""
[router]
public_url = "https://auth.yourapp.com"
default_provider = "legacy"
migration_target = "scalekit"
hosts = ["localhost"]

[providers.legacy]
kind = "auth0"
upstream = "https://yourapp.us.auth0.com"
app_callback = "https://yourapp.com/auth/ext-provider/callback"

[providers.scalekit]
kind = "scalekit"
upstream = "https://yourapp.scalekit.com:8443"
app_callback = "https://yourapp.com/auth/scalekit/callback"
paths = ["/keys"]

[orgs."megasoft.com"]
migrated = false
domains = ["megasoft.io"]
idp_entity_ids = ["http://www.okta.com/exk1megasoft"]
oidc_issuers = ["https://megasoft.okta.com"]
connections = ["megasoft-saml", "conn_01HMEGA"]
org_ids = ["org_01HMEGA"]
client_ids = ["m2m-client-1"]
test_users = ["it-admin@megasoft.com"]

[orgs."newcompany.com"]
migrated = true
domains = ["newco.io"]
idp_entity_ids = ["https://sts.windows.net/newco/"]
oidc_issuers = ["https://newco.okta.com"]
connections = ["newco-saml", "conn_01HNEWCO", "us-east-1_pool-newco"]
org_ids = ["org_01HNEWCO", "tenant-newco"]
client_ids = ["m2m-newco"]
target_paths = { "/login/callback" = "/sso/v1/saml/conn_01HNEWCO/acs" }
"""


def jwt(claims: dict, header: dict | None = None) -> str:
    def seg(o: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(o).encode()).rstrip(b"=").decode()

    return f"{seg(header or {'alg': 'RS256', 'typ': 'JWT'})}.{seg(claims)}.c2ln"


SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"


def saml_response(
    issuer: str,
    *,
    in_response_to: str | None = None,
    name_id: str = "u@x.test",
    audience: str = "urn:auth0:yourapp:megasoft-saml",
    destination: str = "",
) -> str:
    irt = f' InResponseTo="{in_response_to}"' if in_response_to else ""
    dest = f' Destination="{destination}"' if destination else ""
    xml = (
        f'<samlp:Response xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" ID="_r1" Version="2.0"{irt}{dest}>'
        f'<saml:Issuer>{issuer}</saml:Issuer><saml:Assertion ID="_a1"><saml:Issuer>{issuer}</saml:Issuer>'
        f"<saml:Subject><saml:NameID>{name_id}</saml:NameID></saml:Subject><saml:Conditions>"
        f"<saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction>"
        f"</saml:Conditions></saml:Assertion></samlp:Response>"
    )
    return base64.b64encode(xml.encode()).decode()


def authn_request(issuer: str, req_id: str = "_req1", destination: str = "https://idp.test/sso") -> str:
    xml = (
        f'<samlp:AuthnRequest xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" ID="{req_id}" Version="2.0" '
        f'Destination="{destination}"><saml:Issuer>{issuer}</saml:Issuer></samlp:AuthnRequest>'
    )
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return base64.b64encode(c.compress(xml.encode()) + c.flush()).decode()
