"""What the router counts per org, shared by every instance: the ``FigureStore`` protocol, its types,
and ``open_figures(url)`` (memory, sqlite, Redis — the same URL as ``sso_store``).

Kept: counts per org, provider, stage (``login``, ``token``) and outcome in time buckets
(``buckets``), counts since the org's last flip, the last failure (time, provider, stage, error kind),
the flip itself, the canary's rollback record, logins that left for an IdP and whether they came
back, and when a request was last routed to each provider. Never a body, description, code or
token: an error *kind* is a short sanitised code, a departure is a keyed hash.

Bounded: buckets expire; departures and return markers are capped (the oldest go first); per org a
handful of keys per window. Every backend error leaves a backend as ``StoreUnavailable``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from .buckets import TIERS, WINDOWS, Window

__all__ = [
    "TIERS",
    "WINDOWS",
    "Batch",
    "Departure",
    "Fate",
    "FigureStore",
    "FlipState",
    "LastFailure",
    "Lost",
    "OrgFigures",
    "OutcomeEvent",
    "Return",
    "Rollback",
    "Routed",
    "StageCounts",
    "Tally",
    "Window",
    "open_figures",
]

RETURN_GRACE = 300.0  # a return marker outlives its departure's deadline by this much


class Tally(NamedTuple):
    success: int = 0
    failure: int = 0

    @property
    def attempts(self) -> int:
        return self.success + self.failure

    def plus(self, other: Tally) -> Tally:
        return Tally(self.success + other.success, self.failure + other.failure)


@dataclass(frozen=True, slots=True)
class StageCounts:
    """One provider's outcomes: logins (ACS post, IdP callback and what follows) and token exchanges."""

    login: Tally = Tally()  # noqa: RUF009 — a frozen Tally: one shared zero is what it means
    token: Tally = Tally()  # noqa: RUF009

    @property
    def total(self) -> Tally:
        return self.login.plus(self.token)

    def as_dict(self) -> dict[str, Any]:
        t = self.total
        return {
            "success": t.success,
            "failure": t.failure,
            "login": self.login._asdict(),
            "token": self.token._asdict(),
        }


def field_name(provider: str, stage: str, ok: bool) -> str:
    return f"{provider}|{stage}|{'s' if ok else 'f'}"


def counts_by_provider(fields: Mapping[str, int]) -> dict[str, StageCounts]:
    """``{"scalekit|login|s": 3, ...}`` → ``{"scalekit": StageCounts(...)}``; unknown fields are skipped."""
    acc: dict[str, dict[str, list[int]]] = {}
    for name, n in fields.items():
        provider, _, rest = name.rpartition("|")
        provider, _, stage = provider.rpartition("|")
        if not provider or stage not in ("login", "token") or rest not in ("s", "f"):
            continue
        cell = acc.setdefault(provider, {"login": [0, 0], "token": [0, 0]})[stage]
        cell[0 if rest == "s" else 1] += int(n)
    return {p: StageCounts(Tally(*v["login"]), Tally(*v["token"])) for p, v in acc.items()}


class Fate(NamedTuple):
    """Logins that left for an IdP from one provider, and how many of them never came back."""

    left: int = 0
    lost: int = 0


def total_fate(fates: Mapping[str, Fate]) -> Fate:
    return Fate(sum(f.left for f in fates.values()), sum(f.lost for f in fates.values()))


def fate_field(provider: str, lost: bool) -> str:
    return f"{provider}|{'lost' if lost else 'left'}"


def fates_by_provider(fields: Mapping[str, int]) -> dict[str, Fate]:
    acc: dict[str, list[int]] = {}
    for name, n in fields.items():
        provider, _, what = name.rpartition("|")
        if provider and what in ("left", "lost"):
            acc.setdefault(provider, [0, 0])[what == "lost"] += int(n)
    return {p: Fate(*v) for p, v in acc.items()}


@dataclass(slots=True)  # built on the event loop per event; never changed (not frozen: ~4x cheaper to build)
class OutcomeEvent:
    org: str
    provider: str  # the provider that answered (the decision's forward_to)
    stage: str  # "login" | "token"
    ok: bool
    kind: str | None
    at: float


@dataclass(slots=True)  # built on the event loop per event; never changed (not frozen: ~4x cheaper to build)
class Departure:
    """A login that left for ``org``'s IdP from ``provider``; ``keys`` (keyed hashes) name it."""

    org: str
    provider: str
    keys: tuple[str, ...]
    at: float
    ttl: float  # correlation_ttl: an answer later than this never counts as back


@dataclass(slots=True)  # built on the event loop per event; never changed (not frozen: ~4x cheaper to build)
class Return:
    keys: tuple[str, ...]
    at: float
    ttl: float


@dataclass(slots=True)
class Batch:
    outcomes: list[OutcomeEvent] = field(default_factory=list)
    departures: list[Departure] = field(default_factory=list)
    returns: list[Return] = field(default_factory=list)
    routed: dict[str, float] = field(default_factory=dict)  # provider -> last time a request went there

    def __bool__(self) -> bool:
        return bool(self.outcomes or self.departures or self.returns or self.routed)

    def __len__(self) -> int:
        """Events in the batch (a departure or a return counts once, whatever its keys)."""
        return len(self.outcomes) + len(self.departures) + len(self.returns) + len(self.routed)

    def first_at(self) -> float | None:
        """The time of the earliest thing in the batch (None for an empty one)."""
        times = [e.at for e in self.outcomes] + [d.at for d in self.departures] + [r.at for r in self.returns]
        times += self.routed.values()
        return min(times) if times else None


@dataclass(frozen=True, slots=True)
class FlipState:
    migrated: bool
    since: float  # when the router first saw the org in this state


@dataclass(frozen=True, slots=True)
class LastFailure:
    at: float
    provider: str
    stage: str
    kind: str


@dataclass(frozen=True, slots=True)
class Rollback:
    """The canary's rollback of ``org``: what it saw, and which flip it undid."""

    at: float
    flip_since: float
    provider: str
    stage: str
    failures: int
    attempts: int
    window: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "flip_since": self.flip_since,
            "provider": self.provider,
            "stage": self.stage,
            "failures": self.failures,
            "attempts": self.attempts,
            "window": self.window,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Rollback | None:
        try:
            return cls(
                float(d["at"]),
                float(d["flip_since"]),
                str(d["provider"]),
                str(d["stage"]),
                int(d["failures"]),
                int(d["attempts"]),
                int(d["window"]),
            )
        except (KeyError, TypeError, ValueError):
            return None


class Lost(NamedTuple):
    """A departure whose answer never came back within its ttl."""

    org: str
    provider: str
    at: float


class Routed(NamedTuple):
    started: float | None  # when the store first recorded anything
    last: dict[str, float]  # provider -> last time a request was routed to it


@dataclass(frozen=True, slots=True)
class OrgFigures:
    org: str
    flip: FlipState | None = None
    since_flip: Mapping[str, StageCounts] = field(default_factory=dict)  # since flip.since (or first seen)
    last_failure: LastFailure | None = None
    rollback: Rollback | None = None
    windows: Mapping[Window, Mapping[str, StageCounts]] = field(default_factory=dict)  # when asked for
    departures: Mapping[Window, Mapping[str, Fate]] = field(default_factory=dict)  # when asked for, by departure time


class FigureStore(Protocol):
    url: str
    shared: bool  # figures are summed over every instance using the same URL

    def record(self, batch: Batch) -> None: ...
    def expire(self, now: float, limit: int = 1000) -> list[Lost]: ...
    def observe_flips(self, states: Sequence[tuple[str, bool]], at: float) -> dict[str, FlipState]: ...
    def save_rollback(self, org: str, rollback: Rollback) -> None: ...
    def figures(self, orgs: Sequence[str], now: float, *, windows: bool) -> dict[str, OrgFigures]: ...
    def unreturned_orgs(self, now: float) -> dict[str, Fate]: ...
    def rollbacks(self) -> dict[str, Rollback]: ...  # the canary's last rollback per org (one each)
    def routed(self) -> Routed: ...
    def acquire(self, name: str, owner: str, ttl: float) -> bool: ...
    def release(self, name: str, owner: str) -> None: ...
    def ping(self) -> bool: ...
    def close(self) -> None: ...


def open_figures(url: str, *, clock: Callable[[], float], timeout: float | None = None) -> FigureStore:
    """The figure store on ``url`` (the ``sso_store`` URL). Raises ``ValueError`` for a bad URL.
    Never connects: a store that is down is found by ``ping()`` or the first call."""
    scheme, sep, rest = url.partition("://")
    if sep:
        url = scheme.lower() + sep + rest
    if url in ("memory://", "memory:", "memory"):
        from .memory import MemoryFigures

        return MemoryFigures(clock=clock)
    if url.startswith("sqlite://"):
        from .sqlite import SqliteFigures

        if timeout is None:
            return SqliteFigures(url, clock=clock)
        return SqliteFigures(url, clock=clock, busy_timeout=timeout)
    if url.startswith(("redis://", "rediss://", "redis+sentinel://")):
        from .redis import RedisFigures

        return RedisFigures(url) if timeout is None else RedisFigures(url, timeout=timeout)
    from ..logsafe import safe_url

    raise ValueError(
        f"unsupported store URL {safe_url(url)!r} (memory://, sqlite:///path, redis://host:port/db, "
        "redis+sentinel://host:port[,host:port…]/service/db)"
    )
