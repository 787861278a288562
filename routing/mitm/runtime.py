"""``Runtime``: everything the router serves with — the mapping, the store, the secret, metrics, the
decision log, the login figures (their store, the buffer the hooks fill, the task that flushes it
and runs the canary) — built from its options by the addon's ``configure`` and dropped in ``done``."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import Iterable

from mitmproxy import exceptions
from mitmproxy.utils import asyncio_utils

from ..audit import DecisionLog
from ..correlation import open_store
from ..errors import MappingError
from ..figures import FigureStore
from ..figures.buffer import FigureBuffer
from ..metrics import Metrics
from ..model import Mapping, Provider
from ..onboard.evidence import Evidence
from ..reload import MappingHolder
from . import views
from .figure_calls import FigureCalls
from .figures_task import FiguresTask
from .heap import freeze_startup
from .inflight import InFlight
from .options import RouterOptions
from .process import ProcessState
from .store_guard import StoreGuard
from .watcher import watch_mapping

log = logging.getLogger("sso_router")


class Runtime:
    def __init__(self, opts: RouterOptions, process: ProcessState) -> None:
        self.options = opts
        self.process = process
        self.metrics = Metrics()
        self.serving = False  # set by running(): /ready stays 503 until mitmproxy is fully up
        self.draining = False  # set on SIGTERM: /ready says 503 while the flows in hand finish
        self.in_flight = InFlight()  # flows routed upstream whose answer is still to go out
        self.holder = _load(opts.mapping)
        self.metrics.set_gauge("sso_router_mapping_last_reload_ok", 1)
        self.stores = self._guard(opts, check_now=True)
        self.metrics.set_gauge("sso_router_store_up", 1 if self.stores.available else 0)
        self.figures, self.figure_calls = self._figures(opts)
        self.figure_buffer = FigureBuffer()  # filled by the hooks, drained by the figures task
        self.figures_task = FiguresTask(self)
        self.canary_owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"  # its rollback lock
        self.mark_flows = False  # set by the addon under mitmweb: flow.marked by the provider that got it
        self.decision_log = _open_log(opts.decision_log)
        self.evidence = Evidence()  # what `sso-router learn --url` reads at /.sso-router/learn
        self._upstreams: tuple[Mapping | None, dict[tuple[str, int], Provider]] = (None, {})
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def secret(self) -> bytes:
        return self.options.secret

    @property
    def mapping(self) -> Mapping | None:
        return self.holder.mapping

    def reconfigure(self, opts: RouterOptions, updated: Iterable[str]) -> None:
        """Apply changed options: every new part is built before any is swapped in, so a refused
        option (``OptionsError``) leaves the runtime as it was."""
        changed = set(updated)
        holder = _load(opts.mapping) if "sso_mapping" in changed else self.holder
        new_store = opts.store != self.options.store or opts.store_timeout != self.options.store_timeout
        stores = self._guard(opts, check_now=not self.serving) if new_store else self.stores
        figures = self._figures(opts) if new_store else (self.figures, self.figure_calls)
        log_changed = "sso_decision_log" in changed and opts.decision_log != self.options.decision_log
        decision_log = _open_log(opts.decision_log) if log_changed else self.decision_log
        if stores is not self.stores:
            self._retire_store(self.stores)
            if self.serving:
                self._tasks.append(
                    asyncio_utils.create_task(stores.probe_forever(), name="sso-router store probe", keep_ref=True)
                )
        if figures[1] is not self.figure_calls:
            self.figures_task.flush_soon()  # what the old store has not got yet
            self._retire_figures(keep_store=figures[0] is self.figures)
        if decision_log is not self.decision_log and self.decision_log is not None:
            self.decision_log.close()
        self.options, self.holder, self.stores, self.decision_log = opts, holder, stores, decision_log
        self.figures, self.figure_calls = figures

    def _guard(self, opts: RouterOptions, *, check_now: bool) -> StoreGuard:
        try:
            if opts.store.strip().lower().startswith("memory"):
                store = self.process.memory_store(opts.store)
            else:
                store = open_store(opts.store, clock=time.time, timeout=opts.store_timeout)
        except ValueError as e:
            raise exceptions.OptionsError(f"sso_store: {e}") from e
        guard = StoreGuard(store, self.metrics, timeout=opts.store_timeout)
        if check_now:  # at startup a ping is bounded and expected; at runtime it would block the event loop
            guard.check_at_startup()
        return guard

    def _figures(self, opts: RouterOptions) -> tuple[FigureStore, FigureCalls]:
        """The login figures live where the correlations do (``sso_store``): shared by every instance."""
        try:
            store = self.process.figure_store(opts.store, opts.store_timeout)
        except ValueError as e:
            raise exceptions.OptionsError(f"sso_store: {e}") from e
        return store, FigureCalls(store.url, self.metrics)

    def _retire_figures(self, *, keep_store: bool = False) -> None:
        """No new figure calls; the store is closed once the calls already given to it are done (the
        process's memory store stays: a reloaded script's addon takes it over)."""
        store = self.figures
        keep = keep_store or store is self.process.memory_figures
        self.figure_calls.close(then=None if keep else store.close)

    def _retire_store(self, guard: StoreGuard) -> None:
        guard.close()
        if guard.blocking:  # the process's memory store stays: a reloaded script's addon takes it over
            guard.store.close()

    def start(self) -> None:
        """From ``running()``: the proxy serves; watch the mapping file and probe the store."""
        self.serving = True
        freeze_startup(self.process)
        self._tasks = [
            asyncio_utils.create_task(
                watch_mapping(self.holder, self.metrics), name="sso-router mapping watcher", keep_ref=True
            ),
            asyncio_utils.create_task(self.stores.probe_forever(), name="sso-router store probe", keep_ref=True),
            asyncio_utils.create_task(self.figures_task.run(), name="sso-router figures", keep_ref=True),
        ]

    def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks = []
        self.figures_task.flush_soon()
        self._retire_figures()
        self._retire_store(self.stores)
        if self.decision_log is not None:
            self.decision_log.close()
            self.decision_log = None

    def upstreams(self) -> dict[tuple[str, int], Provider]:
        """Providers by their upstream's ``(host, port)`` (for upstream TLS: ``sni``, ``ca_file``)."""
        m = self.holder.mapping
        if m is None:
            return {}
        if self._upstreams[0] is not m:
            table: dict[tuple[str, int], Provider] = {}
            for p in m.providers.values():
                table.setdefault((p.upstream.host, p.upstream.port), p)
            self._upstreams = (m, table)
        return self._upstreams[1]

    def provider_at(self, host: str, port: int) -> Provider | None:
        return self.upstreams().get((host.lower(), port))


def _load(path: str) -> MappingHolder:
    holder = MappingHolder(path, clock=time.time)
    try:
        holder.load()
    except MappingError as e:
        raise exceptions.OptionsError(f"sso_mapping {path}: {e}") from e
    m = holder.mapping
    assert m is not None
    views.register(m.settings.limits)
    log.info(f"sso-router: mapping {holder.path} loaded ({holder.last.message})")
    return holder


def _open_log(path: str) -> DecisionLog | None:
    if not path:
        return None
    try:
        return DecisionLog(path)
    except OSError as e:
        raise exceptions.OptionsError(f"sso_decision_log: {e}") from e
