"""``InFlight``: the flows routed upstream whose answer has not gone out yet, and when one last came
or went — what a draining process (``drain.py``) waits on.

A flow is added when it is routed and released once its response (and any store write the response
is held on) or its error is done. ``quiet_for`` counts from the last arrival as well as the last
release, so a stream of quick requests — each gone before anyone looks — still reads as busy: a
balancer that still sends keeps the process serving.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ..model import Decision


class InFlight:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._ids: dict[str, Decision | None] = {}  # flow id -> its decision, once made
        self._changed = clock()

    def add(self, flow_id: str) -> None:
        self._ids[flow_id] = None
        self._changed = self._clock()

    def decided(self, flow_id: str, d: Decision) -> None:
        """The flow's decision, for its answer: the response hook need not read it back from the
        flow's metadata record."""
        if flow_id in self._ids:
            self._ids[flow_id] = d

    def decision(self, flow_id: str) -> Decision | None:
        return self._ids.get(flow_id)

    def discard(self, flow_id: str) -> None:
        if flow_id in self._ids:
            del self._ids[flow_id]
            self._changed = self._clock()

    def __len__(self) -> int:
        return len(self._ids)

    def quiet_for(self, since: float) -> float:
        """Seconds since a flow last came or went, or since ``since`` (a clock reading) if that is
        later; 0 while any is in flight."""
        return 0.0 if self._ids else self._clock() - max(self._changed, since)
