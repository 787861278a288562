"""``sso-router migrate ORG`` / ``rollback ORG``: flip ``migrated``, comments kept, atomic write."""

from __future__ import annotations

import argparse

from ..errors import MappingError
from .common import FINDING, OK, Subparsers, add_mapping_option, err, mapping_path

NAMES = ("migrate", "rollback")


def add(sub: Subparsers) -> None:
    for name, verb in (
        ("migrate", "send ORG to the migration target (migrated = true)"),
        ("rollback", "send ORG back to the default provider (migrated = false)"),
    ):
        f = sub.add_parser(
            name,
            help=verb,
            description=f"{verb[0].upper()}{verb[1:]}, keeping the file's comments "
            "and layout; validated before an atomic write. A running proxy picks it up within 2 s.",
        )
        f.add_argument("org", metavar="ORG", help="the org's key in the mapping (its primary email domain)")
        add_mapping_option(f)
        f.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..mapping_edit import UnknownOrg, set_migrated

    path = mapping_path(args.mapping)
    migrated = args.command == "migrate"
    try:
        changed = set_migrated(path, args.org, migrated)
    except UnknownOrg as e:
        err(f"{path}: {e}")
        return FINDING
    except MappingError as e:
        err(f"{path}: not changed, the result would be invalid: {e}")
        return FINDING
    except OSError as e:
        err(f"{path}: {e.strerror or e}")
        return FINDING
    state = "migrated = true" if migrated else "migrated = false"
    print(
        f"{path}: org {args.org!r} {'now' if changed else 'already'} {state}"
        + ("" if changed else " (file not changed)")
    )
    return OK
