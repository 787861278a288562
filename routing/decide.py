"""``decide(...) -> Decision``: the contract's reasons, tried in order (``model.Reason``). Pure; no I/O,
no clock. Which org a request names, when identifiers disagree, is ``routing.precedence.RULES``.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter

from .correlation import Correlated
from .extract.clues import Clue, Clues
from .model import Decision, Mapping, Reason, Route
from .precedence import RULES, docstring


@dataclass(slots=True)  # per request, never changed (not frozen: ~4x cheaper to build)
class OrgHit:
    org: str
    evidence: str
    test_user: bool = False


def _lookup(clues: list[Clue], index: Callable[[str], str | None]) -> OrgHit | None:
    for label, value in clues:
        org = index(value)
        if org is not None:
            return OrgHit(org, label)
    return None


# RULES compiled for the hot path: (the Clues field, ((Mapping attribute, key), ...), suffix, test user)
_COMPILED = tuple(
    (attrgetter(r.clues), tuple((f"by_{lk.index}", lk.key) for lk in r.lookups), r.evidence_suffix, r.test_user)
    for r in RULES
)


def find_org(clues: Clues, m: Mapping) -> OrgHit | None:
    for get_clues, lookups, suffix, test_user in _COMPILED:
        found = get_clues(clues)
        if not found:
            continue  # most lists are empty: skipping them is most of the work
        for label, value in found:
            for attr, key in lookups:
                index = getattr(m, attr)
                org = index.get(key(value)) if index else None
                if org is not None:
                    return OrgHit(org, f"test user ({label})" if test_user else label + suffix, test_user)
    return None


find_org.__doc__ = docstring()


def is_forced(header_value: str | None, m: Mapping) -> bool:
    s = m.settings
    if not s.force_header or header_value is None:
        return False
    if s.force_header_secret:  # header values may carry undecodable bytes (surrogateescape)
        return hmac.compare_digest(
            header_value.strip().encode("utf-8", "surrogateescape"),
            s.force_header_secret.encode("utf-8", "surrogateescape"),
        )
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
        return s.migration_target if h.test_user else m.provider_for(h.org)

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
