"""``sso-router import auth0|workos|cognito|firebase FILE…``: the legacy provider's export → ``[orgs]``.

Exit 0 when merged (or nothing to merge), 1 on a conflict, an unused ``--key``, an unreadable
file or mapping, 2 on a usage error. ``--dry-run`` prints the diff and writes nothing.
"""

from __future__ import annotations

import argparse
from typing import Any

from .common import FINDING, USAGE, Subparsers, add_mapping_option, err, load, mapping_path

NAME = "import"
PROVIDERS = ("auth0", "workos", "cognito", "firebase")
FROM_API = ("auth0", "cognito")


def add(sub: Subparsers) -> None:
    p = sub.add_parser(
        NAME,
        help="turn the legacy provider's export into [orgs] entries",
        description="Read what the provider's own API returns (one response per FILE; '-' is "
        "stdin) and merge its enterprise connections into the mapping as orgs (migrated = false), "
        "keeping comments and hand-written entries. Conflicts are reported, not written (exit 1).",
    )
    p.add_argument("provider", choices=PROVIDERS, metavar="PROVIDER", help=" | ".join(PROVIDERS))
    p.add_argument("files", nargs="*", metavar="FILE", help="API responses (JSON), several pages in any order")
    add_mapping_option(p)
    p.add_argument("--dry-run", action="store_true", help="print the diff; write nothing")
    p.add_argument(
        "--key",
        action="append",
        default=[],
        metavar="NAME=DOMAIN",
        help="key an org the export names no email domain for (NAME: a connection name/id, an "
        "organization or tenant id); repeatable",
    )
    p.add_argument(
        "--fetch-metadata",
        action="store_true",
        help="fetch SAML metadata URLs (10 s timeout) for the IdP entity id; off by default",
    )
    p.add_argument(
        "--from-api",
        action="store_true",
        help="read the live API through the provider's SDK (auth0: AUTH0_DOMAIN + AUTH0_API_TOKEN or "
        "AUTH0_CLIENT_ID/AUTH0_CLIENT_SECRET; cognito: AWS credentials and --user-pool-id)",
    )
    p.add_argument("--auth0-domain", metavar="DOMAIN", help="with --from-api auth0 (default: env AUTH0_DOMAIN)")
    p.add_argument("--user-pool-id", metavar="ID", help="with --from-api cognito: the user pool to read")
    p.add_argument("--region", metavar="REGION", help="with --from-api cognito (default: as boto3 finds it)")
    p.set_defaults(run=run)


def parse_keys(pairs: list[str]) -> dict[str, str] | str:
    """``NAME=DOMAIN`` pairs, or the usage error."""
    from ..onboard.drafts import is_domain

    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, domain = pair.partition("=")
        domain = domain.strip().lower()
        if not sep or not name.strip() or not is_domain(domain):
            return f"--key {pair!r}: want NAME=DOMAIN, DOMAIN an email domain such as acme.com"
        out[name.strip()] = domain
    return out


def run(args: argparse.Namespace) -> int:
    keys = parse_keys(args.key)
    if isinstance(keys, str):
        return usage(keys)
    if not args.files and not args.from_api:
        return usage(f"import {args.provider}: name the FILEs to read (or --from-api)")
    if args.from_api and args.provider not in FROM_API:
        return usage(f"--from-api reads auth0 and cognito; export {args.provider} to files (README: Onboarding)")
    if args.from_api and args.provider == "cognito" and not args.user_pool_id:
        return usage("--from-api cognito needs --user-pool-id")
    path = mapping_path(args.mapping)
    m = load(path)
    if m is None:
        return FINDING
    docs = read_docs(args)
    if docs is None:
        return FINDING
    from ..onboard import auth0, cognito, firebase, workos
    from ..onboard.drafts import ExportError
    from ..onboard.metadata import MetadataSource
    from ..onboard.plan import make_plan

    meta = MetadataSource(args.fetch_metadata)
    try:
        reading = {
            "auth0": lambda: auth0.read(docs, meta),
            "workos": lambda: workos.read(docs),
            "cognito": lambda: cognito.read(docs, meta),
            "firebase": lambda: firebase.read(docs),
        }[args.provider]()
    except ExportError as e:
        err(str(e))
        return FINDING
    plan = make_plan(m, reading.drafts, keys)
    from . import onboard_report as report

    print(report.reading_line(reading))
    return report.finish(
        path, plan, f"imported from {args.provider}", dry_run=args.dry_run, extra=report.import_lines(reading, plan)
    )


def read_docs(args: argparse.Namespace) -> list[tuple[str, Any]] | None:
    from ..onboard.drafts import ExportError, load_json

    docs: list[tuple[str, Any]] = []
    for f in args.files:
        try:
            docs.append((f, load_json(f)))
        except ExportError as e:
            err(str(e))
            return None
        except OSError as e:
            err(f"{f}: {e.strerror or e}")
            return None
    if args.from_api:
        from ..onboard.api import ApiError, auth0_docs, cognito_docs

        try:
            docs += (
                auth0_docs(args.auth0_domain)
                if args.provider == "auth0"
                else cognito_docs(args.user_pool_id, region=args.region)
            )
        except ApiError as e:
            err(str(e))
            return None
    return docs


def usage(msg: str) -> int:
    err(msg)
    return USAGE
