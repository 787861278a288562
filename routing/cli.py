"""``sso-router``: check, explain, migrate, rollback, redact. Exit 0 ok, 1 a finding, 2 usage.

mitmproxy is imported only to read or write a flow file (``routing.mitm.flows``).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from typing import Iterable, Sequence

from .errors import MappingError
from .mapping_loader import load_mapping_file
from .model import Mapping

OK, FINDING, USAGE = 0, 1, 2
ENV_MAPPING = "SSO_ROUTER_MAPPING"
ENV_SECRET = "SSO_ROUTER_SECRET"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own exit code is 2 already; keep one place
        self.print_usage(sys.stderr)
        self.exit(USAGE, f"{self.prog}: error: {message}\n")


def mapping_path(explicit: str | None) -> str:
    return explicit or os.environ.get(ENV_MAPPING) or "mapping.toml"


def _err(msg: str) -> None:
    print(f"sso-router: {msg}", file=sys.stderr)


def _load(path: str) -> Mapping | None:
    try:
        return load_mapping_file(path)
    except MappingError as e:
        _err(f"{path}: {e}")
        return None


# -- check ---------------------------------------------------------------------------------------

_ID_FIELDS = (("domains", "domains"), ("idp_entity_ids", "entity ids"), ("oidc_issuers", "issuers"),
              ("connections", "connections"), ("org_ids", "org ids"), ("client_ids", "client ids"))


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    cells = [list(map(str, header))] + [["-" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells)


def cmd_check(args: argparse.Namespace) -> int:
    path = args.file or mapping_path(args.mapping)
    m = _load(path)
    if m is None:
        return FINDING
    s = m.settings
    by_provider: dict[str, list] = {name: [] for name in m.providers}
    for org in m.orgs.values():
        by_provider[m.provider_for_org(org)].append(org)
    print(f"{path}: OK — {len(m.orgs)} orgs, {len(m.providers)} providers, version {m.version}")
    print(f"public_url {s.public_url}; hosts {', '.join(sorted(s.hosts))}; default {s.default_provider}; "
          f"migration target {s.migration_target}{'; SHADOW mode' if s.shadow else ''}")
    print()
    roles = {s.default_provider: "default", s.migration_target: "migration target"}
    print(table(("provider", "kind", "upstream", "orgs", "role", "paths"),
                ((p.name, p.kind, p.upstream.url, len(by_provider[p.name]), roles.get(p.name, ""),
                  " ".join(p.paths) or "-") for p in m.providers.values())))
    for name, orgs in by_provider.items():
        if not orgs:
            continue
        print(f"\n[{name}]")
        print(table(("org", "migrated", "test users", *(label for _, label in _ID_FIELDS), "target paths"),
                    ((o.key, "yes" if o.migrated else "no", len(o.test_users),
                      *(len(getattr(o, f)) for f, _ in _ID_FIELDS), len(o.target_paths))
                     for o in sorted(orgs, key=lambda o: o.key))))
    nested = _nested_paths(m)
    for inner, outer in nested:
        print(f"note: path {inner} ({m.by_path[inner]}) lies under {outer} ({m.by_path[outer]}); "
              f"the longer prefix wins", file=sys.stderr)
    return OK


def _nested_paths(m: Mapping) -> list[tuple[str, str]]:
    out = []
    for a, pa in m.by_path.items():
        for b, pb in m.by_path.items():
            if a != b and pa != pb and (a.startswith(b.rstrip("/") + "/") or b == "/"):
                out.append((a, b))
    return out


# -- explain -------------------------------------------------------------------------------------

def read_capture(path: str, m: Mapping) -> list:
    """Exchanges and Skipped entries of a HAR or flow file. Raises ``ValueError``/``OSError``
    when the file cannot be read at all."""
    with open(path, "rb") as f:
        head = f.read(64).lstrip()
    if head[:1] == b"{":
        from .har import read_har
        with open(path, "rb") as f:
            return list(read_har(f.read()))
    from .mitm.flows import read_flow_file  # mitmproxy only now
    try:
        return list(read_flow_file(path, m.settings.limits.max_body))
    except Exception as e:  # noqa: BLE001 — FlowReadException and friends: not a flow file
        raise ValueError(f"not a HAR or mitmproxy flow file ({type(e).__name__}: {e})") from e


def cmd_explain(args: argparse.Namespace) -> int:
    from .replay import Row, Skipped, replay

    mpath = mapping_path(args.mapping)
    m = _load(mpath)
    if m is None:
        return FINDING
    try:
        entries = list(read_capture(args.file, m))
    except (OSError, ValueError) as e:
        _err(f"{args.file}: cannot read: {getattr(e, 'strerror', None) or e}")
        return FINDING
    secret = os.environ.get(ENV_SECRET, "").encode() or secrets.token_bytes(32)
    rows: list[Row] = []
    for item in replay(entries, m, secret=secret):
        if isinstance(item, Skipped):
            _err(f"{args.file}: entry {item.index} skipped: {item.why}")
        else:
            rows.append(item)
    if args.json:
        for r in rows:
            print(json.dumps(r.as_json(), sort_keys=False))
    elif rows:
        print(table(("#", "method", "path", "provider", "reason", "org", "identifier", "status"),
                    ((r.index, r.method, r.path + ("?" + "&".join(r.params) if r.params else ""),
                      r.decision.provider + (f" (shadow → {r.decision.forward_to})" if r.decision.shadow else ""),
                      r.decision.reason.value, r.decision.org, r.decision.evidence, r.status) for r in rows)))
    if not any(not isinstance(e, Skipped) for e in entries):
        _err(f"{args.file}: nothing in it could be read")
        return FINDING
    if not rows:  # read, but every entry was for another host or the router's own endpoints
        _err(f"{args.file}: no entry is for a host {mpath} serves (is it the right mapping?)")
    return OK


# -- migrate / rollback --------------------------------------------------------------------------

def cmd_flip(args: argparse.Namespace) -> int:
    from .mapping_edit import UnknownOrg, set_migrated

    path = mapping_path(args.mapping)
    migrated = args.command == "migrate"
    try:
        changed = set_migrated(path, args.org, migrated)
    except UnknownOrg as e:
        _err(f"{path}: {e}")
        return FINDING
    except MappingError as e:
        _err(f"{path}: not changed, the result would be invalid: {e}")
        return FINDING
    except OSError as e:
        _err(f"{path}: {e.strerror or e}")
        return FINDING
    state = "migrated = true" if migrated else "migrated = false"
    print(f"{path}: org {args.org!r} {'now' if changed else 'already'} {state}"
          + ("" if changed else " (file not changed)"))
    return OK


# -- redact --------------------------------------------------------------------------------------

def cmd_redact(args: argparse.Namespace) -> int:
    from .redact import Redactor

    keep: frozenset[str] = frozenset()
    force = "x-force-sk-route"
    mpath = mapping_path(args.mapping)
    if args.mapping or os.path.exists(mpath):
        m = _load(mpath)
        if m is None:
            return FINDING
        keep = frozenset(u for o in m.orgs.values() for u in o.test_users)
        force = m.settings.force_header or force
    r = Redactor(keep_emails=keep, force_header=force)
    try:
        with open(args.file, "rb") as f:
            data = f.read()
    except OSError as e:
        _err(f"{args.file}: cannot read: {e.strerror or e}")
        return FINDING
    if os.path.abspath(args.output) == os.path.abspath(args.file):
        _err("refusing to overwrite the capture itself; name another -o")
        return USAGE
    if data.lstrip()[:1] == b"{":
        from .har import HarError, redact_har
        try:
            doc, dropped = redact_har(data, r)
        except HarError as e:
            _err(f"{args.file}: {e}")
            return FINDING
        _write_new(args.output, json.dumps(doc, indent=1).encode())
        count = len(doc["log"]["entries"])
    else:
        from .mitm.flows import read_flows, redact_flow, write_flow_file
        try:
            flows = [redact_flow(f, r) for f in read_flows(args.file)]
        except Exception as e:  # noqa: BLE001 — FlowReadException: not a flow file
            _err(f"{args.file}: not a HAR or mitmproxy flow file ({type(e).__name__})")
            return FINDING
        tmp = args.output + ".partial"
        write_flow_file(tmp, flows)
        os.replace(tmp, args.output)
        count, dropped = len(flows), 0
    if dropped:
        _err(f"{args.file}: {dropped} unreadable entries left out")
    print(f"{args.output}: {count} entries written, secrets replaced")
    return OK if count else FINDING


def _write_new(path: str, data: bytes) -> None:
    tmp = path + ".partial"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


# -- wiring --------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="sso-router", description="Check, explain and flip the sso-router mapping.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    def mapping_opt(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--mapping", metavar="PATH",
                        help=f"the mapping (default: env {ENV_MAPPING}, else ./mapping.toml)")

    c = sub.add_parser("check", help="validate a mapping and print its orgs per provider",
                       description="Validate a mapping; print orgs per provider. Exit 1 naming the key at fault.")
    c.add_argument("file", nargs="?", metavar="MAPPING", help="the mapping to check (else --mapping's)")
    mapping_opt(c)
    c.set_defaults(run=cmd_check)

    e = sub.add_parser("explain", help="replay a flow file or HAR through the router offline",
                       description="Replay a mitmproxy flow file (mitmdump -w) or a HAR file through the "
                                   "router offline; one row per request. Never prints query values, bodies, "
                                   "cookies or tokens. Exit 1 when nothing in the file could be explained.")
    e.add_argument("file", metavar="FILE")
    mapping_opt(e)
    e.add_argument("--json", action="store_true", help="one JSON object per request (JSON Lines)")
    e.set_defaults(run=cmd_explain)

    for name, verb in (("migrate", "send ORG to the migration target (migrated = true)"),
                       ("rollback", "send ORG back to the default provider (migrated = false)")):
        f = sub.add_parser(name, help=verb, description=f"{verb[0].upper()}{verb[1:]}, keeping the file's comments "
                           "and layout; validated before an atomic write. A running proxy picks it up within 2 s.")
        f.add_argument("org", metavar="ORG", help="the org's key in the mapping (its primary email domain)")
        mapping_opt(f)
        f.set_defaults(run=cmd_flip)

    r = sub.add_parser("redact", help="copy a flow file or HAR with its secrets replaced",
                       description="Write a copy of a flow file or HAR with SAML assertions, codes, tokens, "
                                   "cookies, Authorization headers and client secrets replaced; routing "
                                   "identifiers kept, so `explain` gives the same rows. The mapping (if found) "
                                   "names test users, whose emails are kept whole.")
    r.add_argument("file", metavar="FILE")
    r.add_argument("-o", "--output", required=True, metavar="OUT")
    mapping_opt(r)
    r.set_defaults(run=cmd_redact)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return OK


if __name__ == "__main__":
    sys.exit(main())
