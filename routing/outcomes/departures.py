"""Logins that leave for a customer's IdP, and IdP answers that come back: the keys to match them.

A provider's answer that sends the browser to an IdP (a SAML AuthnRequest, by redirect or auto-post
form; an OIDC authorize redirect) is a *departure*: its AuthnRequest ID / state / RelayState come
back with the IdP's answer (``InResponseTo``, ``state``, ``RelayState``) — when the IdP posts to the
auth domain. An IdP configured with the provider's own host (``*.auth0.com``,
``*.amazoncognito.com``) answers there instead, and the departure never returns through the router.

Keys are the same keyed hashes the correlation store uses (``correlation.key_for``): no value is kept.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..correlation import Candidate, key_for
from ..extract.clues import Clues
from ..rewrite import Learned

_RETURNING = frozenset({"saml_id", "relay_state", "state"})


def departure_keys(records: Sequence[Learned], secret: bytes) -> tuple[str, ...]:
    """The keys of a departure in a response plan's records (``rewrite.plan_response``), or ()."""
    if any(ns == "code" for ns, _, _, _ in records):
        return ()  # an answer to the app (form_post with code + state): a login ending, not leaving
    saml = any(ns == "saml_id" and label == "SAML AuthnRequest ID" for ns, _, _, label in records)
    keys: list[str] = []
    for ns, value, _, label in records:
        if (
            (ns == "saml_id" and label == "SAML AuthnRequest ID")
            or (ns == "state" and label == "state")
            or (ns == "relay_state" and saml)
        ):
            keys.append(key_for(secret, ns, value))
    return tuple(dict.fromkeys(keys))


def returning_keys(clues: Clues, secret: bytes) -> tuple[str, ...]:
    """The keys an IdP's answer (ACS post, IdP callback) carries back: InResponseTo, RelayState, state."""
    return tuple(dict.fromkeys(key_for(secret, ns, value) for ns, value, _ in clues.correlations if ns in _RETURNING))


def returning_candidate_keys(candidates: Sequence[Candidate]) -> tuple[str, ...]:
    """``returning_keys`` from the correlation candidates ``pipeline.begin`` already hashed."""
    return tuple(dict.fromkeys(c.key for c in candidates if c.kind in _RETURNING))
