"""The words of the 502 page when a provider fails: the provider's name and what went wrong in
general terms — never its upstream's address (a custom domain's origin is not for the internet).

mitmproxy builds that page from the connection error text; ``mitm12.wrap_upstream_errors`` lets
``upstream_message`` replace the text first. The original text is kept in the flow's metadata for
the router's own log.
"""

from __future__ import annotations

from typing import Any

from .apply import META

NAMED_PREFIX = "sso-router: provider "
ORIGINAL = "sso_router_upstream_error"  # flow.metadata key: mitmproxy's own text, for the router's log

_KINDS = (  # (words in mitmproxy's / the OS's message, what the page says), first match wins
    (("refused", "connect call failed"), "connection refused"),
    (("timed out", "timeout"), "timed out"),
    (("certificate",), "TLS certificate rejected"),
    (("tls", "ssl", "handshake"), "TLS handshake failed"),
    (
        ("name or service not known", "nodename nor servname", "getaddrinfo", "no address", "name resolution"),
        "host name does not resolve",
    ),
    (("disconnected", "reset", "closed", "eof"), "connection closed"),
)


def failure_kind(message: str) -> str:
    low = message.lower()
    for words, kind in _KINDS:
        if any(w in low for w in words):
            return kind
    return "upstream error"


def upstream_message(flow: Any, message: str) -> str | None:
    """The page's text for an upstream failure of a flow the router routed; None to leave it."""
    meta = getattr(flow, "metadata", None)
    if not isinstance(meta, dict):
        return None
    rec = meta.get(META)
    if not rec or message.startswith(NAMED_PREFIX):
        return None
    meta[ORIGINAL] = message
    return f"{NAMED_PREFIX}{rec.get('forwarded_to')!r} failed: {failure_kind(message)}"
