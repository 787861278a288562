"""What outlives one addon instance: a ``-s`` script is rebuilt when edited (``done()``, then
``load``/``configure`` again) but this module is not reloaded. The memory store (logins in flight)
and the random key its entries are hashed with must survive that, so they live here, one
``ProcessState`` per process (``PROCESS``); a test builds its own."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

from ..correlation import CorrelationStore, open_store
from ..figures import FigureStore, open_figures


@dataclass(slots=True)
class ProcessState:
    random_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    warned_random_key: bool = False
    quieted_dumper: bool = False  # the router turned mitmdump's flow lines off (flow_detail=0)
    heap_frozen: bool = False  # mitmproxy's start-up objects are out of the GC's walks (mitm/heap.py)
    memory_stores: dict[str, CorrelationStore] = field(default_factory=dict)
    memory_figures: FigureStore | None = None

    def memory_store(self, url: str) -> CorrelationStore:
        """The process's one memory store for ``url``, kept across script reloads."""
        key = url.strip().lower()
        store = self.memory_stores.get(key)
        if store is None:
            store = self.memory_stores[key] = open_store(url, clock=time.time)
        return store

    def figure_store(self, url: str, timeout: float) -> FigureStore:
        """The figure store on ``url`` (the ``sso_store`` URL): with ``memory://`` the process's one,
        kept across script reloads. Raises ``ValueError`` for a URL it cannot use."""
        if not url.strip().lower().startswith("memory"):
            return open_figures(url, clock=time.time, timeout=timeout)
        if self.memory_figures is None:
            self.memory_figures = open_figures("memory://", clock=time.time)
        return self.memory_figures


PROCESS = ProcessState()
