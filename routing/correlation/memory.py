"""A dict with expiry and an injected clock; the default store and the test double."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence

from ..model import Route
from . import Entry


class MemoryStore:
    url = "memory://"

    PURGE_EVERY = 30.0  # seconds between full expiry sweeps, however full the store is

    def __init__(self, *, clock: Callable[[], float], max_entries: int = 1_000_000) -> None:
        self._clock = clock
        # oldest inserted first. An OrderedDict, not a dict: a dict finds its first live entry by
        # walking the slots deleted before it, so evicting the oldest grows linear with the
        # evictions since the table was last rebuilt; popitem(last=False) unlinks the head of a list
        self._data: OrderedDict[str, tuple[float, Route]] = OrderedDict()
        self._max = max_entries
        self._next_purge = 0.0

    def remember(self, entries: Sequence[Entry]) -> None:
        now = self._clock()
        if len(self._data) + len(entries) > self._max and now >= self._next_purge:
            # a full sweep at most every PURGE_EVERY seconds: when the store is full of live
            # entries, sweeping on every write would walk a million entries per response
            self._next_purge = now + self.PURGE_EVERY
            self._purge(now)
        data = self._data
        for key, route, ttl in entries:
            if key in data:
                data.move_to_end(key)  # insertion order tracks age
            elif len(data) >= self._max:  # full of live entries: drop the oldest inserted
                data.popitem(last=False)
            data[key] = (now + ttl, route)

    def recall(self, keys: Sequence[str]) -> dict[str, Route]:
        now = self._clock()
        out: dict[str, Route] = {}
        for key in keys:
            hit = self._data.get(key)
            if hit is not None and hit[0] > now:
                out[key] = hit[1]
        return out

    def _purge(self, now: float) -> None:
        for k in [k for k, (exp, _) in self._data.items() if exp <= now]:
            del self._data[k]

    def ping(self) -> bool:
        return True

    def check(self) -> None:
        return None

    def close(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)
