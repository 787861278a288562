"""Time buckets: each window (5 min / 1 h / 24 h) is read from buckets of its own width (1 min /
5 min / 1 h), so a write touches three buckets and a read at most 6 + 13 + 25, whatever the traffic.

A window is the buckets that overlap it: it may count up to one bucket (1 min, 5 min, 1 h) more
than its length. A bucket lives ``keep`` seconds, then any backend may drop it.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

Window = Literal["5m", "1h", "24h"]


class Tier(NamedTuple):
    window: Window
    seconds: int  # the window's length
    width: int  # one bucket's width

    @property
    def keep(self) -> int:
        return self.seconds + 2 * self.width


TIERS: tuple[Tier, ...] = (Tier("5m", 300, 60), Tier("1h", 3600, 300), Tier("24h", 86_400, 3600))
WINDOWS: tuple[Window, ...] = tuple(t.window for t in TIERS)
LONGEST = TIERS[-1]


def bucket_of(at: float, width: int) -> int:
    return int(at // width)


def window_buckets(tier: Tier, now: float) -> range:
    """The buckets of ``tier`` that overlap ``[now - tier.seconds, now]``."""
    return range(bucket_of(now - tier.seconds, tier.width), bucket_of(now, tier.width) + 1)


def oldest_live(tier: Tier, now: float) -> int:
    """Buckets below this one are past ``keep`` and may go."""
    return bucket_of(now - tier.keep, tier.width)
