"""``decide(...) -> Decision``: the contract's reasons, tried in order. Pure; no I/O, no clock.

Org precedence, when identifiers in one request name different orgs (first hit wins):

 1. a ``test_users`` email (login_hint, username, email, NameID, id_token email)
 2. ``connection`` / ``connection_id`` / Cognito ``identity_provider`` / Firebase ``providerId``
 3. Cognito ``idp_identifier`` (connections, then the org key or ``domains``)
 4. a connection id in the path (WorkOS ``/sso/saml/acs/<id>``, Scalekit ``conn_…``)
 5. ``organization`` / ``organization_id`` / ``tid`` / ``tenantId``
 6. the SAML Issuer
 7. the connection in a SAML Audience (``urn:auth0:T:CONN``) or Destination
 8. the ``iss`` of a posted ``id_token`` / unmatched ``id_token_hint``
 9. ``client_id`` (query, form, JSON, Basic auth) and a ``client_assertion``'s ``iss``/``sub``
10. ``domain`` / ``domain_hint``
11. an email's domain (same sources as 1)

Explicit names the app or provider put in the request come before what an IdP
asserted, and exact ids before domains, which users can share across orgs.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Callable, Sequence

from .correlation import Correlated
from .extract.clues import Clue, Clues
from .model import Decision, Mapping, Reason, Route


@dataclass(slots=True)  # per request, never changed (not frozen: ~4x cheaper to build)
class OrgHit:
    org: str
    evidence: str
    test_user: bool = False


def _lookup(clues: list[Clue], *indexes: Callable[[str], str | None], suffix: str = "") -> OrgHit | None:
    for label, value in clues:
        for index in indexes:
            org = index(value)
            if org is not None:
                return OrgHit(org, label + suffix)
    return None


def _email_domain(email: str) -> str:
    return email.rsplit("@", 1)[-1].strip().lower()


def find_org(clues: Clues, m: Mapping) -> OrgHit | None:
    """The org the request names, by the precedence in this module's docstring.
    (Written out step by step: most clue lists are empty, and skipping them is most of the work.)"""
    if clues.emails and m.by_test_user:
        for label, email in clues.emails:
            org = m.by_test_user.get(email.lower())
            if org is not None:
                return OrgHit(org, f"test user ({label})", test_user=True)
    conn = m.by_connection.get
    if clues.connections and (hit := _lookup(clues.connections, conn)):
        return hit
    if clues.idp_identifiers and (hit := _lookup(clues.idp_identifiers, conn, lambda v: m.by_domain.get(v.lower()))):
        return hit
    if clues.path_connections and (hit := _lookup(clues.path_connections, conn)):
        return hit
    if clues.org_ids and (hit := _lookup(clues.org_ids, m.by_org_id.get)):
        return hit
    if clues.entity_ids and (hit := _lookup(clues.entity_ids, m.by_entity_id.get)):
        return hit
    if clues.saml_connections and (hit := _lookup(clues.saml_connections, conn)):
        return hit
    if clues.issuers and (hit := _lookup(clues.issuers, m.by_issuer.get)):
        return hit
    if clues.client_ids and (hit := _lookup(clues.client_ids, m.by_client_id.get)):
        return hit
    if clues.domains and (hit := _lookup(clues.domains, lambda v: m.by_domain.get(v.lower()))):
        return hit
    if clues.emails:
        return _lookup(clues.emails, lambda v: m.by_domain.get(_email_domain(v)), suffix=" domain")
    return None


def is_forced(header_value: str | None, m: Mapping) -> bool:
    s = m.settings
    if not s.force_header or header_value is None:
        return False
    if s.force_header_secret:  # header values may carry undecodable bytes (surrogateescape)
        return hmac.compare_digest(header_value.strip().encode("utf-8", "surrogateescape"),
                                   s.force_header_secret.encode("utf-8", "surrogateescape"))
    return header_value.strip().lower() == "yes"


def decide(
    clues: Clues,
    m: Mapping,
    *,
    path: str,
    forced: bool = False,
    correlated: Sequence[Correlated] = (),
    sticky: Route | None = None,
) -> Decision:
    """``correlated``: what the store knew of the request's correlation candidates, most decisive
    first (``correlation.hits``)."""
    s = m.settings
    hit = find_org(clues, m)
    # the org a SAML message's own Issuer names: a RelayState correlation yields to it, and a
    # Response naming one is never routed by the cookie (CONTRACT "Routing" 2 and 3)
    issuer_org = _lookup(clues.entity_ids, m.by_entity_id.get) if clues.entity_ids else None

    def make(provider: str, reason: Reason, org: str | None, evidence: str) -> Decision:
        forward = s.default_provider if s.shadow else provider
        return Decision(provider, reason, org, evidence, forward, s.shadow)

    def org_provider(h: OrgHit) -> str:
        return s.migration_target if h.test_user else m.provider_for_org(m.orgs[h.org])

    def route_org(route: Route) -> str | None:
        # a route that names no org (a forced start, a cookie without one) takes the request's,
        # so that org's target_paths apply at the migration target whatever the reason
        return route.org if route.org in m.orgs else (hit.org if hit else None)

    if forced:
        return make(s.migration_target, Reason.FORCED, hit.org if hit else None, "force header")
    for c in correlated:
        if c.route.provider not in m.providers:
            continue  # remembered for a provider the mapping no longer has
        if c.kind == "relay_state" and issuer_org is not None and issuer_org.org != c.route.org:
            continue  # many IdPs send one fixed RelayState for every org: the Issuer names this one
        return make(c.route.provider, Reason.CORRELATION, route_org(c.route), c.label)
    if hit is not None and (clues.login_start or (clues.saml_response and issuer_org is not None)):
        return make(org_provider(hit), Reason.ORG, hit.org, hit.evidence)
    if hit is None and (owner := m.path_provider(path)) is not None:
        return make(owner, Reason.PATH, None, "provider path")
    if sticky is not None and sticky.provider in m.providers:
        return make(sticky.provider, Reason.STICKY, route_org(sticky), "sticky cookie")
    if hit is not None:
        return make(org_provider(hit), Reason.ORG, hit.org, hit.evidence)
    return make(s.default_provider, Reason.DEFAULT, None, "no identifier")
