"""``StoreGuard``: the correlation store as the proxy uses it.

Opened from its URL; every call to a blocking store (sqlite, Redis) runs in the guard's own thread
pool under ``sso_store_timeout``, so a store that is down or hangs delays only the flows that asked
it; a failure is counted and answered as "no correlation"; after one, lookups skip the store for
``BREAK`` seconds (writes do not); a pinger in its own thread keeps ``status`` (what ``/ready``
says) current. Owned by the addon and closed in its ``done()``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from typing import Any, Sequence

from .. import endpoints
from ..correlation import CorrelationStore, Entry, open_store
from ..errors import StoreUnavailable
from ..metrics import Metrics
from ..model import Route

log = logging.getLogger("sso_router")
PING_INTERVAL = 2.0  # how often a shared store's health is checked (ready flips back within 10 s)
THREADS = 8  # calls to a blocking store run here, never on the event loop
BREAK = 1.0  # after a failed lookup, skip the store this long (counted) instead of waiting each time

# Per process, not per addon instance: `-s` scripts are rebuilt when edited, this module is not.
# The memory store (logins in flight) must survive that.
_MEMORY: dict[str, CorrelationStore] = {}


class StoreGuard:
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self.store: CorrelationStore | None = None
        self.status = endpoints.StoreStatus("memory://", True)
        self.timeout = 0.25
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._ping_pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._down_until = 0.0
        self._closed = False

    @property
    def blocking(self) -> bool:
        return bool(getattr(self.store, "blocking", False))

    def open(self, url: str, *, timeout: float, check_now: bool) -> None:
        """Use the store at ``url`` (``ValueError`` for a bad one). ``check_now``: ping it here
        (startup, bounded); otherwise the pinger finds out (a runtime change must not block)."""
        self.timeout = timeout
        key = url.lower()
        if key.startswith("memory"):  # the process's one memory store, kept across script reloads
            if key not in _MEMORY:
                _MEMORY[key] = open_store(url, clock=time.time)
            store = _MEMORY[key]
        else:
            store = open_store(url, clock=time.time, timeout=timeout)
        if self.store is not None and self.store is not store:
            self._close_store()
        self.store = store
        self.status = endpoints.StoreStatus(store.url, True)  # store.url carries no password
        self._down_until = 0.0
        if self.blocking and check_now and not self._ping_now():
            # a WARNING, not an ERROR: mitmdump exits on any ERROR record at startup
            log.warning(f"sso-router: correlation store {store.url} is not reachable; routing by org "
                        "mapping until it answers (logins in flight may land at their org's provider)")
            self.status = endpoints.StoreStatus(store.url, False, "unreachable at startup")

    def _ping_now(self) -> bool:
        try:
            return bool(self.store.ping())
        except Exception:  # noqa: BLE001 — a store that cannot even answer ping is "down"
            return False

    # -- calls ----------------------------------------------------------------------------------
    def recall_now(self, keys: Sequence[str]) -> dict[str, Route]:
        """For a non-blocking (memory) store: called on the event loop directly."""
        try:
            return self.store.recall(keys) if self.store is not None else {}
        except Exception as e:  # noqa: BLE001 — a store failure routes as "no correlation", counted
            self.failed(e)
            return {}

    def remember_now(self, entries: Sequence[Entry]) -> None:
        try:
            if self.store is not None:
                self.store.remember(entries)
        except Exception as e:  # noqa: BLE001
            self.failed(e)

    async def recall(self, keys: Sequence[str]) -> dict[str, Route]:
        try:
            return await self._call("recall", keys) or {}
        except Exception as e:  # noqa: BLE001 — a store failure routes as "no correlation", counted
            self.failed(e)
            return {}

    async def remember(self, entries: Sequence[Entry]) -> None:
        try:
            # writes skip the breaker: a login learned now must not be lost to a hiccup a moment ago
            await self._call("remember", entries, breaker=False)
        except Exception as e:  # noqa: BLE001
            self.failed(e)

    async def _call(self, method: str, arg: Any, *, breaker: bool = True) -> Any:
        store = self.store
        if store is None:
            return None
        fn = getattr(store, method)
        if not self.blocking:
            return fn(arg)
        if breaker and time.monotonic() < self._down_until:
            # failed a moment ago: don't make every request wait out the timeout; the pinger re-opens it
            raise StoreUnavailable("store recently failed; skipped")
        if self._closed:
            raise StoreUnavailable("the addon is shutting down")
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(THREADS, thread_name_prefix="sso-router-store")
        fut = asyncio.get_running_loop().run_in_executor(self._pool, fn, arg)
        return await asyncio.wait_for(fut, self.timeout)

    def failed(self, e: BaseException) -> None:
        self.metrics.inc("sso_router_store_errors_total")
        if not isinstance(e, StoreUnavailable) or "skipped" not in str(e):
            self._down_until = time.monotonic() + BREAK
        if self.status.ok:
            log.warning(f"sso-router: correlation store {self.status.url} failing ({type(e).__name__}); "
                        "routing without correlations until it answers")
        self.status = endpoints.StoreStatus(self.status.url, False, type(e).__name__)

    # -- health ---------------------------------------------------------------------------------
    async def ping_forever(self) -> None:
        while True:
            await asyncio.sleep(PING_INTERVAL)
            store = self.store
            if store is None or not self.blocking or self._closed:
                continue
            if self._ping_pool is None:  # its own thread: pings must not queue behind hung lookups
                self._ping_pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="sso-router-ping")
            try:
                ok = bool(await asyncio.wait_for(asyncio.get_running_loop().run_in_executor(
                    self._ping_pool, store.ping), max(1.0, self.timeout)))
            except Exception:  # noqa: BLE001
                ok = False
            if not ok:
                self.failed(TimeoutError("ping"))
            elif not self.status.ok:
                self._down_until = 0.0
                self.status = endpoints.StoreStatus(self.status.url, True)
                log.info(f"sso-router: correlation store {self.status.url} is answering again")

    def close(self) -> None:
        """The addon is done: no new threads; calls already queued still finish (flows await them)."""
        self._closed = True
        for pool in (self._pool, self._ping_pool):
            if pool is not None:
                pool.shutdown(wait=False)
        self._pool = self._ping_pool = None
        self._close_store()

    def _close_store(self) -> None:
        if self.store is not None and not self.store.url.startswith("memory"):
            self.store.close()  # a memory store stays: the reloaded script's addon takes it over
