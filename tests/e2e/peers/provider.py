"""An SSO provider peer: SAML SP + OIDC broker + OAuth server, Auth0-like or Scalekit-like.

It issues and remembers its own RelayStates, SAML request IDs, OIDC states, hosted-page states,
codes and tokens, and accepts only those: a message the router sends to the wrong provider is
refused here (4xx with ``<name>: <reason>``) and recorded as ``rejected: ...``.
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass

import httpx
import jwt

from .http import PeerServer, Record, Request, Response, auto_post_form
from .keys import KeyPair
from .saml_sp import SamlRejected, SamlSP, peek

APP_CALLBACK = "https://app.test/callback"


@dataclass
class Connection:
    name: str  # the provider's own connection name/id
    org_domain: str  # the email domain it serves
    org_id: str  # the provider's organization id
    protocol: str  # "saml" | "oidc"
    sp: SamlSP | None = None
    # OIDC upstream (the customer's IdP)
    issuer: str = ""
    authorize_url: str = ""
    token_url: str = ""
    client_id: str = ""
    client_secret: str = ""
    callback_url: str = ""
    idp_public_pem: bytes = b""
    form_post: bool = False


@dataclass(frozen=True)
class Layout:
    """Where a kind of provider serves things."""

    kind: str  # "auth0" | "scalekit"
    authorize_paths: tuple[str, ...]
    jwks_path: str

    def acs_path(self, conn: str) -> str:
        return "/login/callback" if self.kind == "auth0" else f"/sso/v1/saml/{conn}/acs"

    def oidc_callback_path(self, conn: str) -> str:
        return "/login/callback" if self.kind == "auth0" else f"/sso/v1/oidc/{conn}/callback"


AUTH0 = Layout("auth0", ("/authorize", "/oauth/authorize"), "/.well-known/jwks.json")
SCALEKIT = Layout("scalekit", ("/oauth/authorize", "/authorize"), "/keys")


class Provider:
    def __init__(self, name: str, layout: Layout, keypair: KeyPair, public_url: str, port: int = 0):
        self.name = name
        self.layout = layout
        self.keypair = keypair
        self.public_url = public_url
        self.issuer = f"https://{name}.issuer.test/"
        self.server = PeerServer(name, self._handle, port)
        self.connections: dict[str, Connection] = {}
        self.clients: dict[str, tuple[str, list[str]]] = {}  # client_id -> (secret, redirect_uris); [] = M2M
        self.allow_unsolicited = False  # IdP-initiated SAML; off unless a test turns it on
        # IdP-initiated Responses that carry an InResponseTo this provider never issued (Rippling and
        # others; crewjam/saml#320) are taken as unsolicited instead of refused
        self.unsolicited_in_response_to = False
        # where an IdP-initiated login goes on: None, a redirect to the app with a code; a URL, an
        # auto-post form to the app's own ACS there (SAMLResponse + the IdP's RelayState echoed), as a
        # provider acting as the app's SAML IdP answers
        self.app_saml_acs: str | None = None
        self.saml_post_binding = False  # True: AuthnRequests go out in an auto-post page (HTTP-POST binding)
        # True: an IdP-initiated login lands at the app with ``idp_initiated_login`` (a token the app
        # hands back to the authorize endpoint), not a code — Scalekit's way
        self.idp_initiated_login = False
        self.session_cookie_domain = "Domain=127.0.0.1"  # its session cookies' Domain attribute, as written
        self._lock = threading.RLock()
        self._saml: dict[str, dict] = {}  # AuthnRequest ID -> login transaction
        self._oidc: dict[str, dict] = {}  # state it sent to an OIDC IdP -> transaction
        self._hosted: dict[str, dict] = {}  # state of its hosted login page -> transaction
        self._pushed: dict[str, dict] = {}  # PAR request_uri it issued -> the pushed parameters
        self._codes: dict[str, dict] = {}
        self._access: dict[str, dict] = {}
        self._refresh: dict[str, dict] = {}
        self._id_tokens: set[str] = set()
        self._revoked: set[str] = set()
        self.directories: dict[str, str] = {}  # SCIM directory id -> its bearer token
        self.issued: dict[str, list[str]] = {
            "relay_state": [],
            "request_uri": [],
            "saml_id": [],
            "state": [],
            "code": [],
            "access_token": [],
            "refresh_token": [],
            "id_token": [],
            "cookie": [],
            "idp_initiated_login": [],
        }
        self._idp_logins: dict[str, str] = {}  # idp_initiated_login it issued -> connection name

    # -- set-up ---------------------------------------------------------
    def reset_behaviour(self) -> None:
        """What tests switch on for themselves, back to the defaults."""
        self.allow_unsolicited = self.unsolicited_in_response_to = False
        self.app_saml_acs = None
        self.saml_post_binding = self.idp_initiated_login = False
        self.session_cookie_domain = "Domain=127.0.0.1"

    @property
    def own_url(self) -> str:
        return self.server.local_url  # the address the router's mapping names as its upstream

    def add_connection(self, conn: Connection) -> None:
        self.connections[conn.name] = conn

    def add_client(self, client_id: str, secret: str, redirect_uris: list[str] = ()) -> None:
        self.clients[client_id] = (secret, list(redirect_uris))

    def acs_url(self, conn: str) -> str:
        return self.public_url + self.layout.acs_path(conn)

    def oidc_callback_url(self, conn: str) -> str:
        return self.public_url + self.layout.oidc_callback_path(conn)

    def _new(self, kind: str, prefix: str, nbytes: int = 18) -> str:
        value = f"{prefix}{secrets.token_urlsafe(nbytes)}"
        self.issued[kind].append(value)
        return value

    def _session_cookie(self) -> str:
        value = self._new("cookie", "", 16)
        return f"{self.name}_session={value}; {self.session_cookie_domain}; Path=/; HttpOnly"

    # -- dispatch -------------------------------------------------------
    def _handle(self, req: Request, rec: Record) -> Response:
        with self._lock:
            return self._dispatch(req, rec)

    def _dispatch(self, req: Request, rec: Record) -> Response:
        p = req.path
        if p in self.layout.authorize_paths:
            return self._authorize(req, rec)
        if self.layout.kind == "auth0" and p == "/login/callback":
            if "SAMLResponse" in req.form:
                return self._saml_acs(req, rec, None)
            return self._oidc_callback(req, rec, None)
        parts = p.strip("/").split("/")
        if self.layout.kind == "scalekit" and len(parts) == 5 and parts[:2] == ["sso", "v1"]:
            if parts[2] == "saml" and parts[4] == "acs":
                return self._saml_acs(req, rec, parts[3])
            if parts[2] == "oidc" and parts[4] == "callback":
                return self._oidc_callback(req, rec, parts[3])
        if p in ("/oauth/par", "/par") and req.method == "POST":
            return self._par(req, rec)
        if p == "/oauth/token" and req.method == "POST":
            return self._token(req, rec)
        if p == "/userinfo":
            return self._userinfo(req, rec)
        if p in ("/oauth/revoke", "/oauth/introspect") and req.method == "POST":
            return self._revoke_or_introspect(req, rec, p.endswith("introspect"))
        if p in ("/logout", "/v2/logout", "/oidc/logout"):
            return self._logout(req, rec)
        if p == "/u/login":
            return self._hosted_page(req, rec)
        if p == self.layout.jwks_path:
            rec.outcome = "accepted: jwks"
            return Response.json(200, {"keys": [self.keypair.jwk()]})
        if p.startswith("/assets/"):
            rec.outcome = "accepted: asset"
            return Response.text(200, f"/* {self.name} asset {p} */", "text/css")
        if p.startswith("/scim/v2.0/"):
            return self._scim(req, rec)
        if p == "/redirect-foreign":  # a Location on a host that is not this provider's
            rec.outcome = "accepted: foreign redirect"
            return Response.redirect("https://elsewhere.example/landing?x=1")
        rec.outcome = f"rejected: no route {p}"
        return Response.text(404, f"{self.name}: no route {p}")

    def add_directory(self, directory: str, token: str) -> None:
        """A SCIM directory this provider serves at ``/scim/v2.0/<directory>/…`` for ``token``."""
        self.directories[directory] = token

    def _scim(self, req: Request, rec: Record) -> Response:
        """SCIM 2.0 as WorkOS serves it on the auth domain: the directory in the path, its bearer."""
        parts = req.path.split("/")  # ['', 'scim', 'v2.0', <directory>, <resource>, ...]
        directory = parts[3] if len(parts) > 4 else ""
        if directory not in self.directories:
            return self._reject(rec, 404, f"unknown SCIM directory {directory!r}")
        if req.bearer() != self.directories[directory]:
            return self._reject(rec, 401, "SCIM bearer token not this directory's")
        rec.outcome = f"accepted: scim {req.method} {'/'.join(parts[4:])}"
        if req.method == "POST":
            return Response(201, req.body, [("Content-Type", "application/scim+json")])
        return Response(200, req.body, [("Content-Type", "application/scim+json")])

    def _reject(self, rec: Record, status: int, reason: str) -> Response:
        rec.outcome = f"rejected: {reason}"
        return Response.text(status, f"{self.name}: {reason}")

    # -- login start ----------------------------------------------------
    def _find_connection(self, q: dict[str, str]) -> tuple[Connection | None, str | None]:
        """(connection, error). A named connection/org that this provider lacks is an error."""
        for key in ("connection", "connection_id"):
            if q.get(key):
                conn = self.connections.get(q[key])
                return (conn, None) if conn else (None, f"unknown connection {q[key]!r}")
        for key in ("organization_id", "organization"):
            if q.get(key):
                for conn in self.connections.values():
                    if conn.org_id == q[key]:
                        return conn, None
                return None, f"unknown organization {q[key]!r}"
        hint = q.get("login_hint") or q.get("username") or ""
        domain = q.get("domain_hint") or q.get("domain") or hint.rpartition("@")[2]
        for conn in self.connections.values():
            if domain and conn.org_domain == domain.lower():
                return conn, None
        return None, None

    def _par(self, req: Request, rec: Record) -> Response:
        """RFC 9126 pushed authorization request: remember the parameters, answer a request_uri."""
        params = dict(req.form)
        if params.get("client_id") not in self.clients:
            return self._reject(rec, 400, f"unknown client_id {params.get('client_id')!r}")
        uri = self._new("request_uri", "urn:ietf:params:oauth:request_uri:")
        self._pushed[uri] = params
        rec.outcome = "accepted: par"
        return Response.json(201, {"request_uri": uri, "expires_in": 60})

    def _authorize(self, req: Request, rec: Record) -> Response:
        q = req.query
        if "request_uri" in q:  # only a request_uri this provider issued, once, for the same client
            pushed = self._pushed.pop(q["request_uri"], None)
            if pushed is None or pushed.get("client_id") != q.get("client_id"):
                return self._reject(rec, 400, f"request_uri was not issued by {self.name}")
            q = {**pushed, "client_id": q["client_id"]}
        client = self.clients.get(q.get("client_id", ""))
        if client is None:
            return self._reject(rec, 400, f"unknown client_id {q.get('client_id')!r}")
        redirect_uri = q.get("redirect_uri", "")
        if redirect_uri not in client[1]:
            return self._reject(rec, 400, f"redirect_uri {redirect_uri!r} not allowed")
        txn = {
            "client_id": q["client_id"],
            "redirect_uri": redirect_uri,
            "app_state": q.get("state", ""),
            "hint": q.get("login_hint", ""),
            "nonce": q.get("nonce", ""),
        }
        if "idp_initiated_login" in q:  # only one this provider issued, once
            name = self._idp_logins.pop(q["idp_initiated_login"], None)
            if name is None:
                return self._reject(rec, 400, f"idp_initiated_login was not issued by {self.name}")
            return self._begin_sso(self.connections[name], txn, rec)
        conn, error = self._find_connection(q)
        if error:
            return self._reject(rec, 400, error)
        if conn is None or q.get("prompt") == "login":
            state = self._new("state", "hs_")
            self._hosted[state] = txn
            rec.outcome = "accepted: hosted login page"
            return Response.redirect(f"{self.own_url}/u/login?state={state}", cookies=[self._session_cookie()])
        return self._begin_sso(conn, txn, rec)

    def _begin_sso(self, conn: Connection, txn: dict, rec: Record) -> Response:
        txn = {**txn, "conn": conn.name}
        if conn.protocol == "saml":
            relay = self._new("relay_state", "rs_")
            if self.saml_post_binding:
                req_id, page = conn.sp.authn_request_page(relay)
                self.issued["saml_id"].append(req_id)
                self._saml[req_id] = {**txn, "relay": relay}
                rec.outcome = f"accepted: SAML AuthnRequest {req_id} via {conn.name} (POST binding)"
                resp = Response.text(200, page, "text/html")
                resp.headers.append(("Set-Cookie", self._session_cookie()))
                return resp
            req_id, location = conn.sp.authn_request_location(relay)
            self.issued["saml_id"].append(req_id)
            self._saml[req_id] = {**txn, "relay": relay}
            if txn["hint"]:
                location += "&" + urllib.parse.urlencode({"login_hint": txn["hint"]})
            rec.outcome = f"accepted: SAML AuthnRequest {req_id} via {conn.name}"
            return Response.redirect(location, cookies=[self._session_cookie()])
        state = self._new("state", "st_")
        nonce = secrets.token_urlsafe(12)
        self._oidc[state] = {**txn, "idp_nonce": nonce}
        query = {
            "client_id": conn.client_id,
            "redirect_uri": conn.callback_url,
            "state": state,
            "nonce": nonce,
            "scope": "openid email",
        }
        if conn.form_post:
            query.update(response_type="id_token", response_mode="form_post")
        else:
            query["response_type"] = "code"
        if txn["hint"]:
            query["login_hint"] = txn["hint"]
        rec.outcome = f"accepted: OIDC authorize via {conn.name}"
        return Response.redirect(
            f"{conn.authorize_url}?{urllib.parse.urlencode(query)}", cookies=[self._session_cookie()]
        )

    # -- hosted login page ---------------------------------------------
    def _hosted_page(self, req: Request, rec: Record) -> Response:
        state = req.params.get("state", "")
        txn = self._hosted.get(state)
        if txn is None:
            return self._reject(rec, 400, f"hosted-page state not issued by {self.name}")
        if req.method == "GET":
            rec.outcome = "accepted: hosted page shown"
            page = (
                f'<html><body><form method="post" action="/u/login"><input type="hidden" name="state" '
                f'value="{state}"/><input name="username"/><input name="password" type="password"/>'
                f"</form></body></html>"
            )
            resp = Response.text(200, page, "text/html")
            resp.headers.append(("Set-Cookie", self._session_cookie()))
            return resp
        username = req.form.get("username", "")
        del self._hosted[state]
        conn, _ = self._find_connection({"login_hint": username})
        if conn is not None:
            return self._begin_sso(conn, {**txn, "hint": username}, rec)
        rec.outcome = f"accepted: password login for {username}"
        return self._to_app(txn, username, rec.outcome)

    # -- SAML ACS -------------------------------------------------------
    def _saml_acs(self, req: Request, rec: Record, path_conn: str | None) -> Response:
        if req.method != "POST" or "SAMLResponse" not in req.form:
            return self._reject(rec, 400, "ACS needs a POSTed SAMLResponse")
        # a form encoder that sent base64's '+' unescaped hands them over as spaces: read back, as
        # SAML service providers do
        b64 = req.form["SAMLResponse"].replace(" ", "+")
        try:
            in_response_to, issuer = peek(b64)
        except Exception as exc:
            return self._reject(rec, 400, f"unreadable SAMLResponse {exc!r}")
        if (
            in_response_to
            and in_response_to not in self._saml
            and self.allow_unsolicited
            and self.unsolicited_in_response_to
        ):
            in_response_to = None  # an IdP-initiated Response naming a request nobody here sent
        if in_response_to:
            txn = self._saml.get(in_response_to)
            if txn is None:
                return self._reject(rec, 403, f"InResponseTo {in_response_to} was not issued by {self.name}")
            conn = self.connections[txn["conn"]]
            if path_conn is not None and path_conn != conn.name:
                return self._reject(rec, 403, f"ACS connection {path_conn} != requested {conn.name}")
            if req.form.get("RelayState", "") != txn["relay"]:
                return self._reject(rec, 403, "RelayState does not match the one sent")
            try:
                user = conn.sp.consume(b64, in_response_to=in_response_to, allow_unsolicited=False)
            except SamlRejected as exc:
                return self._reject(rec, 403, f"SAML response refused: {exc}")
            del self._saml[in_response_to]
            rec.outcome = f"accepted: SP-initiated SAML for {user} via {conn.name}"
            return self._to_app(txn, user, rec.outcome)
        if not self.allow_unsolicited:
            return self._reject(rec, 403, "unsolicited SAML response refused")
        candidates = [
            c
            for c in self.connections.values()
            if c.protocol == "saml" and c.sp.idp_entity_id == issuer and (path_conn is None or c.name == path_conn)
        ]
        if not candidates:
            return self._reject(rec, 403, f"no SAML connection for issuer {issuer!r} at {path_conn or '-'}")
        conn = candidates[0]
        try:
            user = conn.sp.consume(b64, in_response_to=None, allow_unsolicited=True)
        except SamlRejected as exc:
            return self._reject(rec, 403, f"SAML response refused: {exc}")
        rec.outcome = f"accepted: IdP-initiated SAML for {user} via {conn.name}"
        if self.idp_initiated_login:  # the app is told to start a login of its own, with this token
            token = self._new("idp_initiated_login", "iil_", 24)
            self._idp_logins[token] = conn.name
            app = next(uris[0] for _, uris in self.clients.values() if uris)
            return Response.redirect(f"{app}?{urllib.parse.urlencode({'idp_initiated_login': token})}")
        if self.app_saml_acs:  # as the app's SAML IdP: an assertion of its own, posted to the app
            fields = {"SAMLResponse": base64.b64encode(f"<{self.name} assertion for {user}>".encode()).decode()}
            if req.form.get("RelayState"):
                fields["RelayState"] = req.form["RelayState"]
            return Response.text(200, auto_post_form(self.app_saml_acs, fields), "text/html")
        default_client = next(cid for cid, (_, uris) in self.clients.items() if uris)
        txn = {
            "client_id": default_client,
            "redirect_uri": self.clients[default_client][1][0],
            "app_state": "",
            "nonce": "",
        }
        return self._to_app(txn, user, rec.outcome)

    # -- OIDC callback --------------------------------------------------
    def _oidc_callback(self, req: Request, rec: Record, path_conn: str | None) -> Response:
        params = req.params
        txn = self._oidc.get(params.get("state", ""))
        if txn is None:
            return self._reject(rec, 403, f"OIDC state not issued by {self.name}")
        conn = self.connections[txn["conn"]]
        if path_conn is not None and path_conn != conn.name:
            return self._reject(rec, 403, f"callback connection {path_conn} != {conn.name}")
        if "code" in params:
            try:
                r = httpx.post(
                    conn.token_url,
                    auth=(conn.client_id, conn.client_secret),
                    timeout=5,
                    data={
                        "grant_type": "authorization_code",
                        "code": params["code"],
                        "redirect_uri": conn.callback_url,
                    },
                )
            except httpx.HTTPError as exc:
                return self._reject(rec, 502, f"IdP token endpoint: {exc!r}")
            if r.status_code != 200:
                return self._reject(rec, 403, f"IdP refused the code: {r.text}")
            id_token = r.json()["id_token"]
        elif "id_token" in req.form:
            id_token = req.form["id_token"]
        else:
            return self._reject(rec, 400, "callback without code or id_token")
        try:
            claims = jwt.decode(
                id_token, conn.idp_public_pem, algorithms=["RS256"], audience=conn.client_id, issuer=conn.issuer
            )
        except jwt.PyJWTError as exc:
            return self._reject(rec, 403, f"IdP id_token refused: {exc}")
        if claims.get("nonce") != txn["idp_nonce"]:
            return self._reject(rec, 403, "IdP id_token nonce mismatch")
        del self._oidc[params["state"]]
        rec.outcome = f"accepted: OIDC login for {claims['email']} via {conn.name}"
        return self._to_app(txn, claims["email"], rec.outcome)

    def _to_app(self, txn: dict, user: str, outcome: str) -> Response:
        code = self._new("code", "", 24)
        self._codes[code] = {**txn, "user": user, "used": False}
        query = {"code": code}
        if txn.get("app_state"):
            query["state"] = txn["app_state"]
        sep = "&" if "?" in txn["redirect_uri"] else "?"
        return Response.redirect(f"{txn['redirect_uri']}{sep}{urllib.parse.urlencode(query)}")

    # -- OAuth server ---------------------------------------------------
    def _client_auth(self, req: Request) -> str | None:
        creds = req.basic_auth() or (req.form.get("client_id", ""), req.form.get("client_secret", ""))
        client = self.clients.get(creds[0])
        return creds[0] if client is not None and client[0] == creds[1] else None

    def _issue_tokens(self, client_id: str, user: str, nonce: str = "", with_id: bool = True) -> dict:
        access = self._new("access_token", "", 32)
        self._access[access] = {"client_id": client_id, "user": user, "exp": time.time() + 3600}
        out = {"access_token": access, "token_type": "Bearer", "expires_in": 3600}
        if with_id:
            now = int(time.time())
            claims = {
                "iss": self.issuer,
                "aud": client_id,
                "sub": f"{self.name}|{user}",
                "email": user,
                "iat": now,
                "exp": now + 3600,
            }
            if nonce:
                claims["nonce"] = nonce
            id_token = jwt.encode(
                claims, self.keypair.private_pem, algorithm="RS256", headers={"kid": self.keypair.kid}
            )
            self._id_tokens.add(id_token)
            self.issued["id_token"].append(id_token)
            out["id_token"] = id_token
            refresh = self._new("refresh_token", "", 32)
            self._refresh[refresh] = {"client_id": client_id, "user": user}
            out["refresh_token"] = refresh
        return out

    def _token(self, req: Request, rec: Record) -> Response:
        client_id = self._client_auth(req)
        if client_id is None:
            rec.outcome = "rejected: client authentication failed"
            return Response.json(401, {"error": "invalid_client", "provider": self.name})
        grant = req.form.get("grant_type")
        if grant == "authorization_code":
            code = self._codes.get(req.form.get("code", ""))
            if code is None:
                rec.outcome = f"rejected: code not issued by {self.name}"
                return Response.json(400, {"error": "invalid_grant", "provider": self.name})
            if (
                code["used"]
                or code["client_id"] != client_id
                or req.form.get("redirect_uri", code["redirect_uri"]) != code["redirect_uri"]
            ):
                rec.outcome = "rejected: code used, or for another client/redirect_uri"
                return Response.json(400, {"error": "invalid_grant", "provider": self.name})
            code["used"] = True
            rec.outcome = f"accepted: code exchanged for {code['user']}"
            return Response.json(200, self._issue_tokens(client_id, code["user"], code.get("nonce", "")))
        if grant == "refresh_token":
            refresh = self._refresh.get(req.form.get("refresh_token", ""))
            if refresh is None or refresh["client_id"] != client_id or req.form["refresh_token"] in self._revoked:
                rec.outcome = f"rejected: refresh token not issued by {self.name} (or revoked)"
                return Response.json(400, {"error": "invalid_grant", "provider": self.name})
            rec.outcome = "accepted: refreshed"
            return Response.json(200, self._issue_tokens(client_id, refresh["user"], with_id=False))
        if grant == "client_credentials":
            if self.clients[client_id][1]:
                rec.outcome = "rejected: not an M2M client"
                return Response.json(400, {"error": "unauthorized_client", "provider": self.name})
            rec.outcome = f"accepted: client_credentials for {client_id}"
            return Response.json(200, self._issue_tokens(client_id, client_id, with_id=False))
        rec.outcome = f"rejected: grant_type {grant!r}"
        return Response.json(400, {"error": "unsupported_grant_type", "provider": self.name})

    def _userinfo(self, req: Request, rec: Record) -> Response:
        token = req.bearer() or ""
        info = self._access.get(token)
        if info is None or token in self._revoked:
            rec.outcome = f"rejected: access token not issued by {self.name} (or revoked)"
            return Response.json(401, {"error": "invalid_token", "provider": self.name})
        rec.outcome = f"accepted: userinfo for {info['user']}"
        return Response.json(200, {"sub": f"{self.name}|{info['user']}", "email": info["user"], "provider": self.name})

    def _known_token(self, token: str) -> bool:
        return token in self._access or token in self._refresh or token in self._id_tokens

    def _revoke_or_introspect(self, req: Request, rec: Record, introspect: bool) -> Response:
        token = req.form.get("token", "")
        if not self._known_token(token):
            rec.outcome = f"rejected: token not issued by {self.name}"
            return Response.json(400, {"error": "invalid_token", "provider": self.name})
        if introspect:
            active = token not in self._revoked
            rec.outcome = f"accepted: introspected (active={active})"
            return Response.json(200, {"active": active, "iss": self.issuer})
        self._revoked.add(token)
        rec.outcome = "accepted: revoked"
        return Response.json(200, {})

    def _logout(self, req: Request, rec: Record) -> Response:
        hint = req.query.get("id_token_hint", "")
        if hint and hint not in self._id_tokens:
            return self._reject(rec, 400, f"id_token_hint not issued by {self.name}")
        rec.outcome = "accepted: logged out"
        return Response.redirect(
            req.query.get("post_logout_redirect_uri") or req.query.get("returnTo") or "https://app.test/logged-out"
        )
