"""Correlations in Redis, shared by many proxy instances.

Each entry is one string key ``<prefix><hash>`` = ``encode_route(route)`` with ``EX ttl``
(several entries: one pipeline, one round trip); a recall is one ``MGET``. Redis expires
entries itself; nothing is ever deleted by a request. Socket connect and read timeouts are
bounded and the client never retries, so a Redis that is down or hung (SIGSTOP) costs a
call at most about ``timeout`` (connect + one read) and frees its thread. The client
connects lazily: a Redis that is down when the store is built does not stop the router.
Every client error leaves this module as ``StoreUnavailable``.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ..errors import StoreFailure, StoreUnavailable
from ..model import Route
from ..logsafe import safe_url
from . import Entry, decode_route, encode_route

PREFIX = "ssor:"



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

    def __init__(self, url: str, *, clock: Callable[[], float] | None = None, timeout: float = 0.25,
                 prefix: str = PREFIX) -> None:
        # ``clock`` is accepted for symmetry with the other stores; Redis keeps time itself.
        self.url = safe_url(url)  # safe to log and show in health; the client alone keeps the password
        self.prefix = prefix
        self.timeout = timeout
        try:
            self._client: Any = redis.Redis.from_url(
                url, socket_timeout=timeout, socket_connect_timeout=timeout,
                retry=Retry(NoBackoff(), 0), health_check_interval=0, decode_responses=False)
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
            pipe.execute()

    def recall(self, keys: Sequence[str]) -> dict[str, Route]:
        if not keys:
            return {}
        unique = list(dict.fromkeys(keys))
        with self._translated():
            values = self._client.mget([self.prefix + k for k in unique])
        out: dict[str, Route] = {}
        for key, raw in zip(unique, values):
            route = decode_route(raw) if raw is not None else None
            if route is not None:
                out[key] = route
        return out

    def ping(self) -> bool:
        try:
            with self._translated():
                return bool(self._client.ping())
        except StoreUnavailable:
            return False

    def close(self) -> None:
        try:
            self._client.close()
        except (redis.RedisError, OSError):
            pass
