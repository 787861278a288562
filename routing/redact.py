"""Secrets out, routing identifiers in: the value-level rules behind ``sso-router redact``. Pure.

A secret (code, state, RelayState, token, password, client secret, cookie value) becomes a
stand-in derived from a keyed hash of it, so the same value redacts the same way
everywhere in one capture: a code issued in a response still correlates with the
request that brings it back. A SAML message becomes a minimal unsigned one that keeps
its kind, ID, InResponseTo, Issuer, Destination, Audience and only the NameID's
domain; a JWT becomes an unsigned one that keeps ``iss``, ``tid``/``tenantId`` and the
email's domain (and ``sub`` of a ``client_assertion``). An email keeps its domain; one
listed in ``keep_emails`` (the mapping's ``test_users``) is kept whole. Bodies that are
neither forms, JSON nor auto-post HTML forms are dropped.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html
import json
import re
import secrets
import zlib
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from . import sticky
from .errors import ExtractError
from .extract.html_form import read_form
from .extract.saml import parse_saml
from .limits import Limits
from .standins import minimal_saml, unsigned_jwt

SAML_PARAMS = frozenset({"SAMLRequest", "SAMLResponse"})
EMAIL_PARAMS = frozenset({"login_hint", "username", "email", "user", "userName", "identifier"})
# any name containing one of these (case-insensitive) holds a secret
_SECRET_PARTS = (
    "token",
    "secret",
    "password",
    "passwd",
    "code",
    "key",
    "session",
    "csrf",
    "xsrf",
    "ticket",
    "assertion",
    "signature",
    "otp",
    "credential",
    "nonce",
    "verifier",
    "auth",
    "cookie",
    "sid",
)
SECRET_PARAMS = frozenset(
    {"state", "RelayState", "request_uri", "idp_initiated_login", "SAMLart", "sig", "wresult", "wctx", "pin"}
)
_JWT = re.compile(r"^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_URL_HEADERS = frozenset({"location", "referer", "content-location", "refresh"})
_KEEP_HEADERS = frozenset(
    {
        "content-type",
        "content-length",
        "content-encoding",
        "host",
        "origin",
        "accept",
        "user-agent",
        "sec-fetch-site",
        "sec-fetch-mode",
        "sec-fetch-dest",
        "x-sso-route",
        "transfer-encoding",
        "accept-encoding",
        "connection",
        "date",
        "cache-control",
    }
)
_LIMITS = Limits()


def is_secret_name(name: str) -> bool:
    low = name.lower()
    return name in SECRET_PARAMS or low in ("state", "relaystate") or any(p in low for p in _SECRET_PARTS)


class Redactor:
    def __init__(
        self,
        *,
        key: bytes | None = None,
        keep_emails: frozenset[str] = frozenset(),
        force_header: str = "x-force-sk-route",
    ) -> None:
        self.key = key or secrets.token_bytes(32)
        self.keep_emails = frozenset(e.lower() for e in keep_emails)
        self.force_header = force_header.lower()

    # -- values --------------------------------------------------------------------------------
    def digest(self, value: str, n: int = 24) -> str:
        return hmac.new(self.key, value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:n]

    def standin(self, value: str) -> str:
        """Any secret value: a JWT keeps its routing claims, anything else becomes a keyed hash."""
        if not value:
            return value
        if _JWT.match(value.strip()):
            return self.jwt(value.strip())
        return "redacted-" + self.digest(value)

    def email(self, value: str) -> str:
        v = value.strip()
        if "@" not in v:
            return self.standin(v) if v else v
        if v.lower() in self.keep_emails:
            return v
        return f"u-{self.digest(v.lower(), 10)}@{v.rsplit('@', 1)[1]}"

    def jwt(self, token: str, *, keep_sub: bool = False) -> str:
        try:
            seg = token.split(".")[1]
            claims = json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))
        except (IndexError, ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
            return "redacted-" + self.digest(token)
        if not isinstance(claims, dict):
            return "redacted-" + self.digest(token)
        kept: dict[str, Any] = {k: claims[k] for k in ("iss", "tid", "tenantId") if isinstance(claims.get(k), str)}
        if keep_sub and isinstance(claims.get("sub"), str):
            kept["sub"] = claims["sub"]
        if isinstance(claims.get("email"), str):
            kept["email"] = self.email(claims["email"])
        kept["jti"] = self.digest(token)  # distinct tokens stay distinct
        return unsigned_jwt(kept)

    def saml(self, value: str, *, deflated: bool) -> str:
        try:
            msg = parse_saml(value, deflated=deflated, limits=_LIMITS)
        except ExtractError:
            return "redacted-" + self.digest(value)
        xml = minimal_saml(
            msg.kind,
            msg.id,
            msg.in_response_to,
            msg.destination,
            msg.issuer,
            msg.audiences,
            self.email(msg.name_id) if msg.name_id and "@" in msg.name_id else ("redacted" if msg.name_id else None),
        ).encode()
        if deflated:
            c = zlib.compressobj(9, zlib.DEFLATED, -15)
            xml = c.compress(xml) + c.flush()
        return base64.b64encode(xml).decode("ascii")

    def param(self, name: str, value: str, *, deflated: bool) -> str:
        if name in SAML_PARAMS:
            return self.saml(value, deflated=deflated)
        if name in EMAIL_PARAMS:
            return self.email(value)
        if name == "client_assertion" and _JWT.match(value.strip()):
            return self.jwt(value.strip(), keep_sub=True)
        if is_secret_name(name) or _JWT.match(value.strip()):
            return self.standin(value)
        if value[:1] == "{":
            return self.json_text(value)
        return _EMAIL.sub(lambda m: self.email(m.group(0)), value) if "@" in value else value

    # -- containers ----------------------------------------------------------------------------
    def query(self, query: str, *, deflated: bool = True) -> str:
        if not query:
            return query
        pairs = parse_qsl(query, keep_blank_values=True)
        return urlencode([(k, self.param(k, v, deflated=deflated)) for k, v in pairs], quote_via=quote)

    def url(self, url: str) -> str:
        try:
            u = urlsplit(url)
        except ValueError:
            return "redacted-" + self.digest(url)
        netloc = u.netloc.rsplit("@", 1)[-1]  # no user:password@
        frag = self.query(u.fragment) if "=" in u.fragment else u.fragment
        return urlunsplit((u.scheme, netloc, u.path, self.query(u.query), frag))

    def form(self, body: bytes) -> bytes:
        pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        return urlencode([(k, self.param(k, v, deflated=False)) for k, v in pairs]).encode()

    def json_value(self, key: str, v: Any) -> Any:
        if isinstance(v, dict):
            return {k: self.json_value(k, x) for k, x in v.items()}
        if isinstance(v, list):
            return [self.json_value(key, x) for x in v]
        if isinstance(v, str):
            return self.param(key, v, deflated=False)
        if (
            isinstance(v, (int, float))
            and not isinstance(v, bool)
            and is_secret_name(key)
            and key != "expires_in"
            and not key.endswith("expires_in")
        ):
            return 0
        return v

    def json_text(self, text: str) -> str:
        try:
            obj = json.loads(text)
        except (ValueError, RecursionError):
            return "redacted-" + self.digest(text)
        return json.dumps(self.json_value("", obj))

    def html_form(self, body: bytes) -> bytes:
        action, fields = read_form(body, max_size=_LIMITS.max_html)
        if action is None:
            return b""
        inputs = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(self.param(k, v, deflated=False))}"/>'
            for k, v in fields.items()
        )
        return (
            f'<html><body onload="document.forms[0].submit()"><form method="post" '
            f'action="{html.escape(self.url(action))}">{inputs}</form></body></html>'
        ).encode()

    def body(self, body: bytes, content_type: str) -> bytes:
        """A request or response body with its secrets replaced; b"" when it is of no other kind."""
        if not body:
            return body
        ct = content_type
        head = body.lstrip()[:1]
        if ct.endswith("json") or (not ct and head in (b"{", b"[")):
            try:
                return json.dumps(self.json_value("", json.loads(body))).encode()
            except (ValueError, RecursionError):
                return b""
        if ct == "application/x-www-form-urlencoded" or (not ct and b"=" in body[:256] and head != b"<"):
            return self.form(body)
        if ct == "text/html":
            return self.html_form(body)
        return b""

    def header(self, name: str, value: str) -> str:
        low = name.lower()
        if low in _KEEP_HEADERS:
            return value
        if low in ("authorization", "proxy-authorization"):
            return self.authorization(value)
        if low == "cookie":
            return "; ".join(self.cookie_pair(c) for c in value.split(";") if c.strip())
        if low == "set-cookie":
            first, sep, attrs = value.partition(";")
            return self.cookie_pair(first) + sep + attrs
        if low in _URL_HEADERS:
            if low == "refresh":
                delay, sep, rest = value.partition(";")
                return delay + sep + (re.sub(r"(?i)(url=)(.*)", lambda m: m.group(1) + self.url(m.group(2)), rest))
            return self.url(value)
        if low == self.force_header:
            return value if value.strip().lower() == "yes" else self.standin(value)
        if any(p in low for p in _SECRET_PARTS):
            return self.standin(value)
        return value

    def cookie_pair(self, pair: str) -> str:
        name, sep, value = pair.strip().partition("=")
        if not sep:
            return self.standin(name)
        if name == sticky.COOKIE_NAME:
            return f"{name}={self.router_cookie(value.strip())}"
        return f"{name}={self.standin(value.strip())}"

    def router_cookie(self, value: str) -> str:
        """The router's own cookie keeps what it says (provider, org, expiry: routing, as a redacted
        capture must explain the same way), not its signature."""
        body, dot, _ = value.partition(".")
        if dot and sticky.read_unverified(value) is not None:
            return f"{body}.redacted-{self.digest(value)}"
        return self.standin(value)

    def authorization(self, value: str) -> str:
        scheme, _, cred = value.strip().partition(" ")
        cred = cred.strip()
        if scheme.lower() == "basic":
            try:
                user, sep, _ = base64.b64decode(cred, validate=True).decode("utf-8").partition(":")
            except (binascii.Error, ValueError, UnicodeDecodeError):
                return f"{scheme} {self.standin(cred)}"
            if sep:
                return f"{scheme} " + base64.b64encode(f"{user}:redacted".encode()).decode()
            return f"{scheme} {self.standin(cred)}"
        return f"{scheme} {self.standin(cred)}" if cred else self.standin(scheme)
