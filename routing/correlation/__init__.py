"""In-flight login memory: the store protocol, keyed hashing, and ``open_store(url)``.

Values (states, codes, tokens, SAML IDs) are never stored: only
a keyed hash of ``namespace ‖ value`` (``routing.keyed``). Entries expire; no request erases one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple, Protocol

from ..keyed import mac_hex
from ..logsafe import safe_url
from ..model import Route


class Entry(NamedTuple):
    """One correlation to store: under ``key`` (a keyed hash, never the value), for ``ttl`` seconds."""

    key: str
    route: Route
    ttl: int


class CorrelationStore(Protocol):
    url: str

    def remember(self, entries: Sequence[Entry]) -> None: ...
    def recall(self, keys: Sequence[str]) -> dict[str, Route]: ...
    def ping(self) -> bool: ...
    def check(self) -> None: ...  # raises StoreUnavailable (with its kind) when the store does not answer
    def close(self) -> None: ...


def key_for(secret: bytes, namespace: str, value: str) -> str:
    return mac_hex(secret, namespace.encode() + b"\0" + value.encode("utf-8", "surrogatepass"), 20)


def encode_route(route: Route) -> str:
    return f"{route.provider}\t{route.org or ''}"


def decode_route(raw: str | bytes) -> Route | None:
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    provider, sep, org = raw.partition("\t")
    return Route(provider, org or None) if sep and provider else None


class Candidate(NamedTuple):
    """A value in a request that may continue a login: what to ask the store for."""

    kind: str  # store namespace: saml_id, relay_state, state, code, request_uri, token
    label: str  # where it came from, in words (the decision's evidence)
    key: str  # its keyed hash


class Correlated(NamedTuple):
    """A candidate the store knew: the route remembered for it."""

    kind: str
    label: str
    route: Route


def hits(candidates: Iterable[Candidate], recalled: dict[str, Route]) -> list[Correlated]:
    """The candidates whose key the store knew, in the clues' order (most decisive first)."""
    return [Correlated(c.kind, c.label, route) for c in candidates if (route := recalled.get(c.key)) is not None]


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
            return RedisStore(url)
        return RedisStore(url, timeout=timeout)
    raise ValueError(
        f"unsupported store URL {safe_url(url)!r} (memory://, sqlite:///path, redis://host:port/db, "
        "redis+sentinel://host:port[,host:port…]/service/db)"
    )
