"""``sso-router explain FILE``: replay a HAR or ``mitmdump -w`` capture through the engine offline."""

from __future__ import annotations

import argparse
import json
import os
import secrets
from typing import TYPE_CHECKING

from ..model import Mapping
from .common import ENV_SECRET, FINDING, OK, Subparsers, add_mapping_option, err, load, mapping_path, table

if TYPE_CHECKING:  # imported when run: the other commands need not load the replay
    from ..replay import Exchange, Row, Skipped

NAME = "explain"


def add(sub: Subparsers) -> None:
    e = sub.add_parser(
        NAME,
        help="replay a flow file or HAR through the router offline",
        description="Replay a mitmproxy flow file (mitmdump -w) or a HAR file through the "
        "router offline; one row per request. Never prints query values, bodies, "
        "cookies or tokens. Exit 1 when nothing in the file could be explained.",
    )
    e.add_argument("file", metavar="FILE")
    add_mapping_option(e)
    e.add_argument("--json", action="store_true", help="one JSON object per request (JSON Lines)")
    e.set_defaults(run=run)


def is_har(path: str) -> bool:
    with open(path, "rb") as f:
        return f.read(64).lstrip()[:1] == b"{"


def read_capture(path: str, m: Mapping) -> list[Exchange | Skipped]:
    """Exchanges and Skipped entries of a HAR or flow file. Raises ``ValueError``/``OSError``
    when the file cannot be read at all."""
    if is_har(path):
        from ..har import read_har

        with open(path, "rb") as f:
            return list(read_har(f.read()))
    from ..mitm.capture import read_flow_file  # mitmproxy only now

    try:
        return list(read_flow_file(path, m.settings.limits.max_body))
    except Exception as e:  # FlowReadException and friends: not a flow file
        raise ValueError(f"not a HAR or mitmproxy flow file ({type(e).__name__}: {e})") from e


def _table(rows: list[Row]) -> str:
    """One line per row; with a ``recorded`` column when the capture holds the proxy's decisions:
    "=" where the replay agrees, else "≠" and what the proxy decided in each field that differs."""
    recorded = any(r.recorded is not None for r in rows)
    header = ("#", "method", "path", "provider", "reason", "org", "identifier", "status") + (
        ("recorded",) if recorded else ()
    )

    def cells(r: Row) -> tuple[object, ...]:
        d = r.decision
        out = (
            r.index,
            r.method,
            r.path + ("?" + "&".join(r.params) if r.params else ""),
            d.provider + (f" (shadow → {d.forward_to})" if d.shadow else ""),
            d.reason.value,
            d.org,
            d.evidence,
            r.status,
        )
        if not recorded:
            return out
        if r.recorded is None:
            return (*out, None)
        diff = r.differs
        return (*out, "=" if not diff else "≠ " + ", ".join(f"{k} {r.recorded.get(k) or '-'}" for k in diff))

    return table(header, (cells(r) for r in rows))


def run(args: argparse.Namespace) -> int:
    from ..replay import Exchange, Skipped, replay

    mpath = mapping_path(args.mapping)
    m = load(mpath)
    if m is None:
        return FINDING
    try:
        entries = list(read_capture(args.file, m))
    except (OSError, ValueError) as e:
        err(f"{args.file}: cannot read: {getattr(e, 'strerror', None) or e}")
        return FINDING
    proxy_key = os.environ.get(ENV_SECRET, "").encode()
    rows: list[Row] = []
    for item in replay(entries, m, secret=proxy_key or secrets.token_bytes(32), proxy_key=bool(proxy_key)):
        if isinstance(item, Skipped):
            err(f"{args.file}: entry {item.index} skipped: {item.why}")
        else:
            rows.append(item)
    if args.json:
        for r in rows:
            print(json.dumps(r.as_json(), sort_keys=False))
    elif rows:
        print(_table(rows))
    differing = sum(1 for r in rows if r.differs)
    if differing:
        err(
            f"{args.file}: {differing} of {sum(1 for r in rows if r.recorded is not None)} requests decided "
            "otherwise than the proxy recorded (marked ≠)"
        )
    if rows and is_har(args.file) and not any(e.view.headers.get("cookie") for e in entries if isinstance(e, Exchange)):
        err(
            f"{args.file}: no request in it carries a cookie, so none is replayed with the router's "
            "(a HAR exported sanitized drops them; export it with cookies to see sticky decisions)"
        )
    if not any(not isinstance(e, Skipped) for e in entries):
        err(f"{args.file}: nothing in it could be read")
        return FINDING
    if not rows:  # read, but every entry was for another host or the router's own endpoints
        err(f"{args.file}: no entry is for a host {mpath} serves (is it the right mapping?)")
    return OK
