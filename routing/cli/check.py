"""``sso-router check [MAPPING]``: validate a mapping; print its orgs per provider."""

from __future__ import annotations

import argparse
import sys

from ..model import Mapping, Org
from .common import FINDING, OK, Subparsers, add_mapping_option, load, mapping_path, table

NAME = "check"
_ID_FIELDS = (
    ("domains", "domains"),
    ("idp_entity_ids", "entity ids"),
    ("oidc_issuers", "issuers"),
    ("connections", "connections"),
    ("org_ids", "org ids"),
    ("client_ids", "client ids"),
)


def add(sub: Subparsers) -> None:
    c = sub.add_parser(
        NAME,
        help="validate a mapping and print its orgs per provider",
        description="Validate a mapping; print orgs per provider. Exit 1 naming the key at fault.",
    )
    c.add_argument("file", nargs="?", metavar="MAPPING", help="the mapping to check (else --mapping's)")
    add_mapping_option(c)
    c.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    path = args.file or mapping_path(args.mapping)
    m = load(path)
    if m is None:
        return FINDING
    s = m.settings
    by_provider: dict[str, list[Org]] = {name: [] for name in m.providers}
    for org in m.orgs.values():
        by_provider[m.provider_for_org(org)].append(org)
    print(f"{path}: OK — {len(m.orgs)} orgs, {len(m.providers)} providers, version {m.version}")
    print(
        f"public_url {s.public_url}; hosts {', '.join(sorted(s.hosts))}; default {s.default_provider}; "
        f"migration target {s.migration_target}{'; SHADOW mode' if s.shadow else ''}"
    )
    print()
    roles = {s.default_provider: "default", s.migration_target: "migration target"}
    print(
        table(
            ("provider", "kind", "upstream", "orgs", "role", "paths"),
            (
                (
                    p.name,
                    p.kind,
                    p.upstream.url,
                    len(by_provider[p.name]),
                    roles.get(p.name, ""),
                    " ".join(p.paths) or "-",
                )
                for p in m.providers.values()
            ),
        )
    )
    for name, orgs in by_provider.items():
        if not orgs:
            continue
        print(f"\n[{name}]")
        print(
            table(
                ("org", "migrated", "test users", *(label for _, label in _ID_FIELDS), "target paths"),
                (
                    (
                        o.key,
                        "yes" if o.migrated else "no",
                        len(o.test_users),
                        *(len(getattr(o, f)) for f, _ in _ID_FIELDS),
                        len(o.target_paths),
                    )
                    for o in sorted(orgs, key=lambda o: o.key)
                ),
            )
        )
    for inner, outer in nested_paths(m):
        print(
            f"note: path {inner} ({m.by_path[inner]}) lies under {outer} ({m.by_path[outer]}); the longer prefix wins",
            file=sys.stderr,
        )
    return OK


def nested_paths(m: Mapping) -> list[tuple[str, str]]:
    out = []
    for a, pa in m.by_path.items():
        for b, pb in m.by_path.items():
            if a != b and pa != pb and (a.startswith(b.rstrip("/") + "/") or b == "/"):
                out.append((a, b))
    return out
