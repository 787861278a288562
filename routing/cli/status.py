"""``sso-router status [ORG] [--url URL] [--token T] [--json]``: a running router's figures, from its
``/.sso-router/orgs`` (every org by provider) or ``/.sso-router/orgs/<org>`` (one org)."""

from __future__ import annotations

import argparse
import json
import os
import textwrap
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote

from .common import FINDING, OK, Subparsers, err, table

ENV_URL, ENV_TOKEN = "SSO_ROUTER_URL", "SSO_ROUTER_ADMIN_TOKEN"
DEFAULT_URL = "http://127.0.0.1:8080"
TIMEOUT = 15.0  # seconds for the whole answer (a 100,000-org list included)


def add(sub: Subparsers) -> None:
    p = sub.add_parser(
        "status",
        help="login outcomes per org from a running router",
        description="Every org by provider — migrated ones first with their outcomes since the flip, "
        "worst first — then the orgs whose logins never come back, and whether the migration is done; "
        "or one ORG's figures. Read from a running router's /.sso-router/orgs.",
    )
    p.add_argument("org", nargs="?", metavar="ORG", help="one org (its key or any of its domains)")
    p.add_argument("--url", help=f"the router (default: env {ENV_URL}, else {DEFAULT_URL})")
    p.add_argument(
        "--token", help=f"admin bearer token, needed from outside [router.admin] allow (default: env {ENV_TOKEN})"
    )
    p.add_argument("--json", action="store_true", help="print the router's JSON as it is")
    p.set_defaults(run=run)


def fetch(base: str, path: str, token: str | None) -> tuple[int, bytes]:
    req = urllib.request.Request(base.rstrip("/") + path, headers={"accept": "application/json"})
    if token:
        req.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def run(args: argparse.Namespace) -> int:
    base = args.url or os.environ.get(ENV_URL) or DEFAULT_URL
    if not base.startswith(("http://", "https://")):
        err(f"--url wants http:// or https://, not {base!r}")
        return FINDING
    path = "/.sso-router/orgs" + (f"/{quote(args.org, safe='')}" if args.org else "")
    try:
        status, raw = fetch(base, path, args.token or os.environ.get(ENV_TOKEN))
    except (urllib.error.URLError, OSError, ValueError) as e:
        err(f"cannot reach the router at {base}: {getattr(e, 'reason', e)}")
        return FINDING
    try:
        obj = json.loads(raw) if raw else None
    except ValueError:
        obj = None
    if status == 404 and isinstance(obj, dict) and obj.get("error") == "unknown org":
        err(f"unknown org {args.org!r}: no such org (key or domain) in the router's mapping")
        return FINDING
    if status != 200 or not isinstance(obj, dict):
        hint = f" (from outside [router.admin] allow, pass --token or set {ENV_TOKEN})" if status == 404 else ""
        err(f"{base}{path} answered {status}{hint}")
        return FINDING
    if args.json:
        print(json.dumps(obj, indent=1))
    else:
        print(render_org(obj) if args.org else render_list(obj, base))
    return OK


# -- text ----------------------------------------------------------------------------------------
def when(t: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(t)) if t else "-"


def _pct(ok: int, failed: int) -> str:
    return f"{failed / (ok + failed):.0%}" if ok + failed else "-"


def render_list(r: dict[str, Any], base: str) -> str:
    target, orgs = r["migration_target"], r["orgs"]
    out = [
        f"sso-router at {base} — migration target {target}, default {r['default_provider']}, "
        f"canary {'on' if r.get('canary') else 'off'}; figures: {r['figures']}"
    ]
    migrated = [o for o in orgs if o["migrated"]]
    if migrated:
        out += ["", f"{target} · {len(migrated)} migrated org{'s' if len(migrated) != 1 else ''} (worst first)"]
        rows: list[tuple[object, ...]] = []
        for o in migrated:
            ok, failed = o["since_flip"]["success"], o["since_flip"]["failure"]
            rows.append((o["org"], when(o["migrated_since"]), ok, failed, _pct(ok, failed), o["canary"]))
        out.append(table(("ORG", "SINCE FLIP", "OK", "FAILED", "FAILED %", "CANARY"), rows))
    rolled = [o for o in orgs if o.get("rolled_back")]
    if rolled:
        out += [
            "",
            f"rolled back by the canary · {len(rolled)} org{'s' if len(rolled) != 1 else ''} (back at "
            f"{r['default_provider']}; `sso-router migrate ORG` once fixed is watched afresh)",
        ]
        rows = [
            (
                o["org"],
                when(o["rolled_back"]["at"]),
                o["rolled_back"]["failures"],
                o["rolled_back"]["attempts"],
                f"{o['rolled_back']['provider']} ({o['rolled_back']['stage']})",
            )
            for o in sorted(rolled, key=lambda o: -o["rolled_back"]["at"])
        ]
        out.append(table(("ORG", "ROLLED BACK", "FAILED", "OF", "AT"), rows))
    by_provider: dict[str, list[str]] = {}
    for o in orgs:
        if not o["migrated"]:
            by_provider.setdefault(o["provider"], []).append(o["org"])
    for provider, names in sorted(by_provider.items()):
        out += ["", f"{provider} · {len(names)} org{'s' if len(names) != 1 else ''}"]
        out += textwrap.wrap(", ".join(names), 100, initial_indent="  ", subsequent_indent="  ")
    lost = r["never_came_back"]
    if lost:
        out += [
            "",
            "logins that never come back (last 24 h): the org's IdP answers the provider's own host, not "
            "the auth domain — it cannot move without its customer",
        ]
        out.append(
            table(
                ("ORG", "NEVER CAME BACK", "OF LOGINS THAT LEFT"),
                [(x["org"], x["never_came_back_24h"], x["left_24h"]) for x in lost],
            )
        )
    out += ["", r["decommission"]["message"]]
    return "\n".join(out)


def _cell(c: dict[str, Any] | None) -> str:
    return f"{c['success']} ok / {c['failure']} failed" if c else "-"


def render_org(r: dict[str, Any]) -> str:
    since = f" (migrated since {when(r['migrated_since'])})" if r["migrated_since"] else ""
    out = [f"{r['org']} — at {r['provider']}{since}; figures: {r['figures']}", ""]
    providers = sorted({p for w in r["outcomes"].values() for p in w} | set(r["since_flip"]))
    out.append(
        table(
            ("PROVIDER", "LAST 5 MIN", "LAST 1 H", "LAST 24 H", "SINCE FLIP"),
            [
                (p, *(_cell(r["outcomes"][w].get(p)) for w in ("5m", "1h", "24h")), _cell(r["since_flip"].get(p)))
                for p in providers
            ],
        )
        if providers
        else "no login outcomes seen"
    )
    lf = r["last_failure"]
    out += [
        "",
        f"last failure: {when(lf['at'])} at {lf['provider']} ({lf['stage']}): {lf['kind']}"
        if lf
        else "last failure: none",
    ]
    c = r["canary"]
    line = f"canary: {c['state']}" + (f" — {c['reason']}" if c.get("reason") else "")
    if c["state"] == "watching" and c.get("until"):
        line += f" (until {when(c['until'])}; {c['failures']} of {c['attempts']} failed so far)"
    if c.get("last_rollback") and c["state"] not in ("rolled_back", "follow"):
        rb = c["last_rollback"]
        line += f"; last rolled back {when(rb['at'])} ({rb['failures']} of {rb['attempts']} failed)"
    out.append(line)
    n = r["never_came_back"]
    if n["never_came_back_24h"]:
        out.append(
            f"never came back (24 h): {n['never_came_back_24h']} of {n['left_24h']} logins that left for the "
            f"IdP — {n['note']}"
        )
    elif n["left_24h"]:
        out.append(f"never came back (24 h): none of {n['left_24h']} logins that left for the IdP")
    else:
        out.append("never came back (24 h): no login left for the IdP through the router")
    return "\n".join(out)
