"""``sso-router demo``: the router between a demo app, two providers and two IdPs, on 127.0.0.1."""

from __future__ import annotations

import argparse

from .common import FINDING, Subparsers, err


def add(sub: Subparsers) -> None:
    d = sub.add_parser(
        "demo",
        help="run a clickable demo on 127.0.0.1 (app, IdPs, both providers, the router)",
        description="Start, on 127.0.0.1 only, a demo app, a SAML IdP for each of two example orgs, "
        "a legacy provider and a Scalekit stand-in, and the router (mitmdump -s "
        "sso_router_addon.py) on a demo mapping; print the URL to open. Ctrl-C stops all of it.",
    )
    d.add_argument("--quiet", action="store_true", help="do not echo the router's own lines")
    d.add_argument("--keep", action="store_true", help="keep the demo's directory (mapping, decision log) at exit")
    d.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        import signxml  # noqa: F401 — the demo's IdPs sign with it
    except ImportError:
        err("the demo needs the 'demo' extra: pip install 'sso-router[demo]' (scripts/bootstrap installs it)")
        return FINDING
    from ..demo.run import run as run_demo

    return run_demo(echo_router=not args.quiet, keep=args.keep)
