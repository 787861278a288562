"""Each provider's export (tests/fixtures/exports/<provider>/, shapes cited in its README) →
the orgs ``import`` would write, what it leaves out, what waits for ``--key``, what conflicts."""

from __future__ import annotations

import json
import pathlib

import pytest

from routing.mapping_loader import load_mapping
from routing.onboard import auth0, cognito, firebase, workos
from routing.onboard.drafts import ExportError, is_domain
from routing.onboard.metadata import MetadataError, MetadataSource, idp_entity_id
from routing.onboard.plan import make_plan

EXPORTS = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "exports"

EMPTY_MAPPING = b"""
[router]
public_url = "https://auth.yourapp.com"
default_provider = "legacy"
migration_target = "scalekit"

[providers.legacy]
kind = "auth0"
upstream = "https://yourapp.us.auth0.com"

[providers.scalekit]
kind = "scalekit"
upstream = "https://yourapp.scalekit.com"

[orgs."unrelated.com"]
connections = ["unrelated-saml"]
"""


def docs(provider: str) -> list[tuple[str, object]]:
    return [(p.name, json.loads(p.read_text())) for p in sorted((EXPORTS / provider).glob("*.json"))]


def read(provider: str):
    off = MetadataSource(fetch_urls=False)
    return {
        "auth0": lambda d: auth0.read(d, off),
        "workos": workos.read,
        "cognito": lambda d: cognito.read(d, off),
        "firebase": firebase.read,
    }[provider](docs(provider))


def outcome(provider: str, keys: dict[str, str] | None = None) -> dict:
    r = read(provider)
    plan = make_plan(load_mapping(EMPTY_MAPPING), r.drafts, keys)
    return {
        "new": {c.org: c.values for c in plan.changes if c.new},
        "added": {c.org: c.values for c in plan.changes if not c.new},
        "unkeyed": sorted(d.names[0] for d in plan.unkeyed),
        "left_out": sorted(x.what for x in r.left_out),
        "conflicts": sorted((c.field, c.value) for c in plan.conflicts),
        "notes": r.notes,
    }


CASES = {
    "auth0": {
        "new": {
            "acme.com": {
                "domains": ["acme.io"],
                "oidc_issuers": ["https://acme.okta.com"],
                "connections": ["acme-saml", "con_AcMeSaml0000001", "acme-okta", "con_AcMeOkTa0000001"],
                "org_ids": ["org_AcMe0000000001", "acme"],
            },
            # waad: no domain_aliases, so tenant_domain; the organization's verified discovery domain is the key
            "globex.com": {
                "domains": ["globex.onmicrosoft.com"],
                "connections": ["globex-waad", "con_GlObEx00000001"],
                "org_ids": ["org_GlObEx00000001", "globex"],
            },
            # metadata only at a URL (adfs_server): no entity id unless fetched
            "hooli.com": {"connections": ["hooli-adfs", "con_HoOlI000000001"]},
            # samlp entityId: Auth0's own SP entity id, an Audience -> connections, never idp_entity_ids
            "initech.com": {"connections": ["initech-saml", "con_InItEcH0000001", "urn:initech:auth0-sp"]},
            # metadataXml is the IdP's own metadata: it names the IdP
            "piedpiper.com": {
                "idp_entity_ids": ["http://www.okta.com/exkPiedPiper"],
                "connections": ["piedpiper-saml", "con_PiEdPiPeR000001"],
            },
        },
        "unkeyed": ["org_UmBrElLa000001"],  # an OIDC connection with no domain, joined to its organization
        "left_out": [
            'connection "Username-Password-Authentication" (auth0)',
            'connection "google-oauth2" (google-oauth2)',
            'organization "retail-co"',
        ],
        "conflicts": [],
    },
    "workos": {
        "new": {
            # two connections of one organization, and its directory, are one org
            "acme.com": {
                "connections": ["conn_01HACMESAML0000000000000", "conn_01HACMEOIDC0000000000000"],
                "org_ids": ["org_01HACME000000000000000000"],
                "directories": ["directory_01HACME0000000000000"],
            },
            "globex.com": {
                "connections": ["conn_01HGLOBEX00000000000000"],
                "org_ids": ["org_01HGLOBEX0000000000000000"],
            },
            "hooli.com": {
                "org_ids": ["org_01HHOOLI00000000000000000"],
                "directories": ["directory_01HHOOLI000000000000"],
            },
        },
        "unkeyed": ["org_01HSTARK00000000000000000"],
        "left_out": ['connection "Google OAuth" (GoogleOAuth)'],
        "conflicts": [("domains", "shared-domain.com")],  # verified in two organizations
    },
    "cognito": {
        "new": {
            # two SAML IdPs of one customer (same domain identifier); one's metadata only a URL
            "acme.com": {
                "idp_entity_ids": ["http://www.okta.com/exkAcmeCognito"],
                "connections": ["AcmeEntra", "AcmeOkta", "acme-okta"],
            },
            "globex.com": {"oidc_issuers": ["https://globex.okta.com"], "connections": ["GlobexOIDC"]},
        },
        "unkeyed": ["Initech"],
        "left_out": ['identity provider "Google" (Google)'],
        "conflicts": [],
    },
    "firebase": {
        "new": {},  # Identity Platform stores no email domain
        "unkeyed": ["globex-x7k2p", "oidc.acme-okta", "saml.acme", "saml.hooli"],
        "left_out": [],
        "conflicts": [],
    },
}


@pytest.mark.parametrize("provider", sorted(CASES))
def test_export_to_orgs(provider):
    got = outcome(provider)
    want = CASES[provider]
    assert got["new"] == want["new"]
    assert got["added"] == {}
    assert got["unkeyed"] == want["unkeyed"]
    assert got["left_out"] == want["left_out"]
    assert got["conflicts"] == want["conflicts"]


def test_auth0_notes_say_what_the_export_cannot_tell():
    notes = "\n".join(outcome("auth0")["notes"])
    assert 'connection "acme-saml" (samlp): Auth0 keeps no IdP entity id' in notes
    assert "FederationMetadata.xml: not fetched (--fetch-metadata" in notes
    assert "'globex.net' is not verified" in notes


def test_keys_give_unkeyed_orgs_their_domain_and_join_them():
    got = outcome("firebase", {"saml.acme": "acme.com", "oidc.acme-okta": "acme.com", "globex-x7k2p": "globex.com"})
    assert got["new"] == {
        "acme.com": {
            "idp_entity_ids": ["https://sts.windows.net/acme-tenant/"],
            "oidc_issuers": ["https://acme.okta.com"],
            "connections": ["oidc.acme-okta", "saml.acme"],
        },
        # a tenant's configs are one org; its id is the org id the sign-in calls carry
        "globex.com": {
            "idp_entity_ids": ["http://www.okta.com/exkGlobex"],
            "oidc_issuers": ["https://login.microsoftonline.com/globex-tenant/v2.0"],
            "connections": ["oidc.globex-azure", "saml.globex"],
            "org_ids": ["globex-x7k2p"],
        },
    }
    assert got["unkeyed"] == ["saml.hooli"]
    auth0_keyed = outcome("auth0", {"umbrella-oidc": "umbrella.example"})
    assert auth0_keyed["new"]["umbrella.example"]["org_ids"] == ["org_UmBrElLa000001", "umbrella"]


def test_one_page_read_twice_counts_once():
    r = auth0.read(docs("auth0") + docs("auth0")[:1], MetadataSource(False))
    assert r.counts == {"connections": 9, "organizations": 4}


def test_secrets_in_an_export_never_reach_a_draft():
    for provider in CASES:
        for d in read(provider).drafts:
            assert "PLACEHOLDER-not-a-secret" not in json.dumps(d.values), provider


@pytest.mark.parametrize(
    "provider, doc, msg",
    [
        ("auth0", {"enabled_connections": []}, "does not say whose it is"),
        ("auth0", {"users": []}, "not an Auth0 Management API"),
        ("workos", {"object": "list", "data": [{"object": "user", "id": "u"}]}, "neither WorkOS"),
        ("cognito", {"Providers": [{"ProviderName": "x"}]}, "describe-identity-provider for each"),
        ("firebase", {"users": []}, "not an Identity Platform"),
    ],
)
def test_a_file_of_the_wrong_shape_is_refused_with_its_name(provider, doc, msg):
    off = MetadataSource(False)
    reader = {
        "auth0": lambda d: auth0.read(d, off),
        "workos": workos.read,
        "cognito": lambda d: cognito.read(d, off),
        "firebase": firebase.read,
    }[provider]
    with pytest.raises(ExportError, match=msg) as e:
        reader([("page.json", doc)])
    assert "page.json" in str(e.value) or provider == "firebase"


def test_metadata_entity_id_through_the_hardened_parser():
    md = (EXPORTS / "cognito" / "idp-AcmeOkta.json").read_text()
    assert (
        idp_entity_id(json.loads(md)["IdentityProvider"]["ProviderDetails"]["MetadataFile"])
        == "http://www.okta.com/exkAcmeCognito"
    )
    with pytest.raises(MetadataError, match="DTD"):
        idp_entity_id('<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>')
    with pytest.raises(MetadataError, match=r"not SAML 2\.0 metadata"):
        idp_entity_id("<EntityDescriptor entityID='x'/>")
    two = (
        '<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">'
        + '<md:EntityDescriptor entityID="a"><md:IDPSSODescriptor/></md:EntityDescriptor>' * 2
        + "</md:EntitiesDescriptor>"
    )
    with pytest.raises(MetadataError, match="2 identity providers"):
        idp_entity_id(two)


@pytest.mark.parametrize(
    "value, ok",
    [
        ("acme.com", True),
        ("sub.acme.co.uk", True),
        ("xn--bcher-kva.de", True),
        ("acme", False),
        ("https://acme.com", False),
        ("a@acme.com", False),
        ("10.0.0.1", False),
        ("acme.com:443", False),
        ("-acme.com", False),
    ],
)
def test_is_domain(value, ok):
    assert is_domain(value) is ok
