"""A customer's OIDC IdP (Okta-like), one tenant per issuer, all on one port.

``/<slug>/authorize`` sends the browser back to the registered ``redirect_uri`` (the provider's
callback on the public URL) with ``code`` + ``state``, or, with ``response_mode=form_post``, posts a
signed ``id_token`` + ``state``. ``POST /<slug>/token`` redeems a code once for its client.
"""

from __future__ import annotations

import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass

import jwt

from .http import PeerServer, Record, Request, Response, auto_post_form
from .keys import KeyPair


@dataclass(frozen=True)
class OidcTenant:
    slug: str
    default_user: str


class OidcIdP:
    def __init__(self, keypair: KeyPair, tenants: list[OidcTenant]):
        self.keypair = keypair
        self.tenants = {t.slug: t for t in tenants}
        self.server = PeerServer("oidc-idp", self._handle)
        self.clients: dict[tuple[str, str], tuple[str, list[str]]] = {}  # (slug, client_id) -> (secret, redirect_uris)
        self._codes: dict[str, dict] = {}
        self._lock = threading.Lock()

    def issuer(self, slug: str) -> str:
        return f"{self.server.url}/{slug}"

    def register_client(self, slug: str, client_id: str, secret: str, redirect_uris: list[str]) -> None:
        self.clients[(slug, client_id)] = (secret, list(redirect_uris))

    def id_token(self, slug: str, client_id: str, user: str, nonce: str | None) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer(slug),
            "aud": client_id,
            "sub": f"okta|{user}",
            "email": user,
            "iat": now,
            "exp": now + 600,
        }
        if nonce:
            claims["nonce"] = nonce
        return jwt.encode(claims, self.keypair.private_pem, algorithm="RS256", headers={"kid": self.keypair.kid})

    def _handle(self, req: Request, rec: Record) -> Response:
        slug, _, action = req.path.strip("/").partition("/")
        if slug not in self.tenants:
            return Response.text(404, f"oidc-idp: no tenant {slug!r}")
        if action == "authorize":
            return self._authorize(slug, req, rec)
        if action == "token" and req.method == "POST":
            return self._token(slug, req, rec)
        if action == "jwks":
            return Response.json(200, {"keys": [self.keypair.jwk()]})
        return Response.text(404, "oidc-idp: unknown endpoint")

    def _authorize(self, slug: str, req: Request, rec: Record) -> Response:
        q = req.query
        client = self.clients.get((slug, q.get("client_id", "")))
        if client is None:
            rec.outcome = f"rejected: unknown client {q.get('client_id')!r}"
            return Response.text(400, rec.outcome)
        redirect_uri = q.get("redirect_uri", "")
        if redirect_uri not in client[1]:
            rec.outcome = f"rejected: redirect_uri {redirect_uri!r} not registered"
            return Response.text(400, rec.outcome)
        state = q.get("state", "")
        if not state:
            rec.outcome = "rejected: no state"
            return Response.text(400, rec.outcome)
        user = q.get("login_hint") or self.tenants[slug].default_user
        if q.get("response_mode") == "form_post":
            token = self.id_token(slug, q["client_id"], user, q.get("nonce"))
            rec.outcome = f"accepted: form_post id_token for {user}"
            return Response.text(200, auto_post_form(redirect_uri, {"id_token": token, "state": state}), "text/html")
        code = "idpc_" + secrets.token_urlsafe(16)
        with self._lock:
            self._codes[code] = {
                "slug": slug,
                "client_id": q["client_id"],
                "redirect_uri": redirect_uri,
                "user": user,
                "nonce": q.get("nonce"),
            }
        rec.outcome = f"accepted: code for {user}"
        sep = "&" if "?" in redirect_uri else "?"
        return Response.redirect(f"{redirect_uri}{sep}{urllib.parse.urlencode({'code': code, 'state': state})}")

    def _token(self, slug: str, req: Request, rec: Record) -> Response:
        auth = req.basic_auth() or (req.form.get("client_id", ""), req.form.get("client_secret", ""))
        client = self.clients.get((slug, auth[0]))
        if client is None or client[0] != auth[1]:
            rec.outcome = "rejected: client authentication"
            return Response.json(401, {"error": "invalid_client"})
        with self._lock:
            grant = self._codes.pop(req.form.get("code", ""), None)
        if (
            grant is None
            or grant["client_id"] != auth[0]
            or grant["slug"] != slug
            or grant["redirect_uri"] != req.form.get("redirect_uri")
        ):
            rec.outcome = "rejected: invalid code"
            return Response.json(400, {"error": "invalid_grant"})
        rec.outcome = "accepted: code redeemed"
        return Response.json(
            200,
            {
                "id_token": self.id_token(slug, auth[0], grant["user"], grant["nonce"]),
                "access_token": "idpat_" + secrets.token_urlsafe(16),
                "token_type": "Bearer",
            },
        )
