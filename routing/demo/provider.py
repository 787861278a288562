"""The legacy provider (an Auth0 stand-in) and the Scalekit stand-in: SAML SP, OAuth server.

Each issues and remembers its own AuthnRequest IDs, RelayStates, codes and access tokens and
accepts only those: a message the router sent to the wrong provider is refused here, visibly
(``<name>: <reason>``). A SAML Response must be signed by the certificate the connection pins,
answer an AuthnRequest this provider sent, and name the registered ACS URL and SP entity id.
"""

from __future__ import annotations

import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass, field

from . import saml
from .web import Request, Response, Server

TXN_TTL = 600.0  # seconds a login may spend at the IdP
CODE_TTL = 60.0
TOKEN_TTL = 3600


@dataclass(frozen=True)
class Connection:
    """One customer org's SAML connection at this provider."""

    id: str  # the provider's connection id
    domain: str  # the org's email domain
    sp_entity_id: str  # the SP entity id the customer's IdP knows (a migration keeps it)
    idp_entity_id: str
    idp_sso_url: str
    idp_cert_pem: bytes


@dataclass(frozen=True)
class Layout:
    kind: str  # the mapping's provider kind
    label: str  # what it stands in for, for pages

    def acs_path(self, conn: Connection) -> str:
        return "/login/callback" if self.kind == "auth0" else f"/sso/v1/saml/{conn.id}/acs"


AUTH0 = Layout("auth0", "the legacy provider (an Auth0 stand-in)")
SCALEKIT = Layout("scalekit", "Scalekit (a stand-in)")


@dataclass(frozen=True)
class Client:
    id: str
    secret: str
    redirect_uri: str


@dataclass
class _Txn:
    conn: Connection
    relay_state: str
    app_state: str
    redirect_uri: str
    at: float = field(default_factory=time.monotonic)


class Provider:
    def __init__(self, name: str, layout: Layout, client: Client, connections: list[Connection]) -> None:
        self.name = name
        self.layout = layout
        self.client = client
        self.connections = {c.domain: c for c in connections}
        self.server = Server(name, self._handle)
        self.public_url = ""  # the router's address: browsers and IdPs reach this provider only through it
        self._lock = threading.Lock()
        self._txns: dict[str, _Txn] = {}  # AuthnRequest ID -> the login it started
        self._codes: dict[str, tuple[str, str, float]] = {}  # code -> (user, connection id, issued at)
        self._tokens: dict[str, tuple[str, str, float]] = {}  # access token -> (user, connection id, expiry)

    def _handle(self, req: Request) -> Response:
        with self._lock:
            self._expire(time.monotonic())
            if req.path in ("/authorize", "/oauth/authorize") and req.method == "GET":
                return self._authorize(req)
            if req.method == "POST" and req.path in {self.layout.acs_path(c) for c in self.connections.values()}:
                return self._acs(req)
            if req.path == "/oauth/token" and req.method == "POST":
                return self._token(req)
            if req.path == "/userinfo":
                return self._userinfo(req)
            return self._refuse(404, f"no route {req.method} {req.path}")

    def _refuse(self, status: int, reason: str) -> Response:
        return Response.text(status, f"{self.name}: {reason}")

    def _expire(self, now: float) -> None:
        for table, ttl in ((self._txns, TXN_TTL), (self._codes, CODE_TTL)):
            for key in [k for k, v in table.items() if now - (v.at if isinstance(v, _Txn) else v[2]) > ttl]:
                del table[key]

    # -- login start -----------------------------------------------------------------------------
    def _authorize(self, req: Request) -> Response:
        q = req.query
        if q.get("client_id") != self.client.id or q.get("redirect_uri") != self.client.redirect_uri:
            return self._refuse(400, "unknown client_id or redirect_uri")
        hint = q.get("login_hint", "")
        conn = self.connections.get(hint.rpartition("@")[2].lower())
        if conn is None:
            return self._refuse(400, f"no SSO connection for {hint!r}")
        authn = saml.AuthnRequest(
            saml.new_id(), conn.sp_entity_id, f"{self.public_url}/login/callback", conn.idp_sso_url
        )
        relay = "rs_" + secrets.token_urlsafe(12)
        self._txns[authn.id] = _Txn(conn, relay, q.get("state", ""), q["redirect_uri"])
        return Response.redirect(saml.redirect_url(authn, relay, login_hint=hint))

    # -- ACS --------------------------------------------------------------------------------------
    def _acs(self, req: Request) -> Response:
        posted = req.form.get("SAMLResponse", "")
        if not posted:
            return self._refuse(400, "ACS needs a POSTed SAMLResponse")
        try:
            request_id = saml.unverified_in_response_to(posted)
        except saml.SamlError as e:
            return self._refuse(400, f"unreadable SAMLResponse: {e}")
        txn = self._txns.get(request_id or "")
        if txn is None:
            return self._refuse(403, f"InResponseTo {request_id!r} is no AuthnRequest {self.name} sent")
        if req.path != self.layout.acs_path(txn.conn):
            return self._refuse(403, f"ACS {req.path} is not connection {txn.conn.id}'s")
        if req.form.get("RelayState", "") != txn.relay_state:
            return self._refuse(403, "RelayState is not the one sent with the AuthnRequest")
        try:
            a = saml.verify_response(posted, txn.conn.idp_cert_pem)
        except saml.SamlError as e:
            return self._refuse(403, f"SAML Response refused: {e}")
        problem = self._check_assertion(a, txn.conn, request_id)
        if problem:
            return self._refuse(403, f"SAML Response refused: {problem}")
        del self._txns[request_id or ""]  # the key ``txn`` was found under
        code = secrets.token_urlsafe(24)
        self._codes[code] = (a.name_id, txn.conn.id, time.monotonic())
        query = {"code": code, **({"state": txn.app_state} if txn.app_state else {})}
        return Response.redirect(f"{txn.redirect_uri}?{urllib.parse.urlencode(query)}")

    def _check_assertion(self, a: saml.Assertion, conn: Connection, request_id: str | None) -> str:
        if a.in_response_to != request_id:
            return "the signed InResponseTo differs"
        if a.issuer != conn.idp_entity_id:
            return f"Issuer {a.issuer!r} is not {conn.id}'s IdP"
        if a.destination != f"{self.public_url}/login/callback":
            return f"Destination {a.destination!r} is not the registered ACS URL"
        if a.audience != conn.sp_entity_id:
            return f"Audience {a.audience!r} is not {conn.sp_entity_id!r}"
        if a.name_id.rpartition("@")[2] != conn.domain:
            return f"user {a.name_id!r} is not of {conn.domain}"
        return ""

    # -- OAuth ------------------------------------------------------------------------------------
    def _token(self, req: Request) -> Response:
        f = req.form
        if (f.get("client_id"), f.get("client_secret")) != (self.client.id, self.client.secret):
            return Response.json(401, {"error": "invalid_client", "provider": self.name})
        issued = self._codes.pop(f.get("code", ""), None)
        if (
            f.get("grant_type") != "authorization_code"
            or issued is None
            or f.get("redirect_uri") != self.client.redirect_uri
        ):
            return Response.json(
                400,
                {
                    "error": "invalid_grant",
                    "provider": self.name,
                    "error_description": f"code not issued by {self.name}, or used",
                },
            )
        token = secrets.token_urlsafe(32)
        self._tokens[token] = (issued[0], issued[1], time.time() + TOKEN_TTL)
        return Response.json(200, {"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_TTL})

    def _userinfo(self, req: Request) -> Response:
        auth = req.headers.get("authorization", "")
        found = self._tokens.get(auth[7:].strip()) if auth.lower().startswith("bearer ") else None
        if found is None or found[2] < time.time():
            return Response.json(401, {"error": "invalid_token", "provider": self.name})
        return Response.json(200, {"email": found[0], "provider": self.name, "connection": found[1]})
