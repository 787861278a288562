"""Named bounds on everything the router reads from untrusted requests."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    max_body: int = 1_048_576  # larger bodies are forwarded uninspected
    max_inflate: int = 262_144  # bound on an inflated SAMLRequest
    max_jwt: int = 16_384  # bound on one compact JWT
    max_xml: int = 524_288  # bound on one decoded SAML document
    max_html: int = 262_144  # bound on an HTML form read for display or redaction
    # bound on a provider's HTML page read for an auto-post form (SAML HTTP-POST binding, OIDC
    # form_post): those are a few KB; a bigger page is a hosted page, and is not read at all
    max_auto_post: int = 65_536
