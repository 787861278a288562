"""A dict with expiry and an injected clock; the default store and the test double."""

from __future__ import annotations

from typing import Callable, Sequence

from ..model import Route
from . import Entry


class MemoryStore:
    url = "memory://"

    PURGE_EVERY = 30.0  # seconds between full expiry sweeps, however full the store is

    def __init__(self, *, clock: Callable[[], float], max_entries: int = 1_000_000) -> None:
        self._clock = clock
        self._data: dict[str, tuple[float, Route]] = {}
        self._max = max_entries
        self._next_purge = 0.0

    def remember(self, entries: Sequence[Entry]) -> None:
        now = self._clock()
        if len(self._data) + len(entries) > self._max and now >= self._next_purge:
            # a full sweep at most every PURGE_EVERY seconds: when the store is full of live
            # entries, sweeping on every write would walk a million entries per response
            self._next_purge = now + self.PURGE_EVERY
            self._purge(now)
        for key, route, ttl in entries:
            if len(self._data) >= self._max:  # full of live entries: drop the oldest inserted
                self._data.pop(next(iter(self._data)))
            self._data.pop(key, None)  # re-insert so insertion order tracks age
            self._data[key] = (now + ttl, route)

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

    def close(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)
