"""``FigureCalls``: every call to the figure store off the event loop, bounded, never raising.

The figure store (``routing.figures`` on the ``sso_store`` URL: memory, sqlite, Redis) is called by
the figures task (``figures_task.py``) and the ``/.sso-router/orgs`` endpoints, never by a hook.
Each call runs in threads of its own — not the correlation store's, so a slow read of figures never
queues a login's lookup — and is awaited with a bound. A failure or a timeout is counted in
``sso_router_store_errors_total{operation, kind}`` and answered as ``None``; one WARNING when calls
start failing, one INFO when they answer again. A call whose bound ran out keeps its thread until
the store's own socket timeout frees it: at most ``MAX_PENDING`` calls are outstanding, and a call
beyond that fails at once (``kind="busy"``), so a hung store never piles work up.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from ..errors import StoreUnavailable
from ..metrics import Metrics

log = logging.getLogger("sso_router")
THREADS = 2  # the figures task's calls, one at a time, and an endpoint read beside it
MAX_PENDING = 4  # calls submitted and not yet returned by their thread
T = TypeVar("T")


class FigureCalls:
    def __init__(self, url: str, metrics: Metrics) -> None:
        self.url = url
        self.metrics = metrics
        self.ok = True  # the last call answered
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._pending = 0
        self._lock = threading.Lock()  # _pending is released from the worker threads
        self._closed = False
        self._on_idle: Callable[[], None] | None = None  # after close(): run once nothing is pending

    async def call(self, op: str, bound: float, fn: Callable[..., T], *args: Any) -> T | None:
        """``fn(*args)`` in a worker thread, awaited at most ``bound`` seconds; None on any failure."""
        fut = self.submit(op, fn, *args)
        if fut is None:
            return None
        try:
            result = await asyncio.wait_for(asyncio.wrap_future(fut), bound)
        except TimeoutError:
            self._failed(op, "timeout", f"no answer within {bound:g} s")
            return None
        except StoreUnavailable as e:
            self._failed(op, e.kind, str(e))
            return None
        except Exception as e:  # noqa: BLE001 — a figures failure must never reach mitmproxy
            self._failed(op, "error", f"{type(e).__name__}: {e}")
            return None
        if not self.ok:
            self.ok = True
            log.info(f"sso-router: figure store {self.url} is answering again")
        return result

    def submit(self, op: str, fn: Callable[..., T], *args: Any) -> concurrent.futures.Future[T] | None:
        """Start ``fn(*args)`` in a worker thread without waiting (None: closed, or too many pending)."""
        if self._closed:
            return None
        with self._lock:
            if self._pending >= MAX_PENDING:
                busy = True
            else:
                busy = False
                self._pending += 1
        if busy:
            self._failed(op, "busy", f"{MAX_PENDING} calls still running")
            return None
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(THREADS, thread_name_prefix="sso-router-figures")
        fut = self._pool.submit(fn, *args)
        fut.add_done_callback(self._release)
        return fut

    def _release(self, _: object) -> None:
        with self._lock:
            self._pending -= 1
            idle = self._on_idle if self._pending == 0 else None
            if idle is not None:
                self._on_idle = None
        if idle is not None:
            idle()

    def _failed(self, op: str, kind: str, why: str) -> None:
        self.metrics.store_error(op, kind)
        if self.ok:
            self.ok = False
            log.warning(
                f"sso-router: figure store {self.url}: {op} failed ({kind}: {why}); login figures are "
                "not recorded or read until it answers (routing goes on)"
            )

    def close(self, then: Callable[[], None] | None = None) -> None:
        """No new calls; calls already submitted finish in their threads (bounded by the store's
        timeouts), and ``then`` runs once they all have (at once when none is pending)."""
        self._closed = True
        with self._lock:
            now = self._pending == 0
            if not now:
                self._on_idle = then
        if now and then is not None:
            then()
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None
