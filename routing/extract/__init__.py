"""``extract(view, limits) -> Clues``: the one entry point; it never raises.

Each payload reader may raise ``ExtractError``; this module turns every such
error into a counted ``(kind, message)`` failure and carries on with the rest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from urllib.parse import parse_qsl, urlsplit

from ..errors import ExtractError
from ..limits import Limits
from ..view import RequestView
from .clues import Clues, CorrelationClue, Failure
from .jwt import claim_str, read_jwt_claims
from .params import (
    CONNECTION_FIELDS,
    CORRELATION_FIELDS,
    DOMAIN_FIELDS,
    EMAIL_FIELDS,
    ORG_ID_FIELDS,
    SAML_FIELDS,
    Fields,
    basic_auth_user,
    read_body,
    read_query,
    unquote_form,
)
from .saml import SamlMessage, parse_saml, read_saml_head

__all__ = ["Clues", "Limits", "connection_in_url", "extract", "path_connections", "saml_clues"]

# ``issuer_decides``: given a head's Issuer (a head always has one; ``SamlMessage.issuer`` is optional for
# the full parse), whether it alone settles the org
type IssuerDecides = Callable[[str | None], bool]

_LOGIN_START_TAILS = ("/authorize", "/sso-login")  # /oauth/authorize, /oauth2/authorize (Cognito) included


def extract(view: RequestView, limits: Limits, issuer_decides: IssuerDecides | None = None) -> Clues:
    """``issuer_decides(issuer)``: True when a SAML Issuer alone settles which org a request names,
    whatever else the message holds (``pipeline.begin`` knows when: the Issuer is a mapped entity
    id and no test user exists). A POSTed Response is then read only up to its Issuer (a fraction
    of an 11 KB message); otherwise, and whenever that head cannot be read, all of it is."""
    clues = Clues()
    try:
        _extract(view, limits, clues, issuer_decides)
    except ExtractError as e:  # a reader that did not catch its own
        clues.failures.append(Failure(e.kind, e.msg))
    except Exception as e:  # noqa: BLE001 — a bug must not lose the request; it is counted as one
        clues.failures.append(Failure("internal", f"{type(e).__name__} while extracting"))
    return clues


def _extract(view: RequestView, limits: Limits, clues: Clues, issuer_decides: IssuerDecides | None) -> None:
    path = view.path
    for label, conn in path_connections(path):
        clues.path_connections.append((label, conn))
    scim = "/scim/" in path and is_scim_path(path)
    if scim:
        clues.directories.extend(("SCIM directory in the path", seg) for seg in scim_directory_candidates(path))
    if path.endswith(_LOGIN_START_TAILS):
        clues.login_start = True

    fields = Fields()
    if view.body_note:
        clues.failures.append(Failure("body", view.body_note))
    if view.query:
        read_query(view.query, fields)
    if view.body and view.method not in ("GET", "HEAD"):
        failure = read_body(view.body, view.content_type, fields, limits)
        if failure:
            clues.failures.append(Failure("body", failure))

    bearer = None
    auth = view.headers.get("authorization")
    if auth:
        scheme, _, cred = auth.strip().partition(" ")
        scheme = scheme.lower()
        if scheme == "bearer" and cred.strip():
            bearer = cred.strip()
        elif scheme == "basic":
            user = basic_auth_user(cred)
            if user:
                clues.client_ids.append(("client_id (Basic auth)", user))

    if fields.top or fields.nested or fields.saml_form:
        _read_fields(fields, limits, clues, issuer_decides)
    if bearer and scim:  # a SCIM client's static credential: matched by its hash only, never kept
        clues.scim_tokens.append(("SCIM bearer token (SHA-256)", hashlib.sha256(bearer.encode()).hexdigest()))
    elif bearer:
        # after the parameters: where a request names a token (revocation's and introspection's
        # ``token``), the caller's own Bearer only authenticates the caller
        clues.correlations.append(CorrelationClue("token", bearer, "Bearer token"))


def _read_fields(f: Fields, limits: Limits, clues: Clues, issuer_decides: IssuerDecides | None) -> None:
    get = ({**f.nested, **f.top} if f.nested else f.top).get  # a top-level parameter wins over a nested one
    if get("response_type") is not None:
        clues.login_start = True
    for name in EMAIL_FIELDS:
        v = get(name)
        if v and "@" in v:
            clues.emails.append((name, v.strip()))
    for name in DOMAIN_FIELDS:
        v = get(name)
        if v and v.strip():
            clues.domains.append((name, v.strip().lstrip("@")))
    for name in ORG_ID_FIELDS:
        v = get(name)
        if v and v.strip():
            clues.org_ids.append((name, v.strip()))
    for name in CONNECTION_FIELDS:
        v = get(name)
        if v and v.strip():
            clues.connections.append((name, v.strip()))
    v = get("idp_identifier")
    if v and v.strip():
        clues.idp_identifiers.append(("idp_identifier", v.strip()))
    v = get("client_id")
    if v and v.strip():
        clues.client_ids.append(("client_id", v.strip()))
    for name, ns in CORRELATION_FIELDS.items():
        v = get(name)
        if v:
            clues.correlations.append(CorrelationClue(ns, v, name))
    for name in ("id_token", "id_token_hint"):
        v = get(name)
        if v:
            _jwt_clues(v, name, limits, clues)
    v = get("client_assertion")
    if v:
        try:
            claims = read_jwt_claims(v, limits=limits)
        except ExtractError as e:
            clues.failures.append(Failure(e.kind, e.msg))
        else:
            for c in ("iss", "sub"):
                if s := claim_str(claims, c):
                    clues.client_ids.append((f"client_assertion {c}", s))
    for name in SAML_FIELDS:
        form = f.saml_form.get(name)  # from the body, still URL-encoded (a query value is in f.top)
        if form is not None and issuer_decides is not None and name == "SAMLResponse":
            head = read_saml_head(form, limits)
            if head is not None and issuer_decides(head.issuer):  # a head always has an Issuer
                saml_clues(head, clues, destination=False)  # its connection ranks below the Issuer
                continue
        v = unquote_form(form) if form is not None else get(name)
        if v:
            try:
                msg = parse_saml(v, deflated=name in f.query_keys, limits=limits)
            except ExtractError as e:
                clues.failures.append(Failure(e.kind, e.msg))
            else:
                saml_clues(msg, clues)


def _jwt_clues(token: str, name: str, limits: Limits, clues: Clues) -> None:
    try:
        claims = read_jwt_claims(token, limits=limits)
    except ExtractError as e:
        clues.failures.append(Failure(e.kind, e.msg))
        return
    if s := claim_str(claims, "iss"):
        clues.issuers.append((f"{name} iss", s))
    if (s := claim_str(claims, "email")) and "@" in s:
        clues.emails.append((f"{name} email", s))
    if s := claim_str(claims, "tid"):
        clues.org_ids.append((f"{name} tid", s))


def saml_clues(msg: SamlMessage, clues: Clues, *, destination: bool = True) -> None:
    # a login start: an AuthnRequest, or an IdP-initiated Response (one that answers no request)
    if msg.kind == "AuthnRequest" or (msg.kind == "Response" and not msg.in_response_to):
        clues.login_start = True
    if msg.kind == "Response":
        clues.saml_response = True
    if msg.in_response_to:
        clues.correlations.insert(0, CorrelationClue("saml_id", msg.in_response_to, "SAML InResponseTo"))
    if msg.issuer:
        clues.entity_ids.append(("SAML Issuer", msg.issuer))
    if msg.name_id and "@" in msg.name_id:
        clues.emails.append(("SAML NameID", msg.name_id))
    for aud in msg.audiences:
        if aud.startswith("urn:auth0:"):
            parts = aud.split(":")
            if len(parts) >= 4 and parts[3]:
                clues.saml_connections.append(("SAML Audience connection", parts[3]))
        clues.saml_connections.append(("SAML Audience", aud))  # a connection's own SP entity id, whole
    if destination and msg.destination:
        for conn in connection_in_url(msg.destination):
            clues.saml_connections.append(("SAML Destination connection", conn))


_SCIM_RESOURCES = frozenset(
    {"users", "groups", "serviceproviderconfig", "schemas", "resourcetypes", "bulk", ".search", "me", "scim"}
)


def is_scim_path(path: str) -> bool:
    """A SCIM 2.0 URL (RFC 7644): a ``scim`` segment followed somewhere by a ``v2…`` one."""
    segs = [s.lower() for s in path.split("/")]
    if "scim" not in segs:
        return False
    return any(s.startswith("v2") for s in segs[segs.index("scim") + 1 :])


def scim_directory_candidates(path: str) -> list[str]:
    """The segments of a SCIM path that can be a directory id (WorkOS ``/scim/v2.0/directory_…/Users``,
    ``/scim/<id>/v2/Users``, …): all but the SCIM resource names, version segments and resource ids
    after a resource name."""
    out: list[str] = []
    after_resource = False
    for seg in path.split("/"):
        low = seg.lower()
        if not seg or low.startswith("v2"):
            continue
        if low in _SCIM_RESOURCES:
            after_resource = low != "scim"
            continue
        if not after_resource and seg not in out:
            out.append(seg)
    return out


def connection_in_url(url: str) -> list[str]:
    try:
        u = urlsplit(url)
    except ValueError:
        return []
    found = [v for k, v in parse_qsl(u.query) if k == "connection" and v]
    found += [conn for _, conn in path_connections(u.path)]
    return found


def path_connections(path: str) -> list[tuple[str, str]]:
    """Connection ids in a path: WorkOS ``/sso/saml/acs/<id>`` and Scalekit ``conn_…`` segments."""
    out: list[tuple[str, str]] = []
    if "/sso/saml/acs/" in path:
        rest = path.split("/sso/saml/acs/", 1)[1].split("/", 1)[0]
        if rest:
            out.append(("path connection (WorkOS ACS)", rest))
    if "conn_" in path:
        for seg in path.split("/"):
            if seg.startswith("conn_") and len(seg) > 5:
                out.append(("path connection (conn_ id)", seg))
    return out
