"""``FigureBuffer``: what the edge saw since the last flush, collected on the event loop (a list
append or a dict set per event, no I/O), handed to the store as one ``Batch`` per flush (one bounded
store call a second, off the event loop, whatever the traffic). Bounded: past ``max_items`` events
of one sort, new ones are dropped and counted in ``dropped``."""

from __future__ import annotations

from . import Batch, Departure, OutcomeEvent, Return


class FigureBuffer:
    def __init__(self, max_items: int = 20_000) -> None:
        self._max = max_items
        self._batch = Batch()
        self.dropped = 0

    def outcome(self, org: str | None, provider: str, stage: str, ok: bool, kind: str | None, at: float) -> None:
        """One login outcome for ``org`` (None: not attributable to an org; the metric counts it)."""
        if org is None:
            return
        if len(self._batch.outcomes) >= self._max:
            self.dropped += 1
            return
        self._batch.outcomes.append(OutcomeEvent(org, provider, stage, ok, kind, at))

    def departure(self, org: str | None, provider: str, keys: tuple[str, ...], at: float, ttl: float) -> None:
        if org is None or not keys:
            return
        if len(self._batch.departures) >= self._max:
            self.dropped += 1
            return
        self._batch.departures.append(Departure(org, provider, keys, at, ttl))

    def returned(self, keys: tuple[str, ...], at: float, ttl: float) -> None:
        if not keys:
            return
        if len(self._batch.returns) >= self._max:
            self.dropped += 1
            return
        self._batch.returns.append(Return(keys, at, ttl))

    def routed(self, provider: str, at: float) -> None:
        self._batch.routed[provider] = at  # the loop's clock only moves forward

    def drain(self) -> Batch | None:
        """Everything collected since the last drain (None when nothing was)."""
        if not self._batch:
            return None
        batch, self._batch = self._batch, Batch()
        return batch
