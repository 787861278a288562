"""In-flight login memory: the store protocol, keyed hashing, and ``open_store(url)``.

Values (states, codes, tokens, SAML IDs) are never stored: only
a keyed hash of ``namespace ‖ value`` (``routing.keyed``). Entries expire; no request erases one.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit
from typing import Callable, Iterable, Protocol, Sequence

from ..keyed import mac_hex
from ..model import Route

Entry = tuple[str, Route, int]  # (key, route, ttl seconds)


class CorrelationStore(Protocol):
    url: str

    def remember(self, entries: Sequence[Entry]) -> None: ...
    def recall(self, keys: Sequence[str]) -> dict[str, Route]: ...
    def ping(self) -> bool: ...
    def close(self) -> None: ...


def key_for(secret: bytes, namespace: str, value: str) -> str:
    return mac_hex(secret, namespace.encode() + b"\0" + value.encode("utf-8", "surrogatepass"), 20)


def safe_url(url: str) -> str:
    """A store URL fit for logs, errors and the health page: no user, password or query
    (redis-py also takes ``?password=``)."""
    try:
        parts = urlsplit(url)
        return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))
    except ValueError:
        return "<unparseable store URL>"


def encode_route(route: Route) -> str:
    return f"{route.provider}\t{route.org or ''}"


def decode_route(raw: str | bytes) -> Route | None:
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    provider, sep, org = raw.partition("\t")
    return Route(provider, org or None) if sep and provider else None


def first_hit(labelled_keys: Iterable[tuple[str, str]], recalled: dict[str, Route]) -> tuple[str, Route] | None:
    """The first ``(label, route)`` whose key the store knew, in the clues' order."""
    for label, key in labelled_keys:
        route = recalled.get(key)
        if route is not None:
            return label, route
    return None


def open_store(url: str, *, clock: Callable[[], float], timeout: float | None = None) -> CorrelationStore:
    """Build a store from its URL (scheme case-insensitive). Raises ``ValueError`` for an unknown
    or malformed URL.

    Never connects: a store that is down when it is built is found by ``ping()`` or by the
    first call (``StoreUnavailable``). ``timeout`` bounds one call (seconds; network stores
    use it for socket timeouts, sqlite for its busy timeout); ``None`` keeps each backend's default.
    """
    scheme, sep, rest = url.partition("://")
    if sep:
        url = scheme.lower() + sep + rest
    if url in ("memory://", "memory:", "memory"):
        from .memory import MemoryStore
        return MemoryStore(clock=clock)
    if url.startswith("sqlite://"):
        from .sqlite import SqliteStore
        if timeout is None:
            return SqliteStore(url, clock=clock)
        return SqliteStore(url, clock=clock, busy_timeout=timeout)
    if url.startswith(("redis://", "rediss://", "redis+sentinel://")):
        try:
            from .redis import RedisStore
        except ImportError as e:  # the client package is missing: a configuration error, not a crash
            raise ValueError(f"{safe_url(url).split('://')[0]}:// needs the 'redis' package ({e})") from e
        if timeout is None:
            return RedisStore(url, clock=clock)
        return RedisStore(url, clock=clock, timeout=timeout)
    raise ValueError(f"unsupported store URL {safe_url(url)!r} (memory://, sqlite:///path, redis://host:port/db, "
                     "redis+sentinel://host:port[,host:port…]/service/db)")
