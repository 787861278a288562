"""SCIM on the auth domain (issue 18 point 3): a customer's IdP keeps pushing users to the SCIM URL
it was given (WorkOS serves SCIM on the custom Authentication API domain). The router routes a SCIM
request by the directory id in its path (``directories``) or by the SHA-256 of its bearer token
(``scim_token_sha256``), else ``default_provider``; the org's provider follows ``migrated``. The
requests reach the provider byte for byte; the token itself is in no log line."""

from __future__ import annotations

import hashlib
import json

import pytest
import requests

TOKENS = {"megasoft": "scim-token-megasoft-5f0c2a", "newco": "scim-token-newco-81d3e9"}
DIRS = {"megasoft": "directory_01MEGASOFT", "newco": "directory_01NEWCO"}


def configure_mapping(mapping, world):
    mapping["orgs"]["megasoft.com"]["directories"] = [DIRS["megasoft"]]  # by the path
    mapping["orgs"]["newcompany.com"]["scim_token_sha256"] = [hashlib.sha256(TOKENS["newco"].encode()).hexdigest()]
    for prov in (world.legacy, world.scalekit):  # both providers serve both directories (a migrated directory)
        for org in ("megasoft", "newco"):
            prov.add_directory(DIRS[org], TOKENS[org])


def scim(proxy, method: str, org: str, resource: str, body: dict) -> tuple[requests.Response, bytes]:
    raw = json.dumps(body, separators=(", ", ": ")).encode()  # spacing of its own: byte-for-byte is checked
    r = requests.request(
        method,
        f"{proxy.url}/scim/v2.0/{DIRS[org]}/{resource}",
        data=raw,
        timeout=10,
        headers={"Authorization": f"Bearer {TOKENS[org]}", "Content-Type": "application/scim+json"},
    )
    return r, raw


USER = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    "userName": "bob@megasoft.com",
    "name": {"givenName": "Bob", "familyName": "B"},
    "emails": [{"value": "bob@megasoft.com", "primary": True}],
    "active": True,
}
PATCH = {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{"op": "add", "path": "members", "value": [{"value": "user_1"}]}],
}


@pytest.mark.parametrize(
    "org, provider, identifier",
    [
        ("megasoft", "legacy", "SCIM directory in the path"),  # legacy org, routed by its directory id
        ("newco", "scalekit", "SCIM bearer token (SHA-256)"),  # migrated org, routed by its token's hash
    ],
)
def test_scim_requests_reach_the_orgs_provider_byte_for_byte(peers, proxy, org, provider, identifier):
    for method, resource, body in (("POST", "Users", USER), ("PATCH", "Groups/grp_01ENG", PATCH)):
        r, raw = scim(proxy, method, org, resource, body)
        assert r.status_code in (200, 201) and r.headers.get("x-peer") == provider, (r.status_code, r.text[:200])
        got = [
            rec
            for p in (peers.legacy, peers.scalekit)
            for rec in p.server.records
            if rec.path == f"/scim/v2.0/{DIRS[org]}/{resource}" and rec.method == method
        ]
        assert len(got) == 1 and got[0].accepted, got
        assert got[0].body == raw and got[0].headers["authorization"] == f"Bearer {TOKENS[org]}"
        d = proxy.decision_for(method, f"/scim/v2.0/{DIRS[org]}/{resource}")
        assert (d["provider"], d["reason"], d["identifier"]) == (provider, "org", identifier), d
        peers.clear()


def test_an_unknown_directory_goes_to_the_default_provider(peers, proxy):
    r = requests.post(
        f"{proxy.url}/scim/v2.0/directory_01UNKNOWN/Users",
        data=b"{}",
        timeout=10,
        headers={"Authorization": "Bearer some-other-token", "Content-Type": "application/scim+json"},
    )
    assert r.headers.get("x-peer") == "legacy"
    d = proxy.decision_for("POST", "/scim/v2.0/directory_01UNKNOWN/Users")
    assert (d["provider"], d["reason"]) == ("legacy", "default"), d


def test_no_scim_token_reaches_a_log(peers, proxy):
    for org in ("megasoft", "newco"):
        scim(proxy, "POST", org, "Users", USER)
    text = proxy.decision_log.read_text() + proxy.stdout_path.read_text() + proxy.stderr_path.read_text()
    assert all(t not in text for t in TOKENS.values())
