"""``StoreGuard``: the correlation store as the proxy uses it, where a slow answer is not an outage.

Every call to a blocking store (sqlite, Redis) runs in the guard's own threads, awaited with
``sso_store_timeout`` as its bound, so a store that is slow or hung delays only the flows that
asked it. A lookup waits for its answer up to the bound; a write (what a provider's answer taught)
is held until acknowledged within the same bound and retried once if it fails fast. One failure
is counted (``sso_router_store_errors_total{operation, kind}``) and routes that one request as
without correlation; only ``FAILURES_IN_A_ROW`` failed calls in a row, or a refused connection,
make the store *unavailable*: lookups are skipped, ``/ready`` says 503, one WARNING. A probe
(``ping``) runs every ``PROBE_INTERVAL`` seconds, and the first good answer of any call makes it
available again. Owned by the runtime and closed with it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Literal, NamedTuple, TypeVar

from mitmproxy.utils import asyncio_utils

from ..correlation import CorrelationStore, Entry
from ..endpoints import StoreStatus
from ..errors import StoreFailure, StoreUnavailable
from ..metrics import Metrics
from ..model import Route

log = logging.getLogger("sso_router")
PROBE_INTERVAL = 1.0  # seconds between pings (a killed store is noticed within about this)
FAILURES_IN_A_ROW = 3  # failed calls in a row that make a (slow, not refused) store unavailable
THREADS = 8  # calls to a blocking store run here, never on the event loop
RETRY_FLOOR = 0.05  # a failed write is retried only if at least this much of the bound is left
MAX_BACKGROUND = 64  # writes tried in the background while the store is unavailable; more are dropped, counted

Operation = Literal["recall", "remember", "ping"]
T = TypeVar("T")
R = TypeVar("R")


class Recall(NamedTuple):
    """What a lookup found, and, when the store could not answer, why (for the decision record)."""

    routes: dict[str, Route]
    unanswered: str | None = None


class StoreGuard:
    def __init__(self, store: CorrelationStore, metrics: Metrics, *, timeout: float) -> None:
        self.store = store
        self.metrics = metrics
        self.timeout = timeout
        self.blocking = bool(getattr(store, "blocking", False))
        self.status = StoreStatus(store.url, True)
        self._in_a_row = 0
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._probe_pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._closed = False
        self._background: set[asyncio.Task[None]] = set()

    @property
    def available(self) -> bool:
        return self.status.ok

    def check_at_startup(self) -> None:
        """One bounded ping before the proxy serves: a store that is down is a WARNING, not a refusal."""
        if not self.blocking:
            return
        try:
            self.store.check()
            ok = True
        except Exception:  # noqa: BLE001 — a store that cannot even answer ping is down
            ok = False
        if not ok:  # a WARNING, not an ERROR: mitmdump exits on any ERROR record at startup
            log.warning(
                f"sso-router: correlation store {self.store.url} is not reachable; routing by org "
                "mapping until it answers (logins in flight may land at their org's provider)"
            )
            self.status = StoreStatus(self.store.url, False, "unreachable at startup")

    # -- calls ---------------------------------------------------------------------------------
    def recall_now(self, keys: Sequence[str]) -> Recall:
        """For a non-blocking (memory) store: called on the event loop directly."""
        try:
            return Recall(self.store.recall(keys))
        except Exception as e:  # noqa: BLE001 — a store failure routes as "no correlation", counted
            return Recall({}, self._failed("recall", e))

    def remember_now(self, entries: Sequence[Entry]) -> None:
        try:
            self.store.remember(entries)
        except Exception as e:  # noqa: BLE001
            self._failed("remember", e)

    async def recall(self, keys: Sequence[str]) -> Recall:
        if not self.status.ok:
            return Recall({}, f"unavailable ({self.status.detail})")
        try:
            return Recall(await self._call("recall", self.store.recall, keys, self.timeout))
        except Exception as e:  # noqa: BLE001 — a store failure routes as "no correlation", counted
            return Recall({}, self._failed("recall", e))

    def remember_later(self, entries: Sequence[Entry]) -> Awaitable[None] | None:
        """What the response hook returns: while the store is available, the write to hold the
        response on; while it is unavailable, None — the write is tried in the background (a login
        learned now should not be lost, but the browser is not kept waiting on a store that is down)."""
        if self.status.ok:
            return self.remember(entries)
        if len(self._background) < MAX_BACKGROUND and not self._closed:
            task = asyncio_utils.create_task(self.remember(entries), name="sso-router store write", keep_ref=False)
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        else:
            self.metrics.store_error("remember", "skipped")
        return None

    async def remember(self, entries: Sequence[Entry]) -> None:
        """Held until the store acknowledges, within the bound; a fast failure is retried once."""
        deadline = time.monotonic() + self.timeout
        for attempt in (1, 2):
            left = deadline - time.monotonic()
            try:
                await self._call("remember", self.store.remember, entries, left)
                return
            except Exception as e:  # noqa: BLE001
                self._failed("remember", e)
                if attempt == 2 or deadline - time.monotonic() < RETRY_FLOOR or self._closed:
                    return

    async def _call(self, op: Operation, fn: Callable[[T], R], arg: T, bound: float) -> R:
        if self._closed:
            raise StoreUnavailable("the router is shutting down", "closed")
        if not self.blocking:
            result = fn(arg)
        else:
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(THREADS, thread_name_prefix="sso-router-store")
            fut = asyncio.get_running_loop().run_in_executor(self._pool, fn, arg)
            result = await asyncio.wait_for(fut, max(bound, 0.001))
        self._answered()
        return result

    # -- health --------------------------------------------------------------------------------
    def _failed(self, op: Operation, e: BaseException) -> str:
        kind = _kind(e)
        self.metrics.store_error(op, kind)
        if kind == "closed":
            return "closed (the router is stopping)"
        self._in_a_row += 1
        if self.status.ok and (kind == "refused" or self._in_a_row >= FAILURES_IN_A_ROW):
            why = "connection refused" if kind == "refused" else f"{self._in_a_row} failed calls in a row ({kind})"
            log.warning(
                f"sso-router: correlation store {self.status.url} unavailable: {why}; routing without "
                "correlations until it answers"
            )
            self.status = StoreStatus(self.status.url, False, why)
        return kind if self.status.ok else f"unavailable ({self.status.detail})"

    def _answered(self) -> None:
        self._in_a_row = 0
        if not self.status.ok:
            self.status = StoreStatus(self.status.url, True)
            log.info(f"sso-router: correlation store {self.status.url} is answering again")

    async def probe_forever(self) -> None:
        """Ping every PROBE_INTERVAL, in a thread of its own (never queued behind hung lookups)."""
        if not self.blocking:
            return
        while not self._closed:
            await asyncio.sleep(PROBE_INTERVAL)
            await self.probe()

    async def probe(self) -> None:
        if self._probe_pool is None:
            self._probe_pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="sso-router-probe")
        try:
            fut = asyncio.get_running_loop().run_in_executor(self._probe_pool, self.store.check)
            await asyncio.wait_for(fut, self.timeout)
        except Exception as e:  # noqa: BLE001 — its kind decides: refused is down at once, timeouts count
            self._failed("ping", e)
            return
        self._answered()

    def close(self) -> None:
        """No new calls; calls already running finish in their threads (flows awaiting them go on)."""
        self._closed = True
        for pool in (self._pool, self._probe_pool):
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._probe_pool = None


def _kind(e: BaseException) -> StoreFailure:
    if isinstance(e, StoreUnavailable):
        return e.kind
    if isinstance(e, (asyncio.TimeoutError, TimeoutError)):
        return "timeout"
    if isinstance(e, ConnectionRefusedError):
        return "refused"
    return "error"
