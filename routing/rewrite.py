"""``plan_response(...)``: what to change in a provider's response and what to remember from it.

Mutates nothing: the edge applies the plan and hands ``records`` to the store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import SplitResult, parse_qsl, urlsplit

from .errors import ExtractError
from .extract.clues import Failure
from .extract.html_form import read_form
from .extract.saml import parse_saml
from .model import Mapping, Provider
from .view import ResponseView


class Learned(NamedTuple):
    """A value a provider's answer issued, to remember for ``ttl`` seconds under its store namespace."""

    kind: str  # the store namespace: saml_id, relay_state, state, code, request_uri, token
    value: str
    ttl: int
    label: str


@dataclass(slots=True)
class ResponsePlan:
    location: str | None = None  # new Location, when it changes
    records: list[Learned] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


@lru_cache(maxsize=16)
def _origin(url: str) -> tuple[str, str, int]:
    u = urlsplit(url)
    return u.scheme, (u.hostname or "").lower(), u.port or _default_port(u.scheme)


def _is_public(u: SplitResult, port: int | None, public_url: str) -> bool:
    """``u`` is on the router's own origin (``https://auth.yourapp.com:443/`` included)."""
    scheme, host, public_port = _origin(public_url)
    s = u.scheme or scheme
    return s == scheme and (u.hostname or "").lower() == host and (port or _default_port(s)) == public_port


def _own_host(hostname: str | None, port: int | None, scheme: str, p: Provider) -> bool:
    if not hostname:
        return False
    host = hostname.lower()
    up = p.upstream
    if host == up.host and (port or (443 if scheme == "https" else 80)) == up.port:
        return True
    alias = p.host_header.lower().rsplit(":", 1)[0] if p.host_header else ""
    return bool(alias) and host == alias


def plan_response(resp: ResponseView, p: Provider, m: Mapping) -> ResponsePlan:
    plan = ResponsePlan()
    if resp.location:
        _plan_location(resp.location, p, m, plan)
    ct = resp.content_type
    if resp.body and 200 <= resp.status < 300:
        if ct.endswith("json"):
            _plan_token_response(resp.body, m, plan)
        elif ct == "text/html":
            _plan_form(resp.body, m, plan)
    return plan


def _plan_location(loc: str, p: Provider, m: Mapping, plan: ResponsePlan) -> None:
    s = m.settings
    try:
        u = urlsplit(loc)
        port = u.port
    except ValueError:
        plan.failures.append(Failure("location", "unparseable Location"))
        return
    rel = not u.netloc
    own = not rel and _own_host(u.hostname, port, u.scheme or s.public_scheme, p)
    if own:
        plan.location = (
            s.public_url
            + (u.path or "/")
            + (f"?{u.query}" if u.query else "")
            + (f"#{u.fragment}" if u.fragment else "")
        )
    if not u.query:
        return
    q = dict(parse_qsl(u.query, keep_blank_values=False))
    ttl = s.correlation_ttl
    # the router's own origin: relative, the provider's host, or public_url's (scheme, host and port)
    ours = rel or own or _is_public(u, port, s.public_url)
    code = q.get("code") or q.get("idp_initiated_login")
    if code and "SAMLRequest" not in q and "response_type" not in q:
        plan.records.append(Learned("code", code, ttl, "code"))
        if not ours and p.app_callback:  # a redirect to the app: tell it which provider issued the code
            sep = "&" if "?" in p.app_callback else "?"
            plan.location = p.app_callback + sep + u.query + (f"#{u.fragment}" if u.fragment else "")
        return
    # to an IdP (SAML AuthnRequest, OIDC authorize) or to the provider's hosted pages (Auth0 /u/login?state=);
    # not a redirect back to the app (an error redirect echoes the app's state: that is no login of ours)
    saml = q.get("SAMLRequest")
    if saml:
        _record_saml(saml, True, m, plan)
    if saml and (rs := q.get("RelayState")):  # only beside a SAML request: see _record_relay_state
        _record_relay_state(rs, m, plan)
    if (st := q.get("state")) and (ours or "response_type" in q or "client_id" in q):
        plan.records.append(Learned("state", st, ttl, "hosted-page state" if ours else "state"))


def _record_saml(value: str, deflated: bool, m: Mapping, plan: ResponsePlan) -> None:
    try:
        msg = parse_saml(value, deflated=deflated, limits=m.settings.limits)
    except ExtractError as e:
        plan.failures.append(Failure(e.kind, e.msg))
        return
    if msg.id and msg.kind.endswith("Request"):
        plan.records.append(Learned("saml_id", msg.id, m.settings.correlation_ttl, f"SAML {msg.kind} ID"))


def _record_relay_state(value: str, m: Mapping, plan: ResponsePlan) -> None:
    """Called only for an answer that sends the browser to an IdP with a SAML request: many IdPs
    send one fixed RelayState (the app's URL) for every org, so one echoed anywhere else (a form
    posting a SAMLResponse to the app, a redirect home) would steer other orgs' logins."""
    plan.records.append(Learned("relay_state", value, m.settings.correlation_ttl, "RelayState"))


_FORM_FIELDS = frozenset({"SAMLRequest", "RelayState", "state", "code"})


def _plan_form(body: bytes, m: Mapping, plan: ResponsePlan) -> None:
    """An auto-post form: to an IdP (SAMLRequest, with its RelayState) or to the app (form_post code).
    Only a page that can be one is read (``max_auto_post``): hosted pages are ~250 KB, and this
    runs on the event loop (bench/responses.py)."""
    if len(body) > m.settings.limits.max_auto_post:
        return
    _, fields = read_form(body, max_size=m.settings.limits.max_auto_post, names=_FORM_FIELDS)
    if not fields:
        return
    ttl = m.settings.correlation_ttl
    if saml := fields.get("SAMLRequest"):
        _record_saml(saml, False, m, plan)
        if rs := fields.get("RelayState"):
            _record_relay_state(rs, m, plan)
    if st := fields.get("state"):
        plan.records.append(Learned("state", st, ttl, "state"))
    if code := fields.get("code"):
        plan.records.append(Learned("code", code, ttl, "code"))


def _positive(v: object) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else None


def _plan_token_response(body: bytes, m: Mapping, plan: ResponsePlan) -> None:
    if len(body) > m.settings.limits.max_body or (b"_token" not in body and b"request_uri" not in body):
        return
    try:
        obj = json.loads(body)
    except (ValueError, RecursionError):
        plan.failures.append(Failure("json", "token response is not JSON"))
        return
    if not isinstance(obj, dict):
        return
    s = m.settings
    cap = s.token_ttl
    exp = _positive(obj.get("expires_in"))
    if isinstance(t := obj.get("access_token"), str) and t:
        plan.records.append(Learned("token", t, min(exp or cap, cap), "access token"))
    if isinstance(t := obj.get("id_token"), str) and t:
        plan.records.append(Learned("token", t, cap, "ID token"))
    if isinstance(t := obj.get("refresh_token"), str) and t:
        rexp = _positive(obj.get("refresh_token_expires_in"))
        plan.records.append(Learned("token", t, min(rexp or cap, cap), "refresh token"))
    if isinstance(t := obj.get("request_uri"), str) and t:
        plan.records.append(
            Learned("request_uri", t, min(exp or s.correlation_ttl, s.correlation_ttl), "PAR request_uri")
        )


def rewrite_set_cookie(value: str, p: Provider, public_host: str) -> str:
    """Point a ``Domain=`` on the provider's host at the public host; leave other cookies alone.
    The attribute is read as browsers read it (RFC 6265 5.2): name and value trimmed, case-insensitive
    name, a leading dot ignored; a trailing dot (the fully qualified form) names the same host."""
    parts = value.split(";")
    changed = False
    up = {p.upstream.host}
    if p.host_header:
        up.add(p.host_header.lower().rsplit(":", 1)[0])
    for i, part in enumerate(parts[1:], 1):
        name, sep, val = part.partition("=")
        if sep and name.strip().lower() == "domain" and val.strip().strip(".").lower() in up:
            parts[i] = f" Domain={public_host}"
            changed = True
    return ";".join(parts) if changed else value
