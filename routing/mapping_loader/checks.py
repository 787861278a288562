"""Reading one value of a table, checked; every refusal a ``MappingError`` naming its key and line."""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

from ..errors import MappingError
from ..model import Network, Upstream
from .lines import line_of

Table = dict[str, Any]


def shown(url: str) -> str:
    """A URL as an error message may quote it: its user and password left out."""
    scheme, sep, rest = url.partition("://")
    netloc, slash, path = rest.partition("/")
    return scheme + sep + netloc.rpartition("@")[2] + slash + path if sep else url


class Checker:
    """Typed reads of the document's values. ``doc`` and ``text`` locate a key's line for errors."""

    def __init__(self, doc: dict[str, Any], text: str) -> None:
        self.doc = doc
        self.text = text

    def fail(self, key: str, msg: str) -> MappingError:
        return MappingError(key, msg, line_of(key, self.doc, self.text))

    def table(self, value: Any, key: str) -> Table:
        if not isinstance(value, dict):
            raise self.fail(key, "must be a table")
        return value

    def unknown(self, table: Table, allowed: frozenset[str], key: str) -> None:
        for k in table:
            if k not in allowed:
                raise self.fail(f"{key}.{k}" if key else k, "unknown key")

    def str_(self, t: Table, k: str, key: str, default: str = "") -> str:
        v = t.get(k, default)
        if not isinstance(v, str):
            raise self.fail(f"{key}.{k}", f"must be a string, not {type(v).__name__}")
        return v.strip()

    def bool_(self, t: Table, k: str, key: str, default: bool = False) -> bool:
        v = t.get(k, default)
        if not isinstance(v, bool):
            raise self.fail(f"{key}.{k}", f"must be true or false, not {v!r}")
        return v

    def int_(self, t: Table, k: str, key: str, default: int) -> int:
        v = t.get(k, default)
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise self.fail(f"{key}.{k}", f"must be a positive integer, not {v!r}")
        return v

    def strs(self, t: Table, k: str, key: str) -> tuple[str, ...]:
        v = t.get(k)
        if v is None:
            return ()
        if type(v) is list:
            out = [x.strip() for x in v if type(x) is str]
            if len(out) == len(v) and all(out):
                return tuple(out) if len(out) < 2 else tuple(dict.fromkeys(out))
        raise self.fail(f"{key}.{k}", "must be a list of non-empty strings")

    def url(self, value: str, key: str, *, origin_only: bool) -> Upstream:
        try:
            u = urlsplit(value)
            port = u.port
        except ValueError as e:
            raise self.fail(key, f"bad URL {shown(value)!r}: {e}") from e
        if u.scheme not in ("http", "https") or not u.hostname:
            raise self.fail(key, f"bad URL {shown(value)!r}: want http(s)://host[:port]")
        if origin_only and (u.path not in ("", "/") or u.query or u.fragment or u.username):
            why = "no user or password in it" if u.username or u.password else "no path"
            raise self.fail(key, f"bad URL {shown(value)!r}: want scheme://host[:port] with {why}")
        return Upstream(u.scheme, u.hostname.lower(), port or (443 if u.scheme == "https" else 80))

    def networks(self, t: Table, k: str, key: str, default: tuple[Network, ...]) -> tuple[Network, ...]:
        if k not in t:
            return default
        out = []
        for i, v in enumerate(self.strs(t, k, key)):
            try:
                out.append(ipaddress.ip_network(v, strict=False))
            except ValueError:
                raise self.fail(f"{key}.{k}[{i}]", f"not an address or CIDR network: {v!r}") from None
        return tuple(out)
