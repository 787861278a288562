"""The identifiers found in one request, grouped by what they can match in a mapping.

Each entry is ``(label, value)``: ``label`` says where the value came from in words
(it goes into the decision record); the value itself never leaves the core.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

Clue = tuple[str, str]  # (label, value): where the value came from in words, and the value


class CorrelationClue(NamedTuple):
    """A value that may continue a login a provider started: looked up in the correlation store."""

    kind: str  # the store namespace: saml_id, relay_state, state, code, request_uri, token
    value: str
    label: str  # for the decision record: where it came from, never the value


class Failure(NamedTuple):
    """A payload that could not be read: counted by ``kind``; ``msg`` never quotes the input."""

    kind: str
    msg: str


@dataclass(slots=True)
class Clues:
    emails: list[Clue] = field(default_factory=list)  # whole emails: test_users, then their domain
    domains: list[Clue] = field(default_factory=list)  # domain / domain_hint
    connections: list[Clue] = field(default_factory=list)  # connection params
    path_connections: list[Clue] = field(default_factory=list)
    saml_connections: list[Clue] = field(default_factory=list)  # from Audience / Destination
    idp_identifiers: list[Clue] = field(default_factory=list)  # connections, then domains
    org_ids: list[Clue] = field(default_factory=list)
    entity_ids: list[Clue] = field(default_factory=list)  # SAML Issuer
    issuers: list[Clue] = field(default_factory=list)  # OIDC iss of a posted id_token
    client_ids: list[Clue] = field(default_factory=list)
    directories: list[Clue] = field(default_factory=list)  # SCIM directory ids in a SCIM path
    scim_tokens: list[Clue] = field(default_factory=list)  # SHA-256 (hex) of a SCIM request's bearer token
    correlations: list[CorrelationClue] = field(default_factory=list)
    login_start: bool = False
    saml_response: bool = False  # the request carries a SAML Response (the Issuer's org then beats a cookie)
    failures: list[Failure] = field(default_factory=list)
