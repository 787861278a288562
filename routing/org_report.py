"""``GET /.sso-router/orgs`` (every org, by provider) and ``GET /.sso-router/orgs/<org>`` (one org's
figures): JSON-ready dicts built from the mapping and the shared figures. ``org_report`` and
``orgs_report`` are pure; ``collect_org``/``collect_orgs`` read the store (blocking: the edge runs
them off the event loop) and return ``(status, headers, body)`` answers, 404 for an unknown org.

Only counts, times, provider names and error *kinds* appear: never a body, description, code or token.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from . import canary
from .figures import WINDOWS, Fate, FigureStore, OrgFigures, Routed, Tally, total_fate
from .model import Mapping as RoutingMapping

PATH = "/.sso-router/orgs"
DONE_AFTER = 7 * 86_400  # no request routed to a legacy provider for this long: the migration is done
NEVER_BACK = (
    "logins left for this org's IdP and never came back through the router: its IdP answers the "
    "provider's own host, not the auth domain, so the org cannot move until its customer points the "
    "IdP's ACS / redirect URL at the auth domain"
)
Answer = tuple[int, dict[str, str], bytes]


def parse_path(path: str) -> tuple[bool, str | None] | None:
    """``/.sso-router/orgs`` → ``(True, None)``; ``/.sso-router/orgs/<org>`` → ``(True, org)``; else None."""
    if path in (PATH, PATH + "/"):
        return True, None
    if path.startswith(PATH + "/"):
        return True, unquote(path[len(PATH) + 1 :]).strip("/") or None
    return None


def resolve_org(m: RoutingMapping, name: str) -> str | None:
    """The org key for ``name``: the key itself, or any of its ``domains`` (case-insensitive)."""
    if name in m.orgs:
        return name
    return m.by_domain.get(name.strip().lower())


def _tally(t: Tally) -> dict[str, Any]:
    return {"success": t.success, "failure": t.failure}


def _fates(f: Mapping[str, Fate]) -> dict[str, Any]:
    return {p: {"left": v.left, "never_came_back": v.lost} for p, v in sorted(f.items())}


def _judge(m: RoutingMapping, org: str, fig: OrgFigures | None, now: float) -> canary.Verdict:
    s = m.settings
    return canary.judge(
        s.canary, migrated=m.orgs[org].migrated, target=s.migration_target, legacy=s.default_provider, fig=fig, now=now
    )


def _last(fig: OrgFigures) -> dict[str, Any] | None:
    lf = fig.last_failure
    return {"at": lf.at, "provider": lf.provider, "stage": lf.stage, "kind": lf.kind} if lf else None


def org_report(m: RoutingMapping, org: str, fig: OrgFigures, *, now: float, figures_scope: str) -> dict[str, Any]:
    """One org's page. ``fig`` must carry windows (``figures(..., windows=True)``)."""
    s = m.settings
    o = m.orgs[org]
    flip = fig.flip
    verdict = _judge(m, org, fig, now)
    lost24 = total_fate(fig.departures.get("24h", {}))
    return {
        "org": org,
        "provider": m.provider_for_org(o),
        "migrated": o.migrated,
        "migrated_since": flip.since if flip is not None and flip.migrated and o.migrated else None,
        "flip": {"migrated": flip.migrated, "since": flip.since} if flip is not None else None,
        "outcomes": {w: {p: c.as_dict() for p, c in sorted(fig.windows.get(w, {}).items())} for w in WINDOWS},
        "since_flip": {p: c.as_dict() for p, c in sorted(fig.since_flip.items())},
        "last_failure": _last(fig),
        "canary": {
            "enabled": s.canary.enabled,
            "window": s.canary.window,
            "min_attempts": s.canary.min_attempts,
            "max_failure_ratio": s.canary.max_failure_ratio,
            **verdict.as_dict(),
            "last_rollback": fig.rollback.as_dict() if fig.rollback else None,
        },
        "never_came_back": {
            "windows": {w: _fates(fig.departures.get(w, {})) for w in WINDOWS},
            "left_24h": lost24.left,
            "never_came_back_24h": lost24.lost,
            "note": NEVER_BACK if lost24.lost else None,
        },
        "figures": figures_scope,
        "generated_at": now,
    }


def _worst_first(row: dict[str, Any]) -> tuple[float, int, str]:
    t = row["since_flip"]
    n = t["success"] + t["failure"]
    return (-(t["failure"] / n) if n else 0.0, -t["failure"], row["org"])


def orgs_report(
    m: RoutingMapping,
    figs: Mapping[str, OrgFigures],
    unreturned: Mapping[str, Fate],
    routed: Routed,
    *,
    now: float,
    figures_scope: str,
) -> dict[str, Any]:
    """Every org by provider: migrated ones (with outcomes at the target since the flip) worst first,
    then the others (those the canary rolled back say so); orgs whose logins never come back; whether
    the migration is done. ``figs``: the migrated orgs' figures and the rolled-back ones'."""
    s = m.settings
    target = s.migration_target
    migrated: list[dict[str, Any]] = []
    others: list[dict[str, Any]] = []
    for org, o in m.orgs.items():
        fig = figs.get(org)
        row: dict[str, Any] = {"org": org, "provider": m.provider_for_org(o), "migrated": o.migrated}
        if o.migrated:
            at_target = fig.since_flip.get(target) if fig else None
            row["since_flip"] = _tally(at_target.total if at_target else Tally())
            row["migrated_since"] = fig.flip.since if fig and fig.flip and fig.flip.migrated else None
            row["canary"] = _judge(m, org, fig, now).state
        elif fig is not None and fig.rollback is not None and (v := _judge(m, org, fig, now)).state == "rolled_back":
            rb = fig.rollback
            row["canary"] = v.state
            row["rolled_back"] = {
                "at": rb.at,
                "provider": rb.provider,
                "stage": rb.stage,
                "failures": rb.failures,
                "attempts": rb.attempts,
                "window": rb.window,
                "reason": v.reason,
            }
        if org in unreturned:
            row["never_came_back_24h"] = unreturned[org].lost
        (migrated if o.migrated else others).append(row)
    migrated.sort(key=_worst_first)
    others.sort(key=lambda r: r["org"])
    by_provider: dict[str, int] = {}
    for row in migrated + others:
        by_provider[row["provider"]] = by_provider.get(row["provider"], 0) + 1
    lost = [
        {"org": o, "left_24h": f.left, "never_came_back_24h": f.lost}
        for o, f in sorted(unreturned.items(), key=lambda x: (-x[1].lost, x[0]))
        if o in m.orgs
    ]
    return {
        "migration_target": target,
        "default_provider": s.default_provider,
        "canary": s.canary.enabled,
        "providers": {p: {"orgs": by_provider.get(p, 0)} for p in sorted(m.providers)},
        "orgs": migrated + others,
        "never_came_back": lost,
        "decommission": decommission(m, routed, len([r for r in others if r["provider"] != target]), now),
        "figures": figures_scope,
        "generated_at": now,
    }


def decommission(m: RoutingMapping, routed: Routed, orgs_left: int, now: float) -> dict[str, Any]:
    """Done when no org maps to a legacy provider and none has had a request routed to it for 7 days."""
    s = m.settings
    target = s.migration_target
    legacy = sorted(p for p in m.providers if p != target)
    times = [routed.last[p] for p in legacy if p in routed.last]
    last = max(times) if times else None
    quiet_since = last if last is not None else routed.started
    quiet = now - quiet_since if quiet_since is not None else None
    done = orgs_left == 0 and quiet is not None and quiet >= DONE_AFTER
    name = "Scalekit" if m.providers[target].kind == "scalekit" else target
    names = ", ".join(legacy) or "no other provider"
    if done:
        msg = (
            f"migration done: nothing routed to {names} for {_ago(quiet or 0)} — point the auth domain straight "
            f"at {name}"
        )
    elif orgs_left:
        msg = f"migration not done: {orgs_left} org{'s' if orgs_left != 1 else ''} still at {names}"
    elif quiet is None:
        msg = f"all orgs migrated; the router has seen no traffic yet — done once nothing goes to {names} for 7 days"
    elif last is not None:
        msg = (
            f"all orgs migrated; last request routed to {names} {_ago(quiet)} ago — done once nothing has gone "
            "there for 7 days"
        )
    else:
        msg = f"all orgs migrated; nothing routed to {names} in the {_ago(quiet)} watched — done after 7 days"
    return {
        "done": done,
        "legacy_providers": legacy,
        "last_routed_to_legacy": last,
        "watching_since": routed.started,
        "orgs_left": orgs_left,
        "message": msg,
    }


def _ago(seconds: float) -> str:
    for unit, size in (("d", 86_400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


# -- reading the store (blocking) -----------------------------------------------------------------
def _json(status: int, obj: object) -> Answer:
    return status, {"content-type": "application/json", "cache-control": "no-store"}, json.dumps(obj, indent=1).encode()


def scope(store: FigureStore) -> str:
    return "summed over every instance sharing the store" if store.shared else "this process only (memory:// store)"


def collect_org(store: FigureStore, m: RoutingMapping, name: str, now: float) -> Answer:
    """``GET /.sso-router/orgs/<name>``. Raises ``StoreUnavailable`` (the edge answers 503)."""
    org = resolve_org(m, name)
    if org is None:
        return _json(404, {"error": "unknown org", "org": name})
    fig = store.figures([org], now, windows=True)[org]
    return _json(200, org_report(m, org, fig, now=now, figures_scope=scope(store)))


def collect_orgs(store: FigureStore, m: RoutingMapping, now: float) -> Answer:
    """``GET /.sso-router/orgs``. Raises ``StoreUnavailable`` (the edge answers 503)."""
    migrated = [k for k, o in m.orgs.items() if o.migrated]
    figs = store.figures(migrated, now, windows=False)
    s = m.settings
    flips = {k: f.flip for k, f in figs.items() if f.flip is not None}
    watched = canary.watched(migrated, flips, s.canary, now)
    figs.update(store.figures(watched, now, windows=True))  # the canary's baseline needs the 24 h window
    rolled = [k for k in store.rollbacks() if k in m.orgs and not m.orgs[k].migrated]  # one per org, at most
    figs.update(store.figures(rolled, now, windows=False))
    report = orgs_report(m, figs, store.unreturned_orgs(now), store.routed(), now=now, figures_scope=scope(store))
    return _json(200, report)
