"""mitmweb contentviews for SSO payloads: SAML messages and JWTs, decoded for reading, never verified.

Everything goes through the router's own hardened readers and limits (``routing.extract``): bounded
base64 and inflate, the one XML parser (no DTD, entities or network), the bounded JWT reader. A view
never shows a cookie, never echoes a payload it could not decode, and never raises for bad input: a
field that cannot be read becomes a ``not shown: <reason>`` line. ``prettify`` raises ``ValueError``
(as mitmproxy's API expects) only when the message has nothing for the view at all.

``register()`` / ``unregister()`` are idempotent; the addon calls them from ``load()`` / ``done()``.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from typing import Any

from lxml import etree
from mitmproxy import contentviews, http
from mitmproxy.contentviews import Contentview, Metadata

from ..extract.jwt import read_jwt_claims
from ..extract.saml import SamlMessage, decode_b64, inflate, read_saml_xml
from ..extract.xml import parse_xml
from ..limits import Limits
from .view_fields import Field, body_has, body_pairs, heading, pick_fields, text_block, url_has, url_pairs

__all__ = ["JwtContentview", "SamlContentview", "jwt_view", "register", "saml_view", "unregister"]

SAML_FIELDS = ("SAMLRequest", "SAMLResponse")
JWT_FIELDS = ("id_token", "client_assertion", "idp_initiated_login", "id_token_hint", "logout_token")
MAYBE_JWT_FIELDS = ("access_token", "refresh_token", "token", "assertion", "subject_token")  # shown if JWS-shaped
JWT_CLAIMS = ("iss", "sub", "aud", "azp", "email", "tid", "exp", "iat")

_JWT_NAMES = tuple(n.encode() for n in (*JWT_FIELDS, *MAYBE_JWT_FIELDS))

PRIORITY_BODY = 1.5  # above the built-in urlencoded/JSON/XML/HTML views (1.0)
PRIORITY_QUERY = 0.9  # empty body, payload in the URL: above the built-in query view (0.3)
_XML_HEAD = 2048
_SAML_NS = b"urn:oasis:names:tc:SAML:2.0:protocol"
_B64_BODY = re.compile(rb"[A-Za-z0-9+/_\-\s]+=*\s*")
_JWS = re.compile(r"eyJ[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]*")


def _b64_prefix(s: bytes) -> bytes:
    """The base64 text every encoding of a document starting with ``s`` starts with."""
    return base64.b64encode(s[: len(s) // 3 * 3])


# Bare base64 bodies that decode to XML (a SAML message posted as the whole body).
_B64_XML_STARTS = tuple(_b64_prefix(s) for s in (b"<?xml ", b"<samlp:", b"<saml2p:", b"<samlp2:"))


class _RouterView(Contentview):
    """What both views share: the router's limits, and nothing over ``max_body`` is looked at."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()

    def too_big(self, data: bytes) -> bool:
        return len(data) > self.limits.max_body


# -- SAML ---------------------------------------------------------------------------------------
class SamlContentview(_RouterView):
    """SAMLRequest / SAMLResponse in either binding, as a routing-field header plus pretty XML."""

    name = "SAML"
    syntax_highlight = "xml"

    def render_priority(self, data: bytes, metadata: Metadata) -> float:
        if self.too_big(data):
            return -1
        if data:
            if body_has(data, metadata, (b"SAMLRequest", b"SAMLResponse")):
                return PRIORITY_BODY
            head = data[:_XML_HEAD]
            if _SAML_NS in head and b"Envelope" not in head and head.lstrip()[:1] == b"<":
                return PRIORITY_BODY
            if data[:64].lstrip().startswith(_B64_XML_STARTS):
                return PRIORITY_BODY
        if url_has(metadata, ("SAMLRequest=", "SAMLResponse=")):
            if isinstance(metadata.http_message, http.Response):
                return PRIORITY_BODY  # a redirect's body is boilerplate; the Location is the message
            return PRIORITY_QUERY if not data else -1
        return -1

    def fields(self, data: bytes, metadata: Metadata) -> list[Field]:
        where, pairs = body_pairs(data, metadata, self.limits)
        found = pick_fields(where, pairs, SAML_FIELDS)
        stripped = data.strip()
        if not found and stripped and not self.too_big(data):
            if stripped[:1] == b"<" and _SAML_NS in stripped[:_XML_HEAD]:
                found.append(Field("SAML", stripped, "XML body"))
            elif _B64_BODY.fullmatch(stripped):
                found.append(Field("SAML", stripped, "body"))
        uwhere, upairs = url_pairs(metadata)
        return found + pick_fields(uwhere, upairs, SAML_FIELDS)

    def prettify(self, data: bytes, metadata: Metadata) -> str:
        found = self.fields(data, metadata)
        if not found:
            raise ValueError("no SAMLRequest or SAMLResponse in this message")
        return "\n\n".join(self._section(f) for f in found)

    def _section(self, f: Field) -> str:
        binding = "HTTP-Redirect binding" if f.where in ("query", "Location") else "HTTP-POST binding"
        if f.where == "XML body":
            binding = "raw XML"
        try:
            xml = self._xml(f)
            msg = read_saml_xml(xml, self.limits)
            root = parse_xml(xml, max_size=self.limits.max_xml, kind="saml")
            etree.indent(root, space="  ")
            pretty = etree.tostring(root, pretty_print=True, encoding="unicode")
        except Exception as e:  # noqa: BLE001 — a view shows why, it never raises for bad input
            return f"{heading(f, binding)}\nnot shown: {_reason(e)}"
        return f"{heading(f, binding, msg.kind)}\n{saml_header(msg)}\n\n{pretty.rstrip()}"

    def _xml(self, f: Field) -> bytes:
        if f.where == "XML body":
            return f.value if isinstance(f.value, bytes) else f.value.encode()
        raw = decode_b64(f.value, max_size=self.limits.max_xml)
        if raw.lstrip()[:1] == b"<":  # HTTP-POST, or a Redirect sender that forgot to deflate
            return raw
        return inflate(raw, max_size=self.limits.max_inflate)


def saml_header(msg: SamlMessage) -> str:
    """The routing fields of a SAML message, one per line; ``-`` where the message has none."""
    return text_block(
        [
            ("Issuer", msg.issuer or "-"),
            ("ID", msg.id or "-"),
            ("InResponseTo", msg.in_response_to or "-"),
            ("Destination", msg.destination or "-"),
            ("Audience", ", ".join(msg.audiences) or "-"),
            ("NameID", msg.name_id or "-"),
        ]
    )


# -- JWT ----------------------------------------------------------------------------------------
class JwtContentview(_RouterView):
    """Compact JWTs (``id_token``, ``client_assertion``, token responses, bearer tokens) as header
    and claims. Decoded only: nothing here checks a signature, and the output says so."""

    name = "JWT"
    syntax_highlight = "yaml"  # a superset of JSON, mitmproxy's own advice for JSON output

    def render_priority(self, data: bytes, metadata: Metadata) -> float:
        if self.too_big(data):
            return -1
        if data:
            if b"eyJ" in data and body_has(data, metadata, _JWT_NAMES, b"eyJ"):
                return PRIORITY_BODY - 0.1
            bare = data[:16].lstrip()
            if bare.startswith(b"eyJ") and len(data) <= self.limits.max_jwt + 64 and data.count(b".") == 2:
                return PRIORITY_BODY - 0.1
            if not isinstance(metadata.http_message, http.Response):
                return -1
        if url_has(metadata, ("=eyJ",)):
            return PRIORITY_QUERY - 0.1 if not data else PRIORITY_BODY - 0.1
        msg = metadata.http_message
        if not data and isinstance(msg, http.Request) and msg.headers.get("authorization", "")[:10] == "Bearer eyJ":
            return PRIORITY_QUERY - 0.1
        return -1

    def fields(self, data: bytes, metadata: Metadata) -> list[Field]:
        where, pairs = body_pairs(data, metadata, self.limits)
        found = _jwt_fields(where, pairs)
        stripped = data.strip()
        if not found and stripped[:3] == b"eyJ" and len(stripped) <= self.limits.max_jwt:
            found.append(Field("JWT", stripped.decode("ascii", "replace"), "body"))
        found += _jwt_fields(*url_pairs(metadata))
        msg = metadata.http_message
        if isinstance(msg, http.Request):
            scheme, _, cred = msg.headers.get("authorization", "").strip().partition(" ")
            if scheme.lower() == "bearer" and _JWS.fullmatch(cred.strip()):
                found.append(Field("Bearer token", cred.strip(), "Authorization header"))
        return found

    def prettify(self, data: bytes, metadata: Metadata) -> str:
        found = self.fields(data, metadata)
        if not found:
            raise ValueError("no JWT in this message")
        return "\n\n".join(self._section(f) for f in found)

    def _section(self, f: Field) -> str:
        title = heading(f, "JWT, decoded, signature NOT verified")
        token = f.value if isinstance(f.value, str) else f.value.decode("ascii", "replace")
        try:
            claims = read_jwt_claims(token, limits=self.limits)
            header = jwt_header(token, self.limits)
            body = (
                f"header:\n{json.dumps(header, indent=2, ensure_ascii=False)}\n"
                f"claims:\n{json.dumps(claims, indent=2, ensure_ascii=False)}"
            )
        except Exception as e:  # noqa: BLE001 — a view shows why, it never raises for bad input
            return f"{title}\nnot shown: {_reason(e)}"
        rows = [("alg", header.get("alg", "-"))] + [(k, _claim(claims[k])) for k in JWT_CLAIMS if k in claims]
        return f"{title}\n{text_block(rows)}\n\n{body}"


def _jwt_fields(where: str, pairs: list[tuple[str, str]]) -> list[Field]:
    return [
        Field(k, v, where) for k, v in pairs if k in JWT_FIELDS or (k in MAYBE_JWT_FIELDS and _JWS.fullmatch(v.strip()))
    ]


def jwt_header(token: str, limits: Limits) -> dict[str, Any]:
    """The JOSE header, read by the same bounded reader as the claims.

    ``read_jwt_claims`` already checked the header is a base64url JSON object but returns only the
    claims; moving the header segment into the claims position reuses exactly those checks and bounds."""
    head = token.strip().split(".", 1)[0]
    return read_jwt_claims(f"e30.{head}.", limits=limits)  # e30 = base64url("{}")


def _claim(v: Any) -> str:
    if isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < 1e11:
        try:
            return f"{v} ({datetime.fromtimestamp(v, UTC):%Y-%m-%dT%H:%M:%SZ})"
        except (OverflowError, OSError, ValueError):
            pass
    if isinstance(v, list):
        return ", ".join(map(str, v))
    return str(v)


def _reason(e: Exception) -> str:
    """Why a field is not shown: the reader's own message (never the payload), else the error type."""
    if isinstance(e, ValueError) and getattr(e, "kind", None):
        return str(e)
    return f"{type(e).__name__} while decoding"


# -- registration -------------------------------------------------------------------------------
saml_view = SamlContentview()
jwt_view = JwtContentview()
VIEWS: tuple[_RouterView, ...] = (saml_view, jwt_view)


def _ours(view: object, ref: Contentview) -> bool:
    # Same class even if this module was imported afresh (a reload builds new instances).
    return type(view).__qualname__ == type(ref).__qualname__ and type(view).__module__ == type(ref).__module__


def register(limits: Limits | None = None) -> None:
    """Add the views to mitmproxy's registry (idempotent). ``limits``: the mapping's, if given."""
    for v in VIEWS:
        if limits is not None:
            v.limits = limits
        if contentviews.registry.get(v.name) is not v:
            contentviews.add(v)


def unregister() -> None:
    """Remove the views (idempotent; never someone else's view of the same name)."""
    from . import mitm12

    for v in VIEWS:
        mitm12.remove_contentview(v, _ours)
