"""TOML text -> a dict, with the fastest parser installed, and big documents cut into pieces."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

# fastest first (bench/README.md has the figures for a 100,000-org mapping)
try:
    import rtoml

    def parse_toml(text: str) -> dict[str, Any]:
        """``ValueError`` for a document that is not TOML."""
        try:
            return rtoml.loads(text)
        except rtoml.TomlParsingError as e:
            raise ValueError(str(e)) from e
except ImportError:  # pragma: no cover — no rtoml wheel for this platform
    try:
        import tomli as _toml
    except ImportError:
        import tomllib as _toml  # type: ignore[no-redef]

    def parse_toml(text: str) -> dict[str, Any]:
        try:
            return _toml.loads(text)
        except _toml.TOMLDecodeError as e:
            raise ValueError(str(e)) from e


def chunks(text: str, size: int) -> Iterator[str]:
    """The document cut about every ``size`` characters, each cut just before a line that starts a
    ``[table]``. A header names its table by absolute path, so each piece is a TOML document of its
    own — unless a cut falls inside a multi-line string or array: then the piece before it does not
    parse, and the caller falls back to the whole document."""
    start, n = 0, len(text)
    while start < n:
        cut = start + size
        while cut < n:
            cut = text.find("\n[", cut)
            if cut < 0:
                cut = n
            elif text.startswith("[[", cut + 1):  # an array of tables: look for the next header
                cut += 2
                continue
            else:
                cut += 1
            break
        yield text[start : min(cut, n)]
        start = cut
