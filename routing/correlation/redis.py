"""Correlations in Redis, shared by many proxy instances.

Each entry is one string key ``<prefix><hash>`` = ``encode_route(route)`` with ``EX ttl``
(several entries: one pipeline, one round trip); a recall is one ``MGET``. Redis expires
entries itself; nothing is ever deleted by a request. Socket connect and read timeouts are
bounded and the client never retries, so a Redis that is down or hung (SIGSTOP) costs a
call at most about ``timeout`` (connect + one read) and frees its thread. The client
connects lazily: a Redis that is down when the store is built does not stop the router.
Every client error leaves this module as ``StoreUnavailable``.

``redis+sentinel://`` (``sentinel.py``) asks Sentinel for the current primary on each new
connection, and each write waits (at most ``REPLICA_WAIT``) for one replica to acknowledge it
(``WAIT 1``), so a failover right after a login start does not lose its correlation. A write that no
replica acknowledged in time is still on the primary: it is not an error.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ..errors import StoreFailure, StoreUnavailable
from ..logsafe import safe_url
from ..model import Route
from . import Entry, decode_route, encode_route
from .sentinel import SCHEME as SENTINEL_SCHEME
from .sentinel import parse_sentinel_url, primary_client

PREFIX = "ssor:"
REPLICA_WAIT = 0.1  # seconds a sentinel-managed write waits for a replica's acknowledgement, at most


def failure_kind(e: BaseException) -> StoreFailure:
    """What a client error says about the server: too slow, not there at all, or something else."""
    if isinstance(e, (redis.TimeoutError, TimeoutError)):
        return "timeout"
    cause: BaseException | None = e
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError) or "Connection refused" in str(cause):
            return "refused"
        cause = cause.__cause__ or cause.__context__
    return "error"


class RedisStore:
    blocking = True  # the edge runs calls in worker threads, bounded by sso_store_timeout

    def __init__(self, url: str, *, timeout: float = 2.0, prefix: str = PREFIX) -> None:
        self.url = safe_url(url)  # safe to log and show in health; the client alone keeps the password
        self.prefix = prefix
        self.timeout = timeout
        self._sentinel: Any = None
        self._wait_ms = 0  # > 0: writes wait this long for one replica (sentinel-managed primaries)
        try:
            if url.lower().startswith(SENTINEL_SCHEME + "://"):
                self._sentinel, self._client = primary_client(parse_sentinel_url(url), timeout)
                self._wait_ms = max(1, round(min(timeout / 2, REPLICA_WAIT) * 1000))
            else:
                self._client = redis.Redis.from_url(
                    url,
                    socket_timeout=timeout,
                    socket_connect_timeout=timeout,
                    retry=Retry(NoBackoff(), 0),
                    health_check_interval=0,
                    decode_responses=False,
                )
        except ValueError as e:  # malformed URL (bad port, unknown scheme): a configuration error
            raise ValueError(f"bad redis URL {safe_url(url)!r}: {e}") from None

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except (redis.RedisError, OSError) as e:
            raise StoreUnavailable(f"{self.url}: {type(e).__name__}: {e}", failure_kind(e)) from e

    def remember(self, entries: Sequence[Entry]) -> None:
        live = [(key, route, ttl) for key, route, ttl in entries if ttl > 0]
        if not live:
            return
        with self._translated():
            pipe = self._client.pipeline(transaction=False)
            for key, route, ttl in live:
                pipe.set(self.prefix + key, encode_route(route).encode(), ex=max(1, math.ceil(ttl)))
            if self._wait_ms:
                pipe.execute_command("WAIT", 1, self._wait_ms)
            pipe.execute()

    def recall(self, keys: Sequence[str]) -> dict[str, Route]:
        if not keys:
            return {}
        unique = list(dict.fromkeys(keys))
        with self._translated():
            values = self._client.mget([self.prefix + k for k in unique])
        out: dict[str, Route] = {}
        for key, raw in zip(unique, values, strict=True):
            route = decode_route(raw) if raw is not None else None
            if route is not None:
                out[key] = route
        return out

    def check(self) -> None:
        """A round trip to the server; ``StoreUnavailable`` (with its kind) when there is none."""
        with self._translated():
            if not self._client.ping():
                raise StoreUnavailable(f"{self.url}: PING not answered with PONG")

    def ping(self) -> bool:
        try:
            self.check()
        except StoreUnavailable:
            return False
        return True

    def close(self) -> None:
        for client in (self._client, self._sentinel):
            close = getattr(client, "close", None)  # redis-py < 6's Sentinel has none
            try:
                if close is not None:
                    close()
            except (redis.RedisError, OSError):
                pass
