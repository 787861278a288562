"""What every ``sso-router`` command shares: exit codes, the mapping path, messages, tables."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Sequence

from ..errors import MappingError
from ..mapping_loader import load_mapping_file
from ..model import Mapping

OK, FINDING, USAGE = 0, 1, 2
ENV_MAPPING = "SSO_ROUTER_MAPPING"
ENV_SECRET = "SSO_ROUTER_SECRET"


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]  # argparse exits 2 too; one place
        self.print_usage(sys.stderr)
        self.exit(USAGE, f"{self.prog}: error: {message}\n")


# what ``build_parser`` hands each command's ``add``: its subparsers make ``Parser``s
type Subparsers = argparse._SubParsersAction[Parser]


def mapping_path(explicit: str | None) -> str:
    return explicit or os.environ.get(ENV_MAPPING) or "mapping.toml"


def add_mapping_option(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--mapping", metavar="PATH", help=f"the mapping (default: env {ENV_MAPPING}, else ./mapping.toml)")


def err(msg: str) -> None:
    print(f"sso-router: {msg}", file=sys.stderr)


def load(path: str) -> Mapping | None:
    """The mapping at ``path``, or None after saying why on stderr."""
    try:
        return load_mapping_file(path)
    except MappingError as e:
        err(f"{path}: {e}")
        return None


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    cells = [list(map(str, header))] + [["-" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells)


def write_new(path: str, data: bytes) -> None:
    """Write ``path`` through a ``.partial`` file and a rename: a reader never sees half of it."""
    tmp = path + ".partial"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
