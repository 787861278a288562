"""What the router saw go by, for ``sso-router learn``: per identifier, the orgs that requests
carrying it were routed to, with counts and first/last-seen times.

Only requests that something *named* an org for count (reason ``org`` or ``correlation``, the
provider did not answer with an error): a sticky cookie or the default says nothing about who
the IdP is. Pure data: fed by the edge (bounded, in memory, served at ``/.sso-router/learn``) or
by reading a decision log; no I/O here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from ..model import Decision, Seen

LearnField = Literal["idp_entity_ids", "oidc_issuers", "connections"]
LEARN_FIELDS: tuple[LearnField, ...] = ("idp_entity_ids", "oidc_issuers", "connections")
LEARNABLE_REASONS = frozenset({"org", "correlation"})
MAX_VALUES = 10_000  # distinct (field, value) pairs kept in memory; more are counted as dropped
MAX_ORGS_PER_VALUE = 8  # past this a value is shared by many orgs anyway: never proposed
MAX_VALUE_LEN = 512


# not a NamedTuple (its ``count`` would shadow ``tuple.count``); not frozen: built per request, and a
# frozen dataclass costs ~4x as much to construct (replaced, never changed)
@dataclass(slots=True)
class Tally:
    count: int
    first: float
    last: float


class Evidence:
    """``(field, value) -> {org: Tally}``, bounded."""

    def __init__(self, max_values: int = MAX_VALUES) -> None:
        self.max_values = max_values
        self.seen: dict[tuple[LearnField, str], dict[str, Tally]] = {}
        self.requests = 0  # requests that counted
        self.dropped = 0  # identifiers not kept because the table was full

    # -- feeding ---------------------------------------------------------------------------------
    def add(
        self, field: LearnField, value: str, org: str, at: float, count: int = 1, first: float | None = None
    ) -> None:
        if not value or len(value) > MAX_VALUE_LEN:
            return
        key = (field, value)
        orgs = self.seen.get(key)
        if orgs is None:
            if len(self.seen) >= self.max_values:
                self.dropped += 1
                return
            orgs = self.seen[key] = {}
        t = orgs.get(org)
        first = at if first is None else first
        if t is None:
            if len(orgs) >= MAX_ORGS_PER_VALUE:
                return
            orgs[org] = Tally(count, first, at)
        else:
            orgs[org] = Tally(t.count + count, min(t.first, first), max(t.last, at))

    def add_seen(self, org: str | None, reason: str, seen: Seen, *, ok: bool, at: float) -> None:
        if org is None or reason not in LEARNABLE_REASONS or not ok:
            return
        if not (seen.saml_issuer or seen.oidc_issuer or seen.connections):
            return
        self.requests += 1
        if seen.saml_issuer:
            self.add("idp_entity_ids", seen.saml_issuer, org, at)
        if seen.oidc_issuer:
            self.add("oidc_issuers", seen.oidc_issuer, org, at)
        for c in seen.connections:
            self.add("connections", c, org, at)

    def add_decision(self, d: Decision, *, status: int | None, error: str | None, at: float) -> None:
        """The edge's hook: one decided request, once its answer (or error) is known."""
        self.add_seen(d.org, d.reason.value, d.seen, ok=answered_ok(status, error), at=at)

    def add_record(self, rec: Any) -> bool:
        """One decision-log line (a dict). False when it is not one."""
        if isinstance(rec, dict) and isinstance(rec.get("event"), str):
            return True  # an event line (``canary_rollback``): a record, but no decision to learn from
        if not isinstance(rec, dict) or not isinstance(rec.get("reason"), str):
            return False
        org = rec.get("org")
        at = rec.get("time")
        if not isinstance(org, str) or not isinstance(at, (int, float)) or not math.isfinite(at):
            return True  # a record, but one that names no org: nothing to learn
        conns = rec.get("connections")
        seen = Seen(
            _str_or_none(rec.get("saml_issuer")),
            _str_or_none(rec.get("oidc_issuer")),
            tuple(c for c in conns if isinstance(c, str)) if isinstance(conns, list) else (),
        )
        status = rec.get("status")
        error = rec.get("error")
        self.add_seen(
            org,
            rec["reason"],
            seen,
            at=float(at),
            ok=answered_ok(status if isinstance(status, int) else None, error if error else None),
        )
        return True

    def merge(self, other: Evidence) -> None:
        for (field, value), orgs in other.seen.items():
            for org, t in orgs.items():
                self.add(field, value, org, t.last, t.count, t.first)
        self.requests += other.requests
        self.dropped += other.dropped

    # -- serving ---------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """JSON-safe; what ``GET /.sso-router/learn`` answers and ``from_snapshot`` reads back."""
        return {
            "requests": self.requests,
            "dropped": self.dropped,
            "evidence": [
                {
                    "field": f,
                    "value": v,
                    "orgs": {
                        o: {"count": t.count, "first": round(t.first, 3), "last": round(t.last, 3)}
                        for o, t in orgs.items()
                    },
                }
                for (f, v), orgs in self.seen.items()
            ],
        }

    @classmethod
    def from_snapshot(cls, obj: Any) -> Evidence:
        """Raises ``ValueError`` when ``obj`` is not a snapshot."""
        if not isinstance(obj, dict) or not isinstance(obj.get("evidence"), list):
            raise ValueError("not an sso-router learn snapshot (no 'evidence' list)")
        ev = cls()
        for item in obj["evidence"]:
            field, value, orgs = (
                (item.get("field"), item.get("value"), item.get("orgs"))
                if isinstance(item, dict)
                else (None, None, None)
            )
            if field not in LEARN_FIELDS or not isinstance(value, str) or not isinstance(orgs, dict):
                raise ValueError(f"bad evidence entry: {str(item)[:120]}")
            for org, t in orgs.items():
                try:
                    ev.add(field, value, str(org), float(t["last"]), int(t["count"]), float(t["first"]))
                except (KeyError, TypeError, ValueError) as e:
                    raise ValueError(f"bad tally for {value!r}: {e}") from e
        ev.requests = int(obj.get("requests") or 0)
        ev.dropped = int(obj.get("dropped") or 0)
        return ev


def answered_ok(status: int | None, error: str | None) -> bool:
    """The provider took the request: no transport error, no 4xx/5xx (a forged or wrong message
    the provider refused must not teach the router anything)."""
    return error is None and status is not None and status < 400


def from_records(records: Iterable[Any]) -> tuple[Evidence, int]:
    """Evidence from decision-log records; also how many lines were not records."""
    ev = Evidence(max_values=10 * MAX_VALUES)
    bad = 0
    for rec in records:
        if not ev.add_record(rec):
            bad += 1
    return ev, bad


def _str_or_none(v: Any) -> str | None:
    return v if isinstance(v, str) and v else None
