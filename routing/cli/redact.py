"""``sso-router redact FILE -o OUT``: a copy of a capture with its secrets replaced."""

from __future__ import annotations

import argparse
import json
import os

from .common import FINDING, OK, USAGE, Subparsers, add_mapping_option, err, load, mapping_path, write_new

NAME = "redact"


def add(sub: Subparsers) -> None:
    r = sub.add_parser(
        NAME,
        help="copy a flow file or HAR with its secrets replaced",
        description="Write a copy of a flow file or HAR with SAML assertions, codes, tokens, "
        "cookies, Authorization headers and client secrets replaced; routing "
        "identifiers kept, so `explain` gives the same rows. The mapping (if found) "
        "names test users, whose emails are kept whole.",
    )
    r.add_argument("file", metavar="FILE")
    r.add_argument("-o", "--output", required=True, metavar="OUT")
    add_mapping_option(r)
    r.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..redact import Redactor

    keep: frozenset[str] = frozenset()
    force = "x-force-sk-route"
    mpath = mapping_path(args.mapping)
    if args.mapping or os.path.exists(mpath):
        m = load(mpath)
        if m is None:
            return FINDING
        keep = frozenset(u for o in m.orgs.values() for u in o.test_users)
        force = m.settings.force_header or force
    r = Redactor(keep_emails=keep, force_header=force)
    try:
        with open(args.file, "rb") as f:
            data = f.read()
    except OSError as e:
        err(f"{args.file}: cannot read: {e.strerror or e}")
        return FINDING
    if os.path.abspath(args.output) == os.path.abspath(args.file):
        err("refusing to overwrite the capture itself; name another -o")
        return USAGE
    if data.lstrip()[:1] == b"{":
        from ..har import HarError, redact_har

        try:
            doc, dropped = redact_har(data, r)
        except HarError as e:
            err(f"{args.file}: {e}")
            return FINDING
        write_new(args.output, json.dumps(doc, indent=1).encode())
        count = len(doc["log"]["entries"])
    else:
        from ..mitm.capture import read_flows, redact_flow, write_flow_file

        try:
            flows = [redact_flow(f, r) for f in read_flows(args.file)]
        except Exception as e:  # noqa: BLE001 — FlowReadException: not a flow file
            err(f"{args.file}: not a HAR or mitmproxy flow file ({type(e).__name__})")
            return FINDING
        tmp = args.output + ".partial"
        write_flow_file(tmp, flows)
        os.replace(tmp, args.output)
        count, dropped = len(flows), 0
    if dropped:
        err(f"{args.file}: {dropped} unreadable entries left out")
    print(f"{args.output}: {count} entries written, secrets replaced")
    return OK if count else FINDING
