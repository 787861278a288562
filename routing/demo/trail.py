"""The router's decisions for one login, read from its decision log and put in words.

A login's browser hops (the authorize request, the IdP's post to the ACS) are the decision-log
records between the app's redirect to the router and the app's callback that went to the provider
which logged the user in; the app's own server-side calls carry ``x-sso-route`` (``debug_headers``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

MAX_TAIL = 1 << 20  # bytes of the log's end that are read: the last thousands of decisions


@dataclass(frozen=True)
class Step:
    what: str  # e.g. "login start", "the IdP's SAML post"
    method: str
    path: str
    provider: str
    reason: str
    org: str | None
    identifier: str | None
    status: int | None

    def words(self, target: str) -> str:
        return explain(self.reason, self.provider, self.org, self.identifier, target)


def read_decisions(path: str, since: float) -> list[dict[str, Any]]:
    """Decision-log records made at or after ``since`` (the log's tail only)."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - MAX_TAIL))
            tail = f.read()
    except OSError:
        return []
    out = []
    for line in tail.splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue  # a line cut by the tail's start
        if isinstance(rec, dict) and isinstance(rec.get("time"), (int, float)) and rec["time"] >= since:
            out.append(rec)
    return out


def login_steps(records: list[dict[str, Any]], provider: str, acs_paths: tuple[str, ...]) -> list[Step]:
    """The login start (the first authorize to ``provider``) and the ACS post (the last one)."""
    mine = [r for r in records if r.get("provider") == provider]
    start = next(
        (r for r in mine if r.get("method") == "GET" and r.get("path") in ("/authorize", "/oauth/authorize")), None
    )
    acs = next((r for r in reversed(mine) if r.get("method") == "POST" and r.get("path") in acs_paths), None)
    return [_step(what, r) for what, r in (("login start", start), ("the IdP's SAML post", acs)) if r is not None]


def _step(what: str, r: dict[str, Any]) -> Step:
    return Step(
        what,
        r.get("method", ""),
        r.get("path", ""),
        r.get("provider", ""),
        r.get("reason", ""),
        r.get("org"),
        r.get("identifier"),
        r.get("status"),
    )


def explain(reason: str, provider: str, org: str | None, identifier: str | None, target: str) -> str:
    """One decision in a sentence, from the reason the router gave."""
    by = f" (from the {identifier})" if identifier else ""
    if reason == "org":
        state = (
            "migrated, so its logins go to the migration target"
            if provider == target
            else "not migrated, so its logins stay at the default provider"
        )
        return f"The request names org {org}{by}; the mapping has {org} {state}: {provider}."
    if reason == "correlation":
        return (
            f"The request continues a login {provider} started{by}: the router remembered it from "
            f"{provider}'s answer, so it goes back to {provider} whatever the mapping says now."
        )
    if reason == "sticky":
        return f"Nothing in the request names an org; the router's cookie from an earlier decision says {provider}."
    if reason == "forced":
        return f"The force header sent it to the migration target, {provider}."
    if reason == "path":
        return f"Only {provider} serves this path."
    return f"Nothing in the request names an org: the default provider, {provider}."
