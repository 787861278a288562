"""Query strings, form and JSON bodies, Basic auth: the named fields routing reads.

Only the fields in ``FIELDS`` are decoded; everything else in a body is skipped
without being unquoted (an 11 KB SAMLResponse form costs one unquote, of itself).
"""

from __future__ import annotations

import base64
import binascii
import json
from urllib.parse import unquote, unquote_to_bytes

from ..limits import Limits

EMAIL_FIELDS = ("login_hint", "username", "email")
DOMAIN_FIELDS = ("domain", "domain_hint")
ORG_ID_FIELDS = ("organization", "organization_id", "tid", "tenantId")
CONNECTION_FIELDS = ("connection", "connection_id", "identity_provider", "providerId")
CORRELATION_FIELDS = {  # field -> store namespace
    "RelayState": "relay_state",
    "state": "state",
    "code": "code",
    "idp_initiated_login": "code",
    "request_uri": "request_uri",
    "token": "token",
    "access_token": "token",  # RFC 6750 form/query parameter
    "refresh_token": "token",
    "id_token_hint": "token",
}
FIELDS = frozenset(
    (
        *EMAIL_FIELDS,
        *DOMAIN_FIELDS,
        *ORG_ID_FIELDS,
        *CONNECTION_FIELDS,
        *CORRELATION_FIELDS,
        "idp_identifier",
        "client_id",
        "client_assertion",
        "id_token",
        "SAMLRequest",
        "SAMLResponse",
        "response_type",
    )
)
_FIELDS_B = frozenset(f.encode() for f in FIELDS)
SAML_FIELDS = ("SAMLRequest", "SAMLResponse")
_SAML_B = frozenset(f.encode() for f in SAML_FIELDS)


class Fields:
    """First value of each routing field; nested (one level deep) values kept apart."""

    __slots__ = ("nested", "query_keys", "saml_form", "top")

    def __init__(self) -> None:
        self.top: dict[str, str] = {}
        self.nested: dict[str, str] = {}
        self.query_keys: set[str] = set()  # fields that came from the query string
        # SAMLRequest/SAMLResponse from a form body, still URL-encoded: an 11 KB value is decoded
        # only as far as routing reads it (see ``extract``)
        self.saml_form: dict[str, bytes] = {}

    def add(self, key: str, value: str, *, from_query: bool = False) -> None:
        if key in FIELDS and key not in self.top:
            self.top[key] = value
            if from_query:
                self.query_keys.add(key)
        elif value[:1] == "{" and len(value) < 65536:
            self.add_nested(_json_object(value))

    def add_nested(self, obj: dict[str, object] | None) -> None:
        if obj:
            for k, v in obj.items():
                if k in FIELDS and isinstance(v, str) and k not in self.nested:
                    self.nested[k] = v


def _json_object(text: str | bytes) -> dict[str, object] | None:
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return obj if isinstance(obj, dict) else None


def read_query(query: str, out: Fields) -> None:
    """Like ``parse_qsl`` (blank values skipped), but only routing fields are URL-decoded."""
    top, from_query = out.top, out.query_keys
    json_params = "{" in query or "%7B" in query or "%7b" in query  # customParameters={...}
    for part in query.split("&"):
        k, _, v = part.partition("=")
        if not v:
            continue
        if k in FIELDS:
            value = _unquote_str(v) if "%" in v or "+" in v else v
            if k not in top:
                top[k] = value
                from_query.add(k)
            else:
                out.add(k, value, from_query=True)
            continue
        if "%" in k or "+" in k:
            k = unquote(k.replace("+", " "))
        elif not json_params or (v[0] != "{" and v[:3] not in ("%7B", "%7b")):
            continue  # not a routing field, not a JSON object parameter
        out.add(k, _unquote_str(v) if "%" in v or "+" in v else v, from_query=True)


def _unquote_str(v: str) -> str:
    """``unquote_plus``; for plain ASCII (what browsers send) through ``unquote_to_bytes``, at half
    the cost. A non-ASCII query (raw bytes reach us as surrogate escapes) takes ``unquote``."""
    v = v.replace("+", " ")
    return unquote_to_bytes(v).decode("utf-8", "replace") if v.isascii() else unquote(v)


def read_form(body: bytes, out: Fields) -> None:
    for part in body.split(b"&"):
        k, sep, v = part.partition(b"=")
        if not sep:
            continue
        if k not in _FIELDS_B:
            if b"%" not in k and b"+" not in k:
                if v[:1] == b"{" or v[:3].upper() == b"%7B":  # a JSON object parameter (customParameters)
                    out.add("", unquote_form(v))
                continue
            key = unquote(k.decode("latin-1").replace("+", " "))
        elif k in _SAML_B:
            key = k.decode("ascii")
            if v and key not in out.top and key not in out.saml_form:
                out.saml_form[key] = v
            continue
        else:
            key = k.decode("ascii")
        out.add(key, unquote_form(v))


def unquote_form(v: bytes) -> str:
    return unquote_to_bytes(v.replace(b"+", b" ")).decode("utf-8", "replace")


def read_json(body: bytes, out: Fields) -> bool:
    obj = _json_object(body)
    if obj is None:
        return False
    for k, v in obj.items():
        if isinstance(v, str):
            out.add(k, v)
        elif isinstance(v, dict):
            out.add_nested(v)
    return True


def basic_auth_user(header: str) -> str | None:
    """The client id of an HTTP Basic ``Authorization`` header (RFC 6749 §2.3.1 form-encodes it)."""
    try:
        raw = base64.b64decode(header.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    user, sep, _ = raw.partition(":")
    return unquote(user.replace("+", " ")) or None if sep else None


def read_body(body: bytes, content_type: str, out: Fields, limits: Limits) -> str | None:
    """Fill ``out`` from a request body. Returns a failure message, or None."""
    if not body:
        return None
    if len(body) > limits.max_body:
        return f"body over max_body ({limits.max_body} bytes): not inspected"
    if content_type == "application/x-www-form-urlencoded":
        read_form(body, out)
    elif content_type.endswith("json"):
        if not read_json(body, out):
            return "JSON body is not a JSON object"
    elif not content_type and b"=" in body[:256] and body[:1] not in (b"{", b"<"):
        read_form(body, out)
    return None
