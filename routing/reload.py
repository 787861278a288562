"""``MappingHolder``: the current good mapping, replaced whole when its file changes."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from .errors import MappingError
from .mapping_loader import load_mapping_file
from .model import Mapping

ReloadStatus = Literal["never", "ok", "unchanged", "rejected"]


@dataclass(frozen=True, slots=True)
class ReloadResult:
    status: ReloadStatus
    message: str = ""
    at: float = 0.0


class MappingHolder:
    """Owns the path and the last good mapping. The edge schedules ``reload_if_changed``."""

    def __init__(self, path: str, *, clock: Callable[[], float]) -> None:
        self.path = path
        self._clock = clock
        self._stamp: tuple[int, int, int] | None = None
        self.mapping: Mapping | None = None
        self.last: ReloadResult = ReloadResult("never")

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def load(self) -> Mapping:
        """First load: raises ``MappingError`` (the edge turns it into an ``OptionsError``)."""
        stamp = self._stat()
        mapping = self._read()
        self.mapping, self._stamp = mapping, stamp
        self.last = ReloadResult("ok", f"loaded {len(mapping.orgs)} orgs", self._clock())
        return mapping

    def _read(self) -> Mapping:
        return load_mapping_file(self.path)

    def changed(self) -> bool:
        """Whether the file looks different from the last one read: one ``stat``, cheap enough for
        the event loop (the edge then calls ``reload_if_changed`` off it)."""
        stamp = self._stat()
        return stamp is not None and stamp != self._stamp

    def reload_if_changed(self) -> ReloadResult:
        stamp = self._stat()
        if stamp is None or stamp == self._stamp:
            return ReloadResult("unchanged")
        self._stamp = stamp
        try:
            mapping = self._read()
        except MappingError as e:
            self.last = ReloadResult("rejected", str(e), self._clock())
            return self.last
        if self.mapping is not None and mapping.version == self.mapping.version:
            if self.last.status == "rejected":  # a bad edit reverted: say the served mapping is fine again
                self.last = ReloadResult("ok", f"back to the served version {mapping.version}", self._clock())
            return ReloadResult("unchanged")
        self.mapping = mapping  # one reference swap: a request sees the old mapping or the new one
        self.last = ReloadResult("ok", f"loaded {len(mapping.orgs)} orgs (version {mapping.version})", self._clock())
        return self.last
