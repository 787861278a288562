"""``sso-router learn [--decision-log FILE | --url URL] [--apply]``: mapping additions from traffic.

Reads what requests carried (SAML Issuer, a posted id_token's ``iss``, connection ids) next to
the org something else routed them to, from decision logs (``.gz`` too) or running routers
(``GET /.sso-router/learn``); proposes what only one org was seen with and the mapping lacks.
Without ``--apply`` it prints the proposals and the diff; with it, merges them as ``import`` does.
Exit 1 when something is disputed (seen for two orgs, or mapped to another org) or a source
cannot be read.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from typing import Any

from ..onboard.evidence import Evidence, from_records
from .common import FINDING, USAGE, Subparsers, add_mapping_option, err, load, mapping_path

NAME = "learn"
ENV_TOKEN = "SSO_ROUTER_ADMIN_TOKEN"
URL_TIMEOUT = 10.0


def add(sub: Subparsers) -> None:
    p = sub.add_parser(
        NAME,
        help="propose mapping additions the router saw evidence for",
        description="Propose IdP entity ids, OIDC issuers and connection ids seen on requests "
        "that something else routed to an org, with counts and last-seen times; never one "
        "another org claims. --apply merges them (comments kept, validated, atomic write).",
    )
    p.add_argument(
        "--decision-log",
        action="append",
        default=[],
        metavar="FILE",
        help="a decision log (sso_decision_log; .gz read too); repeatable",
    )
    p.add_argument(
        "--url",
        action="append",
        default=[],
        metavar="URL",
        help="a running router (its /.sso-router/learn, admin-only); repeatable, one per instance",
    )
    p.add_argument("--token", metavar="TOKEN", help=f"admin token for --url (default: env {ENV_TOKEN})")
    p.add_argument("--min-count", type=int, default=1, metavar="N", help="propose only what was seen N times")
    p.add_argument("--apply", action="store_true", help="merge the proposals into the mapping")
    add_mapping_option(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not args.decision_log and not args.url:
        err("learn: name a --decision-log FILE or a running router's --url")
        return USAGE
    if args.min_count < 1:
        err("--min-count: want 1 or more")
        return USAGE
    path = mapping_path(args.mapping)
    m = load(path)
    if m is None:
        return FINDING
    ev = gather(args)
    if ev is None:
        return FINDING
    from ..onboard.learn import as_plan, propose
    from . import onboard_report as report

    learned = propose(ev, m, min_count=args.min_count)
    print(
        f"learn: {ev.requests} requests routed to an org carried identifiers; "
        f"{len(learned.proposals)} proposals"
        + (f"; {ev.dropped} identifiers dropped (memory bound)" if ev.dropped else "")
    )
    code = report.finish(
        path, as_plan(learned), "learned from traffic", dry_run=not args.apply, extra=report.learned_lines(learned)
    )
    if not args.apply and learned.proposals:
        print("run again with --apply to merge these")
    return FINDING if learned.disputed else code


def gather(args: argparse.Namespace) -> Evidence | None:
    ev = Evidence(max_values=10**7)
    for f in args.decision_log:
        try:
            got, bad = read_log(f)
        except OSError as e:
            err(f"{f}: {e.strerror or e}")
            return None
        if bad:
            err(f"{f}: {bad} lines are not decision records; skipped")
        ev.merge(got)
    token = args.token or os.environ.get(ENV_TOKEN, "")
    for url in args.url:
        try:
            ev.merge(fetch(url, token))
        except (OSError, ValueError) as e:
            err(f"{url}: {e}")
            return None
    return ev


def read_log(path: str) -> tuple[Evidence, int]:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:
        return from_records(_records(f))


def _records(lines: Iterable[str]) -> Iterator[Any]:
    for line in lines:
        line = line.strip()
        if not line:
            continue
        try:
            yield json.loads(line)
        except ValueError:
            yield None


def fetch(url: str, token: str) -> Evidence:
    """A router's evidence (``GET <url>/.sso-router/learn``). Raises ``OSError``, ``ValueError``."""
    if not url.lower().startswith(("http://", "https://")):
        raise ValueError("want an http(s) URL")
    req = urllib.request.Request(url.rstrip("/") + "/.sso-router/learn", headers={"Accept": "application/json"})
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=URL_TIMEOUT) as resp:  # scheme checked
            body = resp.read(256 * 1024 * 1024)
    except urllib.error.HTTPError as e:
        hint = " (not an admin address, no --token, or a router without /learn)" if e.code == 404 else ""
        raise OSError(f"answered {e.code}{hint}") from None
    except urllib.error.URLError as e:
        raise OSError(f"cannot reach it: {e.reason}") from None
    return Evidence.from_snapshot(json.loads(body))
