"""``redis+sentinel://`` URLs: the Redis primary that Sentinel names, through redis-py's Sentinel support.

``redis+sentinel://[user:password@]host[:port][,host[:port]…]/service[/db][?sentinel_password=…]``

- the hosts are the sentinels (port 26379 when left out); ``service`` is the name they monitor
  (``sentinel monitor <service> …``); ``db`` defaults to 0;
- ``user:password`` authenticate to the primary (and replicas); ``sentinel_password``, when the
  sentinels have a ``requirepass`` of their own;
- every connection asks the sentinels for the current primary, so a failover needs no restart:
  calls fail (``StoreUnavailable``, in ``redis.py``) until a replica is promoted, then go to it.

Bounds: each sentinel query and each primary connection has ``timeout`` for connect and read and
is never retried; a call that finds every sentinel hung costs about ``timeout`` per sentinel.
"""

from __future__ import annotations

from typing import Any, NamedTuple
from urllib.parse import parse_qsl, unquote, urlsplit

from redis.backoff import NoBackoff
from redis.retry import Retry

SCHEME = "redis+sentinel"
DEFAULT_PORT = 26379
_PARAMS = {"sentinel_password"}


class SentinelURL(NamedTuple):
    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int
    username: str | None
    password: str | None
    sentinel_password: str | None


def parse_sentinel_url(url: str) -> SentinelURL:
    """Raises ``ValueError`` (with no password in its message) for a malformed URL."""
    scheme, sep, rest = url.partition("://")
    if scheme.lower() != SCHEME or not sep:
        raise ValueError(f"not a {SCHEME}:// URL")
    parts = urlsplit(f"{SCHEME}://{rest}")
    userinfo, _, hosts = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    sentinels = tuple(_host_port(h) for h in hosts.split(","))
    path = [p for p in parts.path.split("/") if p]
    if not path or len(path) > 2:
        raise ValueError("want /service[/db] after the sentinels")
    try:
        db = int(path[1]) if len(path) == 2 else 0
    except ValueError:
        raise ValueError(f"db must be a number, not {path[1]!r}") from None
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(params) - _PARAMS)
    if unknown:
        raise ValueError(f"unknown parameter {unknown[0]!r} (known: {', '.join(sorted(_PARAMS))})")
    return SentinelURL(
        sentinels,
        unquote(path[0]),
        db,
        unquote(user) or None,
        unquote(password) or None,
        params.get("sentinel_password") or None,
    )


def _host_port(text: str) -> tuple[str, int]:
    host, port = text, ""
    if text.startswith("["):  # [IPv6]:port
        host, _, port = text[1:].partition("]")
        port = port.removeprefix(":")
    elif ":" in text:
        host, _, port = text.rpartition(":")
    if not host:
        raise ValueError("a sentinel host is empty")
    try:
        number = int(port) if port else DEFAULT_PORT
    except ValueError:
        raise ValueError(f"bad sentinel port {port!r}") from None
    if not 0 < number < 65536:
        raise ValueError(f"bad sentinel port {number}")
    return host, number


def primary_client(spec: SentinelURL, timeout: float, *, decode_responses: bool = False) -> tuple[Any, Any]:
    """(the ``Sentinel`` manager, a ``Redis`` client of the current primary). Connects lazily."""
    from redis.sentinel import Sentinel

    bounded = {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry": Retry(NoBackoff(), 0),
        "health_check_interval": 0,
    }
    sentinel_kwargs = dict(bounded)
    if spec.sentinel_password:
        sentinel_kwargs["password"] = spec.sentinel_password
    sentinel: Any = Sentinel  # redis-py leaves Sentinel unannotated
    manager = sentinel(list(spec.sentinels), sentinel_kwargs=sentinel_kwargs)
    client = manager.master_for(
        spec.service,
        db=spec.db,
        username=spec.username,
        password=spec.password,
        decode_responses=decode_responses,
        **bounded,
    )
    return manager, client
