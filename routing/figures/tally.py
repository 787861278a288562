"""One batch summed the way every figures store keeps it: counts per (org, tier width, bucket,
field), counts since the org's last flip, and each org's latest failure. Pure; the stores only
decide where these sums go."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from . import Batch, LastFailure, fate_field, field_name
from .buckets import TIERS, bucket_of

type Slot = tuple[str, int, int, str]  # (org, tier width, bucket, field)


@dataclass(slots=True)
class BatchSums:
    outcomes: Counter[Slot] = field(default_factory=Counter)
    left: Counter[Slot] = field(default_factory=Counter)  # departures, as fates that have not come back (yet)
    since: Counter[tuple[str, str]] = field(default_factory=Counter)  # (org, field)
    last: dict[str, LastFailure] = field(default_factory=dict)  # org -> its latest failure in the batch


def tally(batch: Batch) -> BatchSums:
    t = BatchSums()
    for ev in batch.outcomes:
        name = field_name(ev.provider, ev.stage, ev.ok)
        for tier in TIERS:
            t.outcomes[(ev.org, tier.width, bucket_of(ev.at, tier.width), name)] += 1
        t.since[(ev.org, name)] += 1
        if not ev.ok:
            prev = t.last.get(ev.org)
            if prev is None or prev.at <= ev.at:
                t.last[ev.org] = LastFailure(ev.at, ev.provider, ev.stage, ev.kind or "unknown")
    for d in batch.departures:
        for tier in TIERS:
            t.left[(d.org, tier.width, bucket_of(d.at, tier.width), fate_field(d.provider, False))] += 1
    return t
