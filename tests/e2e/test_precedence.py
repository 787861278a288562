"""The whole identifier precedence (CONTRACT "Routing" 4: "Where two identifiers name different orgs,
the precedence is documented and the decision record says which one won"), through the real mitmdump:
for every pair of levels, one request carries both, each naming another org, and the higher level's
org wins — in the decision record, its ``identifier`` and the provider the request reached — both
ways round. Run with test users in the mapping and without (then a SAML Response whose Issuer names
an org is read only up to its Issuer: the shortcut must give the same winners).

Where the order comes from: ``PRECEDENCE`` below, today the README's table (checked against the
identifier texts it documents). When the core holds the precedence as one table (issue 14.3), that
line becomes ``PRECEDENCE = [(rule.clue, rule.index) for rule in <the core's table>]`` — each row
is keyed by the ``Clues`` field it reads and the ``Mapping`` index it matches, the two things the
core's table names — and nothing else here changes.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from routing.precedence import RULES
from tests.unit.samples import jwt as unsigned_jwt

from .proxy import Mitmdump

README = Path(__file__).resolve().parents[2] / "README.md"
Row = tuple[str, str]  # (Clues field, Mapping index)


def readme_precedence() -> list[Row]:
    """The README's precedence table, in its order, as (Clues field, Mapping index) rows."""
    text = README.read_text()
    start = text.index("Identifiers, in the precedence used")
    rows = []
    for line in text[start:].splitlines()[1:]:
        m = re.match(r"\| (\d+) \| (.+?) \| (.+?) \|$", line)
        if m:
            rows.append((int(m.group(1)), m.group(2), m.group(3)))
        elif rows and not line.startswith("|"):
            break
    assert [n for n, _, _ in rows] == list(range(1, len(rows) + 1)), rows
    return [_row_of(identifier, matches) for _, identifier, matches in rows]


def _row_of(identifier: str, matches: str) -> Row:
    """What the README says a row reads and matches, in the core's words."""
    if matches == "`test_users`":
        return ("emails", "by_test_user")
    if matches == "`directories`":
        return ("directories", "by_directory")
    if matches == "`scim_token_sha256`":
        return ("scim_tokens", "by_scim_token")
    if "in the path" in identifier:
        return ("path_connections", "by_connection")
    if "Audience" in identifier:
        return ("saml_connections", "by_connection")
    if "idp_identifier" in identifier:
        return ("idp_identifiers", "by_connection")
    if "`connection`" in identifier:
        return ("connections", "by_connection")
    if matches == "`org_ids`":
        return ("org_ids", "by_org_id")
    if matches == "`idp_entity_ids`":
        return ("entity_ids", "by_entity_id")
    if matches == "`oidc_issuers`":
        return ("issuers", "by_issuer")
    if matches == "`client_ids`":
        return ("client_ids", "by_client_id")
    if "domain_hint" in identifier:
        return ("domains", "by_domain")
    if "email's domain" in identifier:
        return ("emails", "by_domain")

    raise AssertionError(f"a README precedence row this test cannot carry: {identifier!r} → {matches!r}")


# the core's table (routing/precedence.py); the README shows the same (tests/unit/test_precedence.py),
# which readme_precedence() reads back here as a second check
PRECEDENCE: list[Row] = [(r.clues, f"by_{r.lookups[0].index}") for r in RULES]


# -- two orgs, each named by every kind of identifier ---------------------------------------------

ORGS = ("alpha.test", "beta.test")


def ids(org: str) -> dict[str, str]:
    s = org.split(".")[0]
    return {
        "test_user": f"qa@{org}",
        "connection": f"{s}-conn",
        "idp_identifier": f"{s}-cognito",
        "path_connection": f"{s}-workos",
        "org_id": f"org_{s}",
        "entity_id": f"http://idp.{s}.test/",
        "audience_connection": f"{s}-aud",
        "oidc_issuer": f"https://oidc.{s}.test",
        "client_id": f"client-{s}",
        "domain": org,
        "email": f"user@{org}",
        "directory": f"directory_{s}",
        "scim_token": f"scim-token-{s}",
    }


def mapping(base: dict, *, test_users: bool) -> dict:
    m = dict(base)
    m["orgs"] = {}
    for org, migrated in zip(ORGS, (True, False), strict=False):  # alpha → scalekit, beta → legacy
        i = ids(org)
        m["orgs"][org] = {
            "migrated": migrated,
            "idp_entity_ids": [i["entity_id"]],
            "oidc_issuers": [i["oidc_issuer"]],
            "connections": [i["connection"], i["idp_identifier"], i["path_connection"], i["audience_connection"]],
            "org_ids": [i["org_id"]],
            "client_ids": [i["client_id"]],
            "directories": [i["directory"]],
            "scim_token_sha256": [hashlib.sha256(i["scim_token"].encode()).hexdigest()],
            **({"test_users": [i["test_user"]]} if test_users else {}),
        }
    return m


@dataclass
class Request:
    path: str = "/precedence"
    form: dict[str, str] = field(default_factory=dict)
    issuer: str | None = None  # of a posted SAMLResponse, when a row puts one in
    audience: str | None = None
    name_id: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Carrier:
    """One way a row's identifier travels: the part of the request it takes (``slot``: two
    carriers with one slot cannot share a request), how it is put there, the decision's label."""

    slot: str
    put: object  # (Request, ids) -> None
    label: str


def _form(name: str, key: str):
    return lambda r, i: r.form.update({name: i[key]})


def _set(attr: str, value):
    return lambda r, i: setattr(r, attr, value(i))


CARRIERS: dict[Row, list[Carrier]] = {
    ("emails", "by_test_user"): [
        Carrier("login_hint", _form("login_hint", "test_user"), "test user (login_hint)"),
        Carrier("name_id", _set("name_id", lambda i: i["test_user"]), "test user (SAML NameID)"),
    ],
    ("connections", "by_connection"): [Carrier("connection", _form("connection", "connection"), "connection")],
    ("idp_identifiers", "by_connection"): [
        Carrier("idp_identifier", _form("idp_identifier", "idp_identifier"), "idp_identifier")
    ],
    ("path_connections", "by_connection"): [
        Carrier("path", _set("path", lambda i: f"/sso/saml/acs/{i['path_connection']}"), "path connection (WorkOS ACS)")
    ],
    ("org_ids", "by_org_id"): [Carrier("organization", _form("organization", "org_id"), "organization")],
    ("entity_ids", "by_entity_id"): [Carrier("issuer", _set("issuer", lambda i: i["entity_id"]), "SAML Issuer")],
    ("saml_connections", "by_connection"): [
        Carrier(
            "audience",
            _set("audience", lambda i: f"urn:auth0:yourapp:{i['audience_connection']}"),
            "SAML Audience connection",
        )
    ],
    ("issuers", "by_issuer"): [
        Carrier(
            "id_token", lambda r, i: r.form.update(id_token=unsigned_jwt({"iss": i["oidc_issuer"]})), "id_token iss"
        )
    ],
    ("client_ids", "by_client_id"): [Carrier("client_id", _form("client_id", "client_id"), "client_id")],
    ("domains", "by_domain"): [Carrier("domain_hint", _form("domain_hint", "domain"), "domain_hint")],
    # a SCIM request names its directory in the path, or is known by its bearer token: both take the path
    ("directories", "by_directory"): [
        Carrier("path", _set("path", lambda i: f"/scim/v2.0/{i['directory']}/Users"), "SCIM directory in the path")
    ],
    ("scim_tokens", "by_scim_token"): [
        Carrier(
            "path",
            lambda r, i: (
                setattr(r, "path", "/scim/v2.0/Users"),
                r.headers.update(authorization=f"Bearer {i['scim_token']}"),
            ),
            "SCIM bearer token (SHA-256)",
        )
    ],
    ("emails", "by_domain"): [
        Carrier("username", _form("username", "email"), "username domain"),
        Carrier("name_id", _set("name_id", lambda i: i["email"]), "SAML NameID domain"),
    ],
}

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"


def saml_response(issuer: str | None, audience: str | None, name_id: str | None) -> str:
    issuer = issuer or "http://idp.nobody.test/"
    xml = (
        f'<samlp:Response xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" ID="_p1" Version="2.0">'
        f'<saml:Issuer>{issuer}</saml:Issuer><saml:Assertion ID="_a1" Version="2.0">'
        f"<saml:Issuer>{issuer}</saml:Issuer><saml:Subject><saml:NameID>{name_id or 'opaque-id'}"
        f"</saml:NameID></saml:Subject><saml:Conditions><saml:AudienceRestriction><saml:Audience>"
        f"{audience or 'urn:nobody'}</saml:Audience></saml:AudienceRestriction></saml:Conditions>"
        f"</saml:Assertion></samlp:Response>"
    )
    return base64.b64encode(xml.encode()).decode()


def build(named: list[tuple[Carrier, str]]) -> Request:
    req = Request()
    for carrier, org in named:
        carrier.put(req, ids(org))
    if req.issuer or req.audience or req.name_id:
        req.form["SAMLResponse"] = saml_response(req.issuer, req.audience, req.name_id)
    return req


# -- the proxies: one mapping with test users, one without ----------------------------------------


@pytest.fixture(scope="module")
def proxies(world, tmp_path_factory):
    started = {}
    try:
        for variant in ("with test users", "without test users"):
            m = mapping(world.base_mapping(), test_users=variant == "with test users")
            px = Mitmdump(tmp_path_factory.mktemp("precedence"), 0, m, name=variant.replace(" ", "-"))
            started[variant] = px
            px.start()
        yield started
    finally:
        for px in started.values():
            px.stop(drain=False)


def test_every_row_is_carried():
    assert set(PRECEDENCE) <= set(CARRIERS), set(PRECEDENCE) - set(CARRIERS)
    assert len(PRECEDENCE) == len(set(PRECEDENCE)) == len(RULES)
    assert readme_precedence() == PRECEDENCE  # the README documents the order the core follows


def _cases(variant: str):
    rows = PRECEDENCE if variant == "with test users" else [r for r in PRECEDENCE if r[1] != "by_test_user"]
    for hi, lo in itertools.combinations(rows, 2):
        for a, b in itertools.product(CARRIERS[hi], CARRIERS[lo]):
            if a.slot != b.slot:
                yield variant, hi, a, lo, b


CASES = [*_cases("with test users"), *_cases("without test users")]


@pytest.mark.parametrize(
    "variant, higher, carrier, lower, other",
    CASES,
    ids=[f"{v.split()[0]}-{h[0]}.{h[1]}({a.slot})>{lo[0]}.{lo[1]}({b.slot})" for v, h, a, lo, b in CASES],
)
def test_the_higher_level_wins(world, proxies, variant, higher, carrier, lower, other):
    px = proxies[variant]
    for winner, loser in (ORGS, ORGS[::-1]):
        req = build([(carrier, winner), (other, loser)])
        since = px.mark()
        r = requests.post(px.url + req.path, data=req.form, headers=req.headers, allow_redirects=False, timeout=10)
        d = px.decision_for("POST", req.path, since=since)
        test_user = higher == ("emails", "by_test_user")
        provider = "scalekit" if test_user or winner == "alpha.test" else "legacy"
        assert (d["org"], d["identifier"], d["reason"]) == (winner, carrier.label, "org"), (
            f"{higher} naming {winner} vs {lower} naming {loser}: decided {d}; sent {json.dumps(req.form)[:300]}"
        )
        assert d["provider"] == provider and r.headers.get("x-peer") == provider, (d, r.headers)
