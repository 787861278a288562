"""Figures in this process's memory (``memory://``): one instance's view, lost on restart; also the
test double. Thread-safe (the edge calls from worker threads); bounded like the shared backends."""

from __future__ import annotations

import heapq
import itertools
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

from . import (
    RETURN_GRACE,
    Batch,
    Departure,
    Fate,
    FlipState,
    LastFailure,
    Lost,
    OrgFigures,
    Rollback,
    Routed,
    counts_by_provider,
    fate_field,
    fates_by_provider,
    total_fate,
)
from .buckets import LONGEST, TIERS, bucket_of, oldest_live, window_buckets
from .tally import BatchSums, Slot, tally

SWEEP_EVERY = 60.0  # seconds between sweeps of old buckets and markers


class MemoryFigures:
    url = "memory://"
    shared = False

    def __init__(
        self, *, clock: Callable[[], float], max_departures: int = 200_000, max_returns: int = 400_000
    ) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._max_dep = max_departures
        self._max_ret = max_returns
        self._outcomes: dict[tuple[str, int, int], Counter[str]] = {}  # (org, width, bucket) -> field -> n
        self._fates: dict[tuple[str, int, int], Counter[str]] = {}  # (org, width, bucket) -> fate field -> n
        self._lost_orgs: dict[str, float] = {}
        self._since: dict[str, Counter[str]] = {}
        self._last: dict[str, LastFailure] = {}
        self._flips: dict[str, FlipState] = {}
        self._rollbacks: dict[str, Rollback] = {}
        self._departures: list[tuple[float, int, Departure]] = []  # heap by deadline
        self._seq = itertools.count()
        self._returns: dict[str, float] = {}  # key -> expires (insertion order ~ age)
        self._routed: dict[str, float] = {}
        self._started: float | None = None
        self._locks: dict[str, tuple[str, float]] = {}
        self._next_sweep = 0.0
        self.dropped = 0  # departures forgotten because the cap was reached

    # -- writes --------------------------------------------------------------------------------
    def record(self, batch: Batch) -> None:
        now = self._clock()
        t = tally(batch)  # pure: outside the lock
        with self._lock:
            self._merge(t, batch)
            if now >= self._next_sweep:
                self._next_sweep = now + SWEEP_EVERY
                self._sweep(now)

    def try_record(self, batch: Batch) -> bool:
        """``record`` for the event loop: False, having done nothing, when another thread holds the
        store or a sweep (a walk over every bucket) is due — the caller then records in a thread."""
        if self._clock() >= self._next_sweep:
            return False
        t = tally(batch)  # pure: outside the lock, as in record
        if not self._lock.acquire(blocking=False):
            return False
        try:
            self._merge(t, batch)
        finally:
            self._lock.release()
        return True

    def _merge(self, t: BatchSums, batch: Batch) -> None:
        if self._started is None:
            self._started = batch.first_at()
        _add(self._outcomes, t.outcomes)
        _add(self._fates, t.left)
        for (org, name), n in t.since.items():
            if (since := self._since.get(org)) is None:
                since = self._since[org] = Counter()
            since[name] += n
        for org, f in t.last.items():
            last = self._last.get(org)
            if last is None or last.at <= f.at:
                self._last[org] = f
        for dep in batch.departures:
            if len(self._departures) >= self._max_dep:
                heapq.heappop(self._departures)
                self.dropped += 1
            heapq.heappush(self._departures, (dep.at + dep.ttl, next(self._seq), dep))
        for ret in batch.returns:
            for key in ret.keys:
                if len(self._returns) >= self._max_ret:
                    self._returns.pop(next(iter(self._returns)))
                self._returns.pop(key, None)
                self._returns[key] = ret.at + ret.ttl + RETURN_GRACE
        for provider, at in batch.routed.items():
            if at > self._routed.get(provider, 0.0):
                self._routed[provider] = at

    def _sweep(self, now: float) -> None:
        for table in (self._outcomes, self._fates):
            live = {t.width: oldest_live(t, now) for t in TIERS}
            for k in [k for k in table if k[2] < live[k[1]]]:
                del table[k]
        for key in [k for k, exp in self._returns.items() if exp <= now]:
            del self._returns[key]
        for org in [o for o, at in self._lost_orgs.items() if at < now - LONGEST.keep]:
            del self._lost_orgs[org]

    def due(self, now: float) -> bool:
        deps = self._departures  # read without the lock: a stale answer is corrected at the next check
        return bool(deps) and deps[0][0] <= now

    def expire(self, now: float, limit: int = 1000) -> list[Lost]:
        out: list[Lost] = []
        with self._lock:
            while self._departures and self._departures[0][0] <= now and len(out) < limit:
                _, _, dep = heapq.heappop(self._departures)
                if any(k in self._returns for k in dep.keys):  # the IdP's answer came back through the router
                    continue
                out.append(Lost(dep.org, dep.provider, dep.at))
                self._count_fate(dep.org, dep.provider, dep.at, lost=True)
                self._lost_orgs[dep.org] = max(self._lost_orgs.get(dep.org, 0.0), dep.at)
        return out

    def _count_fate(self, org: str, provider: str, at: float, *, lost: bool) -> None:
        name = fate_field(provider, lost)
        _add(self._fates, {(org, tier.width, bucket_of(at, tier.width), name): 1 for tier in TIERS})

    def observe_flips(self, states: Sequence[tuple[str, bool]], at: float) -> dict[str, FlipState]:
        out: dict[str, FlipState] = {}
        with self._lock:
            for org, migrated in states:
                cur = self._flips.get(org)
                if (cur is None and migrated) or (cur is not None and cur.migrated != migrated):
                    cur = self._flips[org] = FlipState(migrated, at)
                    self._since.pop(org, None)
                if cur is not None:
                    out[org] = cur
        return out

    def save_rollback(self, org: str, rollback: Rollback) -> None:
        with self._lock:
            self._rollbacks[org] = rollback

    # -- reads ---------------------------------------------------------------------------------
    def figures(self, orgs: Sequence[str], now: float, *, windows: bool) -> dict[str, OrgFigures]:
        with self._lock:
            return {org: self._one(org, now, windows) for org in orgs}

    def _one(self, org: str, now: float, windows: bool) -> OrgFigures:
        wins, lost = {}, {}
        if windows:
            for tier in TIERS:
                acc: Counter[str] = Counter()
                lacc: Counter[str] = Counter()
                for b in window_buckets(tier, now):
                    acc.update(self._outcomes.get((org, tier.width, b), {}))
                    lacc.update(self._fates.get((org, tier.width, b), {}))
                wins[tier.window] = counts_by_provider(acc)
                lost[tier.window] = fates_by_provider(lacc)
        return OrgFigures(
            org,
            self._flips.get(org),
            counts_by_provider(self._since.get(org, {})),
            self._last.get(org),
            self._rollbacks.get(org),
            wins,
            lost,
        )

    def unreturned_orgs(self, now: float) -> dict[str, Fate]:
        with self._lock:
            out: dict[str, Fate] = {}
            for org, at in self._lost_orgs.items():
                if at < now - LONGEST.seconds - LONGEST.width:
                    continue
                acc: Counter[str] = Counter()
                for b in window_buckets(LONGEST, now):
                    acc.update(self._fates.get((org, LONGEST.width, b), {}))
                total = total_fate(fates_by_provider(acc))
                if total.lost:
                    out[org] = total
            return out

    def rollbacks(self) -> dict[str, Rollback]:
        with self._lock:
            return dict(self._rollbacks)

    def routed(self) -> Routed:
        with self._lock:
            return Routed(self._started, dict(self._routed))

    # -- the one-instance lock: this process ---------------------------------------------------
    def acquire(self, name: str, owner: str, ttl: float) -> bool:
        now = self._clock()
        with self._lock:
            held = self._locks.get(name)
            if held is not None and held[1] > now and held[0] != owner:
                return False
            self._locks[name] = (owner, now + ttl)
            return True

    def release(self, name: str, owner: str) -> None:
        with self._lock:
            if self._locks.get(name, ("", 0.0))[0] == owner:
                del self._locks[name]

    def ping(self) -> bool:
        return True

    def close(self) -> None:
        pass


def _add(into: dict[tuple[str, int, int], Counter[str]], sums: Mapping[Slot, int]) -> None:
    """``tally``'s sums per (org, width, bucket, field) into counters per (org, width, bucket)."""
    for (org, width, bucket, name), n in sums.items():
        key = (org, width, bucket)
        if (c := into.get(key)) is None:
            c = into[key] = Counter()
        c[name] += n
