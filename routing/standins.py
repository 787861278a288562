"""The stand-in messages of a redacted capture: an unsigned JWT and a minimal unsigned SAML message
that keep only what routing reads. Pure."""

from __future__ import annotations

import base64
import html
import json
from typing import Any


def unsigned_jwt(claims: dict[str, Any]) -> str:
    """``alg: none``, no signature: a stand-in can never pass for the token it replaced."""
    head = _b64url(json.dumps({"alg": "none", "typ": "JWT"}, separators=(",", ":")).encode())
    return f"{head}.{_b64url(json.dumps(claims, separators=(',', ':')).encode())}."


def _b64url(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode("ascii")


def minimal_saml(
    kind: str,
    id_: str | None,
    irt: str | None,
    dest: str | None,
    issuer: str | None,
    audiences: tuple[str, ...],
    name_id: str | None,
) -> str:
    """A SAML ``kind`` with only the identifiers routing reads (Issuer, IDs, Destination, Audience,
    the NameID as the caller redacted it); unsigned."""
    e = html.escape
    attrs = "".join(f' {k}="{e(v)}"' for k, v in (("ID", id_), ("InResponseTo", irt), ("Destination", dest)) if v)
    parts = [f"<saml:Issuer>{e(issuer)}</saml:Issuer>" if issuer else ""]
    if kind == "Response" and (name_id or audiences):
        subject = f"<saml:Subject><saml:NameID>{e(name_id)}</saml:NameID></saml:Subject>" if name_id else ""
        aud = "".join(f"<saml:Audience>{e(a)}</saml:Audience>" for a in audiences)
        cond = (
            f"<saml:Conditions><saml:AudienceRestriction>{aud}</saml:AudienceRestriction></saml:Conditions>"
            if aud
            else ""
        )
        parts.append(f'<saml:Assertion ID="redacted" Version="2.0">{subject}{cond}</saml:Assertion>')
    elif name_id:
        parts.append(f"<saml:NameID>{e(name_id)}</saml:NameID>")
    return (
        f'<samlp:{kind} xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        f'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" Version="2.0"{attrs}>'
        f"{''.join(parts)}</samlp:{kind}>"
    )
