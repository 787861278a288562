"""``sso-router``: one module per command, each with ``add(subparsers)`` and ``run(args) -> int``.

Exit 0 on success, 1 on a finding, 2 on a usage error. mitmproxy is imported only to read or
write a flow file (``routing.mitm.capture``). A new command: a module here with ``add``/``run``,
listed in ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import check, demo, explain, flip, importer, learn, redact, status
from .common import FINDING, OK, USAGE, Parser

__all__ = ["COMMANDS", "FINDING", "OK", "USAGE", "build_parser", "main"]

COMMANDS = (check, explain, flip, redact, status, importer, learn, demo)  # in the order `--help` lists them


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="sso-router", description="Check, explain and flip the sso-router mapping.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    for command in COMMANDS:
        command.add(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return OK


if __name__ == "__main__":
    sys.exit(main())
