"""What a provider's export says about its customers, before it meets the mapping.

An ``OrgDraft`` is one customer as the export sees it: the identifiers it holds, grouped by the
mapping key they go into, and the names the user may key it by (``--key NAME=DOMAIN``). A reader
returns a ``Reading``: drafts, what it left out and why, and notes on what it could not tell.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

type JSONObject = dict[str, Any]  # an object of a provider's export (API response) as ``json`` parsed it
OrgField = Literal["domains", "idp_entity_ids", "oidc_issuers", "connections", "org_ids", "directories"]
ORG_FIELDS: tuple[OrgField, ...] = (
    "domains",
    "idp_entity_ids",
    "oidc_issuers",
    "connections",
    "org_ids",
    "directories",
)
MAX_EXPORT_BYTES = 64 * 1024 * 1024  # one API response; a tenant's whole listing is far smaller
_DOMAIN = re.compile(r"^(?=.{3,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$")


class ExportError(ValueError):
    """A file that is not what the provider's API returns (names the file and what is wrong)."""


def is_domain(value: str) -> bool:
    """An email domain: dotted labels, no scheme, port, path or ``@``; an IDN in its ``xn--`` form."""
    return bool(_DOMAIN.match(value)) and not value.replace(".", "").isdigit()


@dataclass
class OrgDraft:
    source: str  # what it came from, in words: 'connection "acme-saml" (samlp)'
    owner: str | None = None  # the provider's own customer object (organization / tenant id), if any
    names: list[str] = field(default_factory=list)  # what --key may name it by
    values: dict[OrgField, list[str]] = field(default_factory=lambda: {f: [] for f in ORG_FIELDS})
    sources: list[str] = field(default_factory=list)  # every part joined into it

    def __post_init__(self) -> None:
        if not self.sources:
            self.sources = [self.source]

    def add(self, f: OrgField, *vals: Any) -> None:
        have = self.values[f]
        for v in vals:
            if not isinstance(v, str):
                continue
            v = v.strip().lower() if f == "domains" else v.strip()
            if v and v not in have:
                have.append(v)

    def name(self, *vals: Any) -> None:
        for v in vals:
            if isinstance(v, str) and v.strip() and v.strip() not in self.names:
                self.names.append(v.strip())

    def absorb(self, other: OrgDraft) -> None:
        """Join ``other`` (another part of the same customer) into this draft."""
        for f in ORG_FIELDS:
            self.add(f, *other.values[f])
        self.name(*other.names)
        self.owner = self.owner or other.owner
        for s in other.sources:
            if s not in self.sources:
                self.sources.append(s)

    @property
    def described(self) -> str:
        parts = self.sources
        return parts[0] if len(parts) == 1 else f"{parts[0]} (+ {', '.join(parts[1:])})"

    def is_empty(self) -> bool:
        return not any(self.values[f] for f in ORG_FIELDS)


@dataclass(frozen=True)
class Left:
    """Something an export holds that is not an org, and why."""

    what: str
    why: str


@dataclass
class Reading:
    provider: str
    drafts: list[OrgDraft] = field(default_factory=list)
    left_out: list[Left] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the export could not tell
    counts: dict[str, int] = field(default_factory=dict)  # objects read, by kind


def load_json(path: str) -> Any:
    """One API response from ``path`` (``-``: standard input). Raises ``ExportError``, ``OSError``."""
    import sys

    if path == "-":
        raw = sys.stdin.buffer.read(MAX_EXPORT_BYTES + 1)
    else:
        with open(path, "rb") as f:
            raw = f.read(MAX_EXPORT_BYTES + 1)
    if len(raw) > MAX_EXPORT_BYTES:
        raise ExportError(f"{path}: over {MAX_EXPORT_BYTES // (1024 * 1024)} MiB; not one API response")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as e:
        raise ExportError(f"{path}: not JSON ({str(e)[:100]})") from e


def as_list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


def as_dict(v: Any) -> JSONObject:
    return v if isinstance(v, dict) else {}


def text(v: Any) -> str | None:
    return v.strip() if isinstance(v, str) and v.strip() else None
