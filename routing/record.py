"""The one serialisation of a ``Decision``: the record in ``flow.metadata``, the decision log, ``explain
--json``, the flow comment and ``x-sso-route`` all come from here, with one set of field names."""

from __future__ import annotations

from collections.abc import Mapping as ReadOnly
from typing import Any

from .model import NOTHING_SEEN, Decision, Reason, Seen

FIELDS = ("provider", "reason", "org", "identifier", "forwarded_to", "shadow")


def to_record(d: Decision) -> dict[str, Any]:
    """The decision as JSON-safe data (only names and kinds: it cannot carry a secret). ``seen``
    (what ``sso-router learn`` reads: Issuers and connection ids, never a secret) when there is any."""
    rec: dict[str, Any] = {
        "provider": d.provider,
        "reason": d.reason.value,
        "org": d.org,
        "identifier": d.evidence,
        "forwarded_to": d.forward_to,
        "shadow": d.shadow,
    }
    if d.seen:
        rec["seen"] = {
            "saml_issuer": d.seen.saml_issuer,
            "oidc_issuer": d.seen.oidc_issuer,
            "connections": list(d.seen.connections),
        }
    return rec


def from_record(rec: ReadOnly[str, Any]) -> Decision | None:
    """The decision a record holds (a flow's metadata, a decision-log line); None if it is not one."""
    try:
        seen = rec.get("seen")
        return Decision(
            str(rec["provider"]),
            Reason(rec["reason"]),
            rec["org"],
            str(rec["identifier"]),
            str(rec["forwarded_to"]),
            bool(rec["shadow"]),
            Seen(seen.get("saml_issuer"), seen.get("oidc_issuer"), tuple(seen.get("connections") or ()))
            if isinstance(seen, dict)
            else NOTHING_SEEN,
        )
    except (KeyError, ValueError, TypeError, AttributeError):
        return None


def describe(d: Decision) -> str:
    """The decision in words, for mitmweb's flow list: ``→ scalekit · org · org newcompany.com · SAML Issuer``."""
    parts = [f"→ {d.provider}", d.reason.value]
    if d.org:
        parts.append(f"org {d.org}")
    parts.append(d.evidence)
    if d.shadow:
        parts.append(f"shadow: sent to {d.forward_to}")
    return " · ".join(parts)


def route_header(d: Decision) -> str:
    """The ``x-sso-route`` value: ``<provider>; reason=<reason>[; shadow]``."""
    v = f"{d.provider}; reason={d.reason.value}"
    return v + "; shadow" if d.shadow else v
