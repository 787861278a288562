"""The router's own sticky cookie: MAC-signed (``routing.keyed``) ``provider|org|expiry``; any defect reads as None."""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import NamedTuple

from .keyed import mac
from .model import Route

COOKIE_NAME = "sso_router"
MAX_COOKIE = 512  # checked before anything is decoded


def _b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode("ascii")


def _mac(secret: bytes, payload: bytes, shadow: bool) -> bytes:
    # a cookie set in shadow mode is signed in its own domain: once shadow is switched off it no
    # longer verifies, so it cannot send a browser whose login lives at legacy to the decided provider
    domain = b"sticky-shadow\0" if shadow else b"sticky\0"
    return mac(secret, domain + payload)


def sign(route: Route, *, secret: bytes, expires: int, shadow: bool = False) -> str:
    payload = f"{route.provider}|{route.org or ''}|{expires}".encode()
    return f"{_b64(payload)}.{_b64(_mac(secret, payload, shadow))}"


def verify(value: str | None, *, secret: bytes, now: float, shadow: bool = False) -> Route | None:
    parts = _parts(value)
    if parts is None:
        return None
    payload, tag = parts
    if not hmac.compare_digest(tag, _mac(secret, payload, shadow)):
        return None
    said = _payload(payload)
    return said.route if said is not None and said.expires > now else None


class Said(NamedTuple):
    """What a cookie says, signature unchecked."""

    route: Route
    expires: int


def read_unverified(value: str | None) -> Said | None:
    """What the cookie says, without checking its signature: for ``sso-router explain``, which
    replays a capture without the proxy's key (and ``redact``, which keeps it). Never for routing."""
    if not value or len(value) > MAX_COOKIE or value.count(".") != 1:
        return None
    body = value.split(".")[0]
    try:
        return _payload(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (binascii.Error, ValueError):
        return None


def _parts(value: str | None) -> tuple[bytes, bytes] | None:
    if not value or len(value) > MAX_COOKIE or value.count(".") != 1:
        return None
    body, tag = value.split(".")
    try:
        return (
            base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)),
            base64.urlsafe_b64decode(tag + "=" * (-len(tag) % 4)),
        )
    except (binascii.Error, ValueError):
        return None


def _payload(payload: bytes) -> Said | None:
    try:
        provider, org, expires = payload.decode().split("|")
        return Said(Route(provider, org or None), int(expires)) if provider else None
    except ValueError:
        return None


def set_cookie_header(value: str, *, secure: bool, max_age: int) -> str:
    attrs = f"{COOKIE_NAME}={value}; Path=/; Max-Age={max_age}; HttpOnly"
    return attrs + ("; SameSite=None; Secure" if secure else "; SameSite=Lax")


def read_cookie(cookie_header: str | None) -> str | None:
    """Our cookie's value from a ``Cookie`` header (the last one wins, as browsers send newest last)."""
    if not cookie_header or COOKIE_NAME not in cookie_header:
        return None
    found = None
    for part in cookie_header.split(";"):
        name, sep, val = part.strip().partition("=")
        if sep and name == COOKIE_NAME:
            found = val.strip().strip('"')
    return found
