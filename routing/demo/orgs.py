"""The demo's two customer orgs: who logs in, at which IdP, with which connection at each provider."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DemoOrg:
    domain: str  # the mapping's org key
    user: str  # who the app offers to log in
    idp_slug: str
    idp_product: str
    idp_entity_id: str  # what the router matches (idp_entity_ids)
    sp_entity_id: str  # what the customer's IdP has for the auth domain, kept across the migration
    legacy_connection: str
    scalekit_connection: str
    migrated: bool  # at the start of the demo


ORGS = (
    DemoOrg(
        "megasoft.com",
        "bob@megasoft.com",
        "megasoft",
        "Okta",
        "http://www.okta.com/exk1megasoft",
        "urn:auth0:yourapp:megasoft-saml",
        "megasoft-saml",
        "conn_01HMEGASOFT",
        migrated=False,
    ),
    DemoOrg(
        "newcompany.com",
        "carol@newcompany.com",
        "newcompany",
        "Entra ID",
        "https://sts.windows.net/newcompany-tenant/",
        "urn:auth0:yourapp:newcompany-saml",
        "newcompany-saml",
        "conn_01HNEWCO",
        migrated=True,
    ),
)
