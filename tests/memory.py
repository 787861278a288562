"""How much memory one call takes, measured on the call itself.

``ru_maxrss`` is the process's peak since it started: once an earlier test (or an earlier case of the
same test) has raised it, a later call that grows as much again reads as zero growth. Here the peak
is reset before the call (Linux: ``/proc/self/clear_refs`` ← ``5`` resets ``VmHWM`` to the current
RSS) and read after it, so the figure is what this call added at its worst — C allocations included
(libxml2, zlib), which ``tracemalloc`` does not see. ``tracemalloc`` gives the Python side.
"""

from __future__ import annotations

import re
import sys
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

PYTHON_LIMIT = 50 * 2**20  # bytes one parse of one hostile input may allocate in Python objects at its peak
RSS_LIMIT = 100 * 2**20  # bytes its resident memory may grow by (libxml2's and zlib's allocations too)

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


@dataclass(frozen=True)
class Growth:
    python_peak: int  # bytes: tracemalloc's peak during the call
    rss_peak: int | None  # bytes the resident set grew by at its worst; None where it cannot be read


def _status_kb(field: str) -> int:
    m = re.search(rf"^{field}:\s+(\d+) kB", _STATUS.read_text(), re.M)
    assert m, f"no {field} in {_STATUS}"
    return int(m.group(1))


def _reset_rss_peak() -> bool:
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def rss_peak_supported() -> bool:
    return sys.platform.startswith("linux") and _reset_rss_peak()


class Measured:
    """``with Measured() as m: ...`` — afterwards ``m.growth`` is what the block took (also when it raised)."""

    growth: Growth | None = None

    def __enter__(self) -> Measured:
        self._resettable = rss_peak_supported()
        self._rss0 = _status_kb("VmRSS") if self._resettable else 0
        tracemalloc.start()
        return self

    def __exit__(self, *exc: object) -> None:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rss = (_status_kb("VmHWM") - self._rss0) * 1024 if self._resettable else None
        self.growth = Growth(peak, rss)


def check(g: Growth, *, python: int = PYTHON_LIMIT, rss: int = RSS_LIMIT) -> None:
    assert g.python_peak < python, (
        f"Python allocations peaked at {g.python_peak / 2**20:.1f} MiB (limit {python / 2**20:.0f} MiB)"
    )
    if g.rss_peak is not None:  # Linux; elsewhere only the Python side is measured
        assert g.rss_peak < rss, f"resident memory grew by {g.rss_peak / 2**20:.0f} MiB during one call"
