"""``migrate`` / ``rollback``: flip one org's ``migrated`` in the mapping file, keeping its comments
and layout (tomlkit), validated by the loader before an atomic write (temp file + ``os.replace``)."""

from __future__ import annotations

import os
import stat
import tempfile

import tomlkit
from tomlkit.exceptions import TOMLKitError

from .errors import MappingError
from .mapping_loader import load_mapping


class UnknownOrg(LookupError):
    def __init__(self, org: str, known: list[str]) -> None:
        self.org = org
        hint = f" (known: {', '.join(known[:10])}{', …' if len(known) > 10 else ''})" if known else ""
        super().__init__(f'unknown org {org!r}: no [orgs."{org}"] table in the mapping{hint}')


def flip(text: str, org: str, migrated: bool) -> str:
    """The mapping text with ``orgs."<org>".migrated`` set. Raises ``UnknownOrg``, ``MappingError``."""
    try:
        doc = tomlkit.parse(text)
    except TOMLKitError as e:
        raise MappingError("", f"invalid TOML: {e}") from e
    orgs = doc.get("orgs")
    if not isinstance(orgs, dict) or not isinstance(orgs.get(org), dict):
        raise UnknownOrg(org, sorted(orgs) if isinstance(orgs, dict) else [])
    table = orgs[org]
    current = table.get("migrated")
    if current is not None and not isinstance(current, bool):
        raise MappingError(f'orgs."{org}".migrated', f"must be true or false, not {current!r}")
    if current is None:
        table["migrated"] = migrated
    elif bool(current) != migrated:
        item = table.item("migrated") if hasattr(table, "item") else None
        new = tomlkit.item(migrated)
        if item is not None and item.trivia.comment:  # keep an inline comment on the line
            new.trivia.comment_ws = item.trivia.comment_ws
            new.trivia.comment = item.trivia.comment
        table["migrated"] = new
    out = tomlkit.dumps(doc)
    load_mapping(out.encode("utf-8"))  # refuse a result the proxy would refuse
    return out


def set_migrated(path: str, org: str, migrated: bool) -> bool:
    """Flip ``org`` in the file at ``path``. Returns False when it already had that value (nothing
    written). Raises ``UnknownOrg``, ``MappingError`` (invalid result), ``OSError``."""
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise MappingError("", "mapping is not UTF-8") from e
    new = flip(text, org, migrated)
    if new == text:
        return False
    write_atomic(path, new.encode("utf-8"))
    return True


def write_atomic(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temp file in the same directory and ``os.replace``,
    keeping the file's mode, so a reader (the proxy's reload) sees the old or the new file whole."""
    real = os.path.realpath(path)
    directory = os.path.dirname(real) or "."
    mode = stat.S_IMODE(os.stat(real).st_mode)
    fd, tmp = tempfile.mkstemp(prefix=".sso-router-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, real)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
