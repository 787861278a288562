"""The figures task, started by ``Runtime.start`` and cancelled by ``Runtime.close``.

Once a second: what the hooks collected (``FigureBuffer``) goes to the figure store in one call;
a new mapping's flips are recorded (``canary.observe``: "migrated since", and the orgs the canary
watches) and its gauges set. Every ``CHECK_EVERY`` seconds: logins that left for an IdP and did not
come back within ``correlation_ttl`` are counted (``sso_router_logins_unreturned_total``), and with
``[router.canary] enabled`` the watched orgs are judged and, when failing, rolled back
(``canary.check``): a WARNING, ``sso_router_canary_rollbacks_total`` and a decision-log line.

Every store call goes through ``FigureCalls`` (a worker thread, bounded, counted, never raised).
Per check at most ``MAX_JUDGED`` orgs are read: first those this instance saw outcomes for at the
migration target, then the others in turn.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from .. import canary
from ..figures import Batch, FigureStore
from ..figures.memory import MemoryFigures
from ..model import Mapping

if TYPE_CHECKING:
    from .runtime import Runtime

log = logging.getLogger("sso_router")
FLUSH_INTERVAL = 1.0  # seconds between flushes of the buffer
CHECK_EVERY = 2  # flushes between expiry and canary checks
# a batch this small goes into the process's own memory store on the loop (well under 0.1 ms; a
# thread hand-off costs more than that); bigger ones, and every other store, in a thread
RECORD_HERE_MAX = 64
MAX_JUDGED = 500  # watched orgs read per canary check
FLIPS_BOUND = 60.0  # seconds for recording a mapping's flips (the first look at 100,000 orgs included)
CANARY_BOUND = 30.0  # seconds for one canary check (reads, the lock, a rollback's file write)


class FiguresTask:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._store: FigureStore | None = None  # the store the flips below were recorded in
        self._seen: Mapping | None = None  # the mapping whose flips are recorded
        self._watch: dict[str, float] = {}  # org -> time of its flip, while the canary may judge it
        self._active: set[str] = set()  # watched orgs with outcomes at the migration target since the last check
        self._turn = 0  # where the last check's turn through the other watched orgs ended
        self._ticks = 0
        self._dropped = 0  # the buffer's drop count already counted
        self._store_up: bool | None = None  # what the store_up gauge says

    async def run(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_INTERVAL)
            try:
                await self.step()
            except Exception as e:  # noqa: BLE001 — the task must outlive any one bad step
                log.warning(f"sso-router: figures task: {type(e).__name__}: {e}")

    async def step(self) -> None:
        rt = self.rt
        if (up := rt.stores.available) is not self._store_up:
            rt.metrics.set_gauge("sso_router_store_up", 1 if up else 0)
            self._store_up = up
        m = rt.holder.mapping
        if rt.figures is not self._store:  # a new sso_store: its flips are not recorded yet
            self._store, self._seen, self._watch = rt.figures, None, {}
        if m is not None and m is not self._seen:
            await self._observe(m)
        await self.flush()
        self._ticks += 1
        if self._ticks % CHECK_EVERY:
            return
        await self._expire()
        if m is not None and m is self._seen and m.settings.canary.enabled:
            await self._check(m)

    # -- the buffer ----------------------------------------------------------------------------
    async def flush(self) -> None:
        """Hand what the hooks collected to the store (dropped, counted, if the store fails)."""
        rt = self.rt
        buf = rt.figure_buffer
        if buf.dropped > self._dropped:
            rt.metrics.store_error("figures_record", "dropped", buf.dropped - self._dropped)
            self._dropped = buf.dropped
        batch = buf.drain()
        if batch is None:
            return
        self._note_active(batch)
        if len(batch) <= RECORD_HERE_MAX and self._recorded_here(batch):
            return
        await rt.figure_calls.call("figures_record", rt.options.store_timeout, rt.figures.record, batch)

    def flush_soon(self) -> None:
        """From ``close()``: the last batch to the store without waiting (a worker thread finishes it;
        the process's memory store, which does no I/O, takes it at once)."""
        rt = self.rt
        batch = rt.figure_buffer.drain()
        if batch is None:
            return
        if self._own_store() is None:
            rt.figure_calls.submit("figures_record", rt.figures.record, batch)
            return
        self._record_here(batch)

    def _own_store(self) -> MemoryFigures | None:
        """The figure store, when it is the process's own memory store (no I/O: it may be called on
        the loop); None for any other."""
        own = self.rt.figures
        return own if isinstance(own, MemoryFigures) and own is self.rt.process.memory_figures else None

    def _recorded_here(self, batch: Batch) -> bool:
        """A few events into the process's own memory store, on the loop (no I/O: cheaper than a
        hand-off to a thread); False when the store is another, or busy."""
        own = self._own_store()
        return own is not None and own.try_record(batch)

    def _record_here(self, batch: Batch) -> None:
        """Into the process's own memory store, on the calling thread; counted, never raised."""
        rt = self.rt
        try:
            rt.figures.record(batch)
        except Exception as e:  # noqa: BLE001 — never into mitmproxy
            rt.metrics.store_error("figures_record", "error")
            log.warning(f"sso-router: login figures not recorded: {type(e).__name__}: {e}")

    def _note_active(self, batch: Batch) -> None:
        m = self.rt.holder.mapping
        if m is None or not self._watch or not m.settings.canary.enabled:
            return
        target = m.settings.migration_target
        self._active.update(e.org for e in batch.outcomes if e.provider == target and e.org in self._watch)

    # -- flips and expiry ----------------------------------------------------------------------
    async def _observe(self, m: Mapping) -> None:
        rt = self.rt
        rt.metrics.mapping_in_force(m.settings.default_provider, m.settings.migration_target, m.providers)
        watch = await rt.figure_calls.call(
            "figures_flips", FLIPS_BOUND, canary.observe, rt.figures, self._seen, m, time.time()
        )
        if watch is None:
            return  # tried again next tick, from the same old mapping
        self._watch.update(watch)
        self._seen = m

    async def _expire(self) -> None:
        rt = self.rt
        if (own := self._own_store()) is not None and not own.due(time.time()):
            return  # the process's own store, nothing due: no thread hand-off every check
        lost = await rt.figure_calls.call("figures_expire", rt.options.store_timeout, rt.figures.expire, time.time())
        for gone in lost or ():
            rt.metrics.unreturned(gone.provider)

    # -- the canary ----------------------------------------------------------------------------
    async def _check(self, m: Mapping) -> None:
        rt = self.rt
        now = time.time()
        active, self._active = self._active, set()
        got = await rt.figure_calls.call("canary", CANARY_BOUND, self._judge, m, active, now)
        if got is None:
            return  # counted; the same orgs are judged at the next check
        self._watch, acts = got
        for act in acts:
            self._acted(act, m, now)

    def _judge(self, m: Mapping, active: set[str], now: float) -> tuple[dict[str, float], list[canary.Act]]:
        """In a worker thread (the watch list may hold every migrated org of a fresh store): drop the
        orgs whose watch is over, judge at most ``MAX_JUDGED`` of the rest, enforce."""
        window = m.settings.canary.window
        watch = {
            org: since
            for org, since in self._watch.items()
            if now < since + window and (o := m.orgs.get(org)) is not None and o.migrated
        }
        orgs = self._pick(watch, active)
        if not orgs:
            return watch, []
        return watch, canary.check(
            self.rt.figures, m, orgs, owner=self.rt.canary_owner, mapping_path=self.rt.holder.path, now=now
        )

    def _pick(self, watch: dict[str, float], active: set[str]) -> list[str]:
        """The orgs to judge now: active ones first, then the others in turn, ``MAX_JUDGED`` at most."""
        first = [org for org in active if org in watch][:MAX_JUDGED]
        others = [org for org in watch if org not in active]
        room = min(MAX_JUDGED - len(first), len(others))
        if room <= 0:
            return first
        start = self._turn % len(others)
        self._turn = start + room
        return first + others[start : start + room] + others[: max(0, start + room - len(others))]

    def _acted(self, act: canary.Act, m: Mapping, now: float) -> None:
        rt = self.rt
        s = m.settings
        if act.action == "rolled_back":
            log.warning(canary.rollback_warning(act.org, act.verdict))
            rt.metrics.canary_rollback()
            if rt.decision_log is not None:
                rec = canary.rollback_log_record(
                    act.org, act.verdict, at=now, target=s.migration_target, legacy=s.default_provider
                )
                try:
                    rt.decision_log.write(rec)
                except (OSError, ValueError) as e:
                    log.warning(f"sso-router: cannot write the decision log: {e}")
        elif act.action == "followed":
            log.info(
                f"sso-router: canary: org {act.org} was rolled back by another instance; this mapping "
                f"file follows ({act.verdict.reason})"
            )
        elif act.action is None:
            log.warning(
                f"sso-router: canary could not roll org {act.org} back ({act.error}); trying again at the next check"
            )
