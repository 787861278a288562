"""One request's way through the core, in two halves around the store call.

``begin`` reads the request and names the correlation keys to look up; the caller
(the mitmproxy edge, awaiting a bounded store call, or ``sso-router explain``,
replaying a capture) asks its store; ``conclude`` decides. ``learn`` turns a
provider's response into a rewrite plan and store entries. Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import sticky
from .correlation import Candidate, Entry, hits, key_for
from .decide import decide, is_forced
from .extract import Clues, extract
from .model import NOTHING_SEEN, Decision, Mapping, Provider, Reason, Route, Seen
from .rewrite import ResponsePlan, plan_response
from .view import RequestView, ResponseView


@dataclass(slots=True)  # per request, never changed (not frozen: ~4x cheaper to build)
class Pending:
    view: RequestView
    clues: Clues
    forced: bool
    keys: tuple[Candidate, ...]  # correlation candidates, in precedence order

    @property
    def store_keys(self) -> list[str]:
        return [c.key for c in self.keys]


def begin(view: RequestView, m: Mapping, secret: bytes) -> Pending:
    # when nothing a Response's head omits can outrank its Issuer (precedence.head_suffices), a mapped
    # Issuer settles the org and only the head of the Response need be read
    clues = extract(view, m.settings.limits, m.by_entity_id.__contains__ if m.saml_head_suffices else None)
    s = m.settings
    forced = is_forced(view.headers.get(s.force_header) if s.force_header else None, m)
    keys: tuple[Candidate, ...] = ()
    if clues.correlations and not forced:
        keys = tuple(Candidate(c.kind, c.label, key_for(secret, c.kind, c.value)) for c in clues.correlations)
    return Pending(view, clues, forced, keys)


def conclude(
    p: Pending, m: Mapping, recalled: dict[str, Route], *, secret: bytes, now: float, unanswered: str | None = None
) -> Decision:
    """``unanswered``: why the store could not be asked for ``p.keys`` (the decision record says so)."""
    route = sticky.verify(p.view.sticky, secret=secret, now=now, shadow=m.settings.shadow) if p.view.sticky else None
    d = decide(
        p.clues, m, path=p.view.path, forced=p.forced, correlated=hits(p.keys, recalled) if p.keys else (), sticky=route
    )
    if unanswered and p.keys:
        d.evidence = f"{d.evidence}; correlation not checked: store {unanswered}"
    c = p.clues
    if c.entity_ids or c.issuers or c.connections or c.path_connections or c.saml_connections:
        d.seen = seen_in(c)
    return d


SEEN_MAX_LEN = 512  # longer values are left out of the decision log, not cut (a cut id is a wrong id)
SEEN_MAX_CONNECTIONS = 4


def seen_in(c: Clues) -> Seen:
    """What ``sso-router learn`` may propose from this request: the SAML message's own Issuer, a
    posted ``id_token``'s ``iss`` (not an ``id_token_hint``'s: that is the provider's own issuer),
    and the connection ids of its parameters, path, Audience and Destination. None is a secret."""
    issuer = next((v for _, v in c.entity_ids if len(v) <= SEEN_MAX_LEN), None)
    oidc = next((v for label, v in c.issuers if label == "id_token iss" and len(v) <= SEEN_MAX_LEN), None)
    conns: list[str] = []
    for _, v in (*c.connections, *c.path_connections, *c.saml_connections):
        if len(v) <= SEEN_MAX_LEN and v not in conns and len(conns) < SEEN_MAX_CONNECTIONS:
            conns.append(v)
    if issuer is None and oidc is None and not conns:
        return NOTHING_SEEN
    return Seen(issuer, oidc, tuple(conns))


def learn(
    resp: ResponseView, provider: Provider, m: Mapping, org: str | None, secret: bytes
) -> tuple[ResponsePlan, list[Entry]]:
    plan = plan_response(resp, provider, m)
    route = Route(provider.name, org)
    return plan, [Entry(key_for(secret, r.kind, r.value), route, r.ttl) for r in plan.records]


def sticky_cookie(d: Decision, m: Mapping, *, secret: bytes, now: float) -> str | None:
    """The Set-Cookie value after a decision for an org or a login in flight; None otherwise."""
    if d.reason not in (Reason.ORG, Reason.CORRELATION, Reason.FORCED) or d.provider not in m.providers:
        return None
    s = m.settings
    value = sticky.sign(Route(d.provider, d.org), secret=secret, expires=int(now) + s.correlation_ttl, shadow=s.shadow)
    return sticky.set_cookie_header(value, secure=s.public_scheme == "https", max_age=s.correlation_ttl)
