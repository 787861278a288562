"""Identifier precedence, as data: which clue names an org when two in one request disagree.

``RULES`` is the one statement of the order. ``decide.find_org`` walks it; the SAML-head shortcut's
condition (``head_suffices``) is derived from it; so are ``find_org``'s docstring and the README's
precedence table (``markdown_table``; tests/unit/test_precedence.py fails when the README drifts).

Explicit names the app or provider put in the request come before what an IdP asserted, and exact
ids before domains, which users can share across orgs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, NamedTuple

# the Mapping index a rule looks in (``Mapping.by_<name>``)
Index = Literal[
    "test_user", "connection", "domain", "org_id", "entity_id", "issuer", "client_id", "directory", "scim_token"
]


def _exact(v: str) -> str:
    return v


def _lower(v: str) -> str:
    return v.lower()


def _email_domain(v: str) -> str:
    return v.rsplit("@", 1)[-1].strip().lower()


@dataclass(frozen=True, slots=True)  # not a NamedTuple: its ``index`` field would shadow ``tuple.index``
class Lookup:
    index: Index
    key: Callable[[str], str]  # the clue's value as the index keys it


class Rule(NamedTuple):
    identifier: str  # what it is, in the README's words
    clues: str  # the ``Clues`` field it reads
    lookups: tuple[Lookup, ...]  # tried in order, for each clue in turn
    matches: str  # the mapping keys it matches, in the README's words
    evidence_suffix: str = ""  # appended to the clue's label in the decision record
    test_user: bool = False  # a hit sends the org's test user to the migration target


RULES: tuple[Rule, ...] = (
    Rule(
        "an email (`login_hint`, `username`, `email`, email-form SAML NameID, `email` of a posted id_token)",
        "emails",
        (Lookup("test_user", _lower),),
        "`test_users`",
        test_user=True,
    ),
    Rule(
        "`connection`, `connection_id`, Cognito `identity_provider`, Firebase `providerId`",
        "connections",
        (Lookup("connection", _exact),),
        "`connections`",
    ),
    Rule(
        "Cognito `idp_identifier`",
        "idp_identifiers",
        (Lookup("connection", _exact), Lookup("domain", _lower)),
        "`connections`, then org key / `domains`",
    ),
    Rule(
        "a connection id in the path: WorkOS `/sso/saml/acs/<id>`, a Scalekit `conn_…` segment",
        "path_connections",
        (Lookup("connection", _exact),),
        "`connections`",
    ),
    Rule(
        "a SCIM directory id in the path (`…/scim/v2…` URLs, e.g. WorkOS `directory_…`)",
        "directories",
        (Lookup("directory", _exact),),
        "`directories`",
    ),
    Rule(
        "the SHA-256 of a SCIM request's bearer token (SCIM paths only; the token itself is never kept)",
        "scim_tokens",
        (Lookup("scim_token", _lower),),
        "`scim_token_sha256`",
    ),
    Rule(
        "`organization`, `organization_id`, Identity Platform `tid` / `tenantId` (also a posted id_token's `tid`)",
        "org_ids",
        (Lookup("org_id", _exact),),
        "`org_ids`",
    ),
    Rule(
        "the SAML Issuer (Response's own, else the Assertion's; AuthnRequest, LogoutRequest/Response), trimmed",
        "entity_ids",
        (Lookup("entity_id", _exact),),
        "`idp_entity_ids`",
    ),
    Rule(
        "the connection in a SAML Audience (`urn:auth0:TENANT:CONNECTION`) or Destination (`?connection=`, path id); "
        "an Audience whole (a connection's custom SP entity id)",
        "saml_connections",
        (Lookup("connection", _exact),),
        "`connections`",
    ),
    Rule(
        "`iss` of a posted `id_token` (form_post), or of an `id_token_hint` that correlates nothing",
        "issuers",
        (Lookup("issuer", _exact),),
        "`oidc_issuers`",
    ),
    Rule(
        "`client_id` (query, form, JSON, HTTP Basic), `iss`/`sub` of a `client_assertion`",
        "client_ids",
        (Lookup("client_id", _exact),),
        "`client_ids`",
    ),
    Rule("`domain`, `domain_hint`", "domains", (Lookup("domain", _lower),), "org key / `domains`"),
    Rule(
        "an email's domain (same sources as 1)",
        "emails",
        (Lookup("domain", _email_domain),),
        "org key / `domains`",
        evidence_suffix=" domain",
    ),
)

# Clue fields that only a full parse of a POSTed SAML Response fills: the head read up to the Issuer
# (extract.saml.read_saml_head) has no NameID (emails) and no Audience (saml_connections).
HEAD_OMITS = frozenset({"emails", "saml_connections"})
_ISSUER_RANK = next(i for i, r in enumerate(RULES) if r.clues == "entity_ids")
# what could outrank a mapped Issuer yet is missing from a head: the head suffices when these can't match
_ABOVE_ISSUER_UNSEEN = tuple({lk.index for r in RULES[:_ISSUER_RANK] if r.clues in HEAD_OMITS for lk in r.lookups})


def head_suffices(indexes: Callable[[Index], object]) -> bool:
    """Whether a SAML Issuer that names an org settles the org whatever else the message holds:
    true when every rule ranked above the Issuer that reads what a head omits has an empty index
    (today: no ``test_users`` in the mapping). ``indexes(name)`` is the mapping's index."""
    return not any(indexes(name) for name in _ABOVE_ISSUER_UNSEEN)


def markdown_table() -> str:
    rows = ["| # | identifier | matches |", "|---|---|---|"]
    rows += [f"| {i} | {r.identifier} | {r.matches} |" for i, r in enumerate(RULES, 1)]
    return "\n".join(rows)


def docstring() -> str:
    lines = ["The org the request names: the first rule of ``routing.precedence.RULES`` that matches.", ""]
    lines += [f"{i:2}. {r.identifier} → {r.matches}".replace("`", "``") for i, r in enumerate(RULES, 1)]
    return "\n".join(lines)
