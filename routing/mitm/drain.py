"""Graceful drain on SIGTERM: ``/ready`` says 503 at once, the process keeps serving (the flows it has
and any the balancer still sends) until no flow has come or gone for ``QUIET`` seconds, or
``sso_drain_timeout`` runs out; then it flushes the login figures and the decision log and exits 0.
A second SIGTERM, or a SIGINT while draining, exits at once.

mitmdump installs its own SIGTERM handler (exit now) before addons run; ``install`` replaces it from
``running()`` and ``uninstall`` puts mitmproxy's behaviour back (a script reload, ``done``).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable

from mitmproxy.utils import asyncio_utils

from .runtime import Runtime

log = logging.getLogger("sso_router")
POLL = 0.05  # seconds between looks at the flows in flight
# no flow came or went for this long: the balancer has stopped sending (HAProxy as shipped takes a
# 503 server out within 2 checks 2 s apart; a request it still sends after is replayed elsewhere)
QUIET = 2.0


class Drain:
    def __init__(self, runtime: Callable[[], Runtime | None], shutdown: Callable[[], None]) -> None:
        self._runtime = runtime
        self._shutdown = shutdown
        self._task: asyncio.Task[None] | None = None
        self._installed = False

    def install(self) -> None:
        try:
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGTERM, self.on_sigterm)
        except (RuntimeError, NotImplementedError, ValueError):  # no loop, not the main thread, Windows
            return
        self._installed = True

    def uninstall(self) -> None:
        if not self._installed:
            return
        self._installed = False
        try:
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGTERM, self._shutdown)
            loop.add_signal_handler(signal.SIGINT, self._shutdown)
        except (RuntimeError, NotImplementedError, ValueError):
            pass
        if self._task is not None:
            self._task.cancel()

    def on_sigterm(self) -> None:
        rt = self._runtime()
        if self._task is not None or rt is None:
            log.warning("sso-router: second signal while draining: exiting now")
            self._shutdown()
            return
        rt.draining = True
        log.warning(
            f"sso-router: SIGTERM: draining ({len(rt.in_flight)} flows in flight; /ready says 503; "
            f"exiting within {rt.options.drain_timeout:g} s)"
        )
        try:
            asyncio.get_running_loop().add_signal_handler(signal.SIGINT, self.on_sigterm)
        except (RuntimeError, NotImplementedError, ValueError):
            pass
        self._task = asyncio_utils.create_task(self._drain(rt), name="sso-router drain", keep_ref=True)

    async def _drain(self, rt: Runtime) -> None:
        began = time.monotonic()
        deadline = began + rt.options.drain_timeout
        while time.monotonic() < deadline and rt.in_flight.quiet_for(since=began) < QUIET:
            await asyncio.sleep(POLL)
        if rt.in_flight:
            log.warning(f"sso-router: drain timeout: exiting with {len(rt.in_flight)} flows still in flight")
        await rt.figures_task.flush()  # the last second's login figures (bounded by sso_store_timeout)
        if rt.decision_log is not None:
            rt.decision_log.flush()
        self._shutdown()
