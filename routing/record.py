"""The one serialisation of a ``Decision``: the record in ``flow.metadata``, the decision log, ``explain
--json``, the flow comment and ``x-sso-route`` all come from here, with one set of field names."""

from __future__ import annotations

from collections.abc import Mapping as ReadOnly
from typing import Any

from .model import Decision, Reason

FIELDS = ("provider", "reason", "org", "identifier", "forwarded_to", "shadow")


def to_record(d: Decision) -> dict[str, Any]:
    """The decision as JSON-safe data (only names and kinds: it cannot carry a secret)."""
    return {"provider": d.provider, "reason": d.reason.value, "org": d.org, "identifier": d.evidence,
            "forwarded_to": d.forward_to, "shadow": d.shadow}


def from_record(rec: ReadOnly[str, Any]) -> Decision | None:
    """The decision a record holds (a flow's metadata, a decision-log line); None if it is not one."""
    try:
        return Decision(str(rec["provider"]), Reason(rec["reason"]), rec["org"], str(rec["identifier"]),
                        str(rec["forwarded_to"]), bool(rec["shadow"]))
    except (KeyError, ValueError, TypeError):
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
