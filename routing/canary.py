"""The canary (``[router.canary]``): after an org is flipped to the migration target, watch its logins
there for ``window`` seconds; if they fail above ``max_failure_ratio`` after ``min_attempts`` while
the org's logins succeeded at legacy before, roll it back — once, by one instance.

``judge`` is pure: the verdict from the settings and the org's shared figures. ``enforce`` does what a
verdict asks (a lock in the shared store, the rollback record, ``mapping_edit.set_migrated``).
``observe`` records the flips a new mapping makes and names the orgs to watch; ``check`` judges them
and enforces. The edge runs both off the event loop and logs, counts and writes the decision-log
line of what they return.

Never flips an org forward. A person's later ``migrate`` is a new flip: watched afresh.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from .errors import MappingError, StoreUnavailable
from .figures import FigureStore, FlipState, OrgFigures, Rollback, StageCounts, Tally
from .mapping_edit import UnknownOrg, set_migrated
from .model import CanarySettings
from .model import Mapping as RoutingMapping

State = Literal["off", "not_migrated", "rolled_back", "watching", "passed", "no_baseline", "rollback", "follow"]
Action = Literal["rolled_back", "followed", "unchanged", "locked_elsewhere", "done_elsewhere"]
LOCK_TTL = 30.0  # seconds: far longer than a rollback (a file write), short enough to outlive a crash
TOLERANCE = 2.0  # seconds between the rollback record and the flip it causes being observed


@dataclass(frozen=True, slots=True)
class Verdict:
    state: State
    failures: int = 0
    attempts: int = 0
    window: int = 0
    stage: str | None = None
    until: float | None = None  # end of the watch
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "failures": self.failures,
            "attempts": self.attempts,
            "window": self.window,
            "stage": self.stage,
            "until": self.until,
            "reason": self.reason,
        }


def judge(
    s: CanarySettings, *, migrated: bool, target: str, legacy: str, fig: OrgFigures | None, now: float
) -> Verdict:
    """``migrated``: this instance's mapping; ``fig``: the org's figures (with windows) from the store."""
    fig = fig or OrgFigures("")
    flip, rb = fig.flip, fig.rollback
    if not migrated:
        if rb is not None and flip is not None and not flip.migrated and flip.since >= rb.at - TOLERANCE:
            return Verdict(
                "rolled_back",
                rb.failures,
                rb.attempts,
                rb.window,
                rb.stage,
                reason=_why(rb.failures, rb.attempts, rb.window, target, s),
            )
        return Verdict("not_migrated")
    if not s.enabled:
        return Verdict("off")
    if rb is not None and _undone(flip, rb):  # another instance rolled this flip back: its file may be ours too
        return Verdict(
            "follow",
            rb.failures,
            rb.attempts,
            rb.window,
            rb.stage,
            reason="rolled back by another instance: " + _why(rb.failures, rb.attempts, rb.window, target, s),
        )
    if flip is None or not flip.migrated:
        return Verdict("watching", window=s.window, reason="the flip is not recorded yet")
    until = flip.since + s.window
    at_target = fig.since_flip.get(target, StageCounts())
    tripped = _tripped(at_target, s)
    if now >= until:
        return Verdict("passed", *_sum(at_target), window=s.window, until=until, reason="watch window over")
    if tripped is None:
        return Verdict("watching", *_sum(at_target), window=s.window, until=until)
    stage, t = tripped
    if not _baseline(fig.windows.get("24h", {}).get(legacy), s):
        return Verdict(
            "no_baseline",
            t.failure,
            t.attempts,
            s.window,
            stage,
            until,
            reason=f"failing at {target}, but no successful logins at {legacy} in the last 24 h to go back to",
        )
    return Verdict(
        "rollback",
        t.failure,
        t.attempts,
        s.window,
        stage,
        until,
        reason=_why(t.failure, t.attempts, s.window, target, s),
    )


def _undone(flip: FlipState | None, rb: Rollback) -> bool:
    """The rollback undid the current flip: the shared state is still that flip (the rollback's file
    write not observed yet), or is the rollback itself (and no person migrated again since)."""
    if flip is None:
        return False
    if flip.migrated:
        return abs(flip.since - rb.flip_since) <= TOLERANCE
    return flip.since >= rb.at - TOLERANCE


def _tripped(counts: StageCounts, s: CanarySettings) -> tuple[str, Tally] | None:
    worst: tuple[str, Tally] | None = None
    for stage, t in (("login", counts.login), ("token", counts.token)):
        over = t.attempts >= s.min_attempts and t.failure / t.attempts > s.max_failure_ratio
        if over and (worst is None or t.failure / t.attempts > worst[1].failure / worst[1].attempts):
            worst = (stage, t)
    return worst


def _baseline(legacy: StageCounts | None, s: CanarySettings) -> bool:
    t = legacy.total if legacy is not None else Tally()
    return t.success > 0 and t.failure / t.attempts <= s.max_failure_ratio


def _sum(c: StageCounts) -> tuple[int, int]:
    t = c.total
    return t.failure, t.attempts


def _why(failures: int, attempts: int, window: int, target: str, s: CanarySettings) -> str:
    return (
        f"{failures} of {attempts} logins failed at {target} within {window} s of the flip "
        f"(above {s.max_failure_ratio:.0%})"
    )


# -- acting on a verdict -------------------------------------------------------------------------
def claim(store: FigureStore, org: str, owner: str, ttl: float = LOCK_TTL) -> bool:
    """The one-instance lock for ``org``'s rollback, in the shared store (memory://: this process)."""
    return store.acquire(f"canary:{org}", owner, ttl)


def enforce(
    v: Verdict, org: str, *, store: FigureStore, owner: str, mapping_path: str, target: str, now: float
) -> Action:
    """Do what ``v`` asks for ``org``. Blocking (store calls, a file write): run it off the event loop.
    Raises ``StoreUnavailable``, and ``set_migrated``'s ``UnknownOrg``/``MappingError``/``OSError``."""
    if v.state == "follow":
        return "followed" if set_migrated(mapping_path, org, False) else "unchanged"
    if v.state != "rollback":
        return "unchanged"
    if not claim(store, org, owner):
        return "locked_elsewhere"
    try:
        fig = store.figures([org], now, windows=False).get(org)
        flip = fig.flip if fig else None
        if fig is not None and fig.rollback is not None and _undone(flip, fig.rollback):
            return "done_elsewhere"  # another instance got there between our verdict and the lock
        store.save_rollback(
            org,
            Rollback(now, flip.since if flip else now, target, v.stage or "login", v.failures, v.attempts, v.window),
        )
        set_migrated(mapping_path, org, False)
        return "rolled_back"
    finally:
        store.release(f"canary:{org}", owner)


def rollback_log_record(org: str, v: Verdict, *, at: float, target: str, legacy: str) -> dict[str, Any]:
    """The decision-log line of a rollback (never a body, code or token: counts and names)."""
    return {
        "time": round(at, 3),
        "event": "canary_rollback",
        "org": org,
        "failures": v.failures,
        "attempts": v.attempts,
        "window": v.window,
        "stage": v.stage,
        "from": target,
        "to": legacy,
    }


def rollback_warning(org: str, v: Verdict) -> str:
    return f"sso-router: canary rolled org {org} back: {v.reason}"


def watched(migrated: Iterable[str], flips: Mapping[str, FlipState], s: CanarySettings, now: float) -> list[str]:
    """Of the orgs this instance's mapping has migrated, those ``judge`` may act on: flipped within the
    window, not recorded yet, or recorded as not migrated (rolled back by another instance)."""
    if not s.enabled:
        return []
    out = []
    for org in migrated:
        f = flips.get(org)
        if f is None or not f.migrated or now < f.since + s.window:
            out.append(org)
    return out


# -- what the edge runs, off the event loop ------------------------------------------------------
def flip_states(old: RoutingMapping | None, new: RoutingMapping) -> list[tuple[str, bool]]:
    """``(org, migrated)`` of the orgs whose ``migrated`` differs from ``old`` (every org when None)."""
    if old is None:
        return [(k, o.migrated) for k, o in new.orgs.items()]
    before = old.orgs
    return [(k, o.migrated) for k, o in new.orgs.items() if (b := before.get(k)) is None or b.migrated != o.migrated]


def observe(store: FigureStore, old: RoutingMapping | None, new: RoutingMapping, now: float) -> dict[str, float]:
    """Record the flips from ``old`` to ``new`` (``observe_flips``: the first instance to see one sets
    its time) and return the orgs to watch, with the time of their flip: migrated, flipped within the
    window (on a process's first look, ``old`` None: every migrated org whose recorded flip is)."""
    states = flip_states(old, new)
    flips = store.observe_flips(states, now) if states else {}
    window = new.settings.canary.window
    return {org: f.since for org, f in flips.items() if f.migrated and now < f.since + window}


class Act(NamedTuple):
    """What ``check`` did for one org whose verdict asked for action."""

    org: str
    verdict: Verdict
    action: Action | None  # None: enforcing failed, ``error`` says why (the next check tries again)
    error: str | None = None


def check(
    store: FigureStore, m: RoutingMapping, orgs: Sequence[str], *, owner: str, mapping_path: str, now: float
) -> list[Act]:
    """Judge ``orgs`` (migrated in ``m``, within their watch) from the shared figures and enforce each
    ``rollback`` / ``follow``. The 24 h window (the baseline at legacy) is read only for the orgs that
    fail at the target. Raises ``StoreUnavailable`` when the figures cannot be read."""
    s = m.settings

    def verdict(fig: OrgFigures | None) -> Verdict:
        return judge(s.canary, migrated=True, target=s.migration_target, legacy=s.default_provider, fig=fig, now=now)

    figs = store.figures(orgs, now, windows=False)
    verdicts = {org: verdict(figs.get(org)) for org in orgs}
    failing = [org for org, v in verdicts.items() if v.state == "no_baseline"]
    for org, fig in (store.figures(failing, now, windows=True) if failing else {}).items():
        verdicts[org] = verdict(fig)
    acts: list[Act] = []
    for org, v in verdicts.items():
        if v.state not in ("rollback", "follow"):
            continue
        try:
            acts.append(
                Act(
                    org,
                    v,
                    enforce(
                        v, org, store=store, owner=owner, mapping_path=mapping_path, target=s.migration_target, now=now
                    ),
                )
            )
        except (StoreUnavailable, UnknownOrg, MappingError, OSError) as e:
            acts.append(Act(org, v, None, f"{type(e).__name__}: {e}"))
    return acts
