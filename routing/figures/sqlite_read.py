"""One chunk of orgs' figures read out of the SQLite store's ``fig_*`` tables in one pass per table."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from typing import Any

from . import Fate, FlipState, LastFailure, OrgFigures, Rollback, StageCounts, counts_by_provider, fates_by_provider
from .buckets import TIERS, Window, window_buckets
from .sqlite_sql import SPAN


def read_chunk(c: sqlite3.Connection, orgs: list[str], now: float, windows: bool) -> dict[str, OrgFigures]:
    marks = ",".join("?" * len(orgs))

    def rows(sql: str, *extra: object) -> list[tuple[Any, ...]]:
        return c.execute(sql.format(marks=marks), [*orgs, *extra]).fetchall()

    def summed(table: str, span: tuple[int, int, int]) -> dict[str, Counter[str]]:
        """Each org's fields summed over one window's buckets of ``table``."""
        acc: dict[str, Counter[str]] = {o: Counter() for o in orgs}
        for org, name, n in rows(f"SELECT org, field, n FROM {table} WHERE org IN ({{marks}}) " + SPAN, *span):
            acc[org][name] += n
        return acc

    since: dict[str, dict[str, int]] = {}
    for org, name, n in rows("SELECT org, field, n FROM fig_since WHERE org IN ({marks})"):
        since.setdefault(org, {})[name] = n
    flips = {
        o: FlipState(bool(m), s)
        for o, m, s in rows("SELECT org, migrated, since FROM fig_flips WHERE org IN ({marks})")
    }
    last = {o: LastFailure(a, p, st, k) for o, a, p, st, k in rows("SELECT * FROM fig_last WHERE org IN ({marks})")}
    rbs = {o: Rollback.from_dict(json.loads(r)) for o, r in rows("SELECT * FROM fig_rollbacks WHERE org IN ({marks})")}
    wins: dict[str, dict[Window, dict[str, StageCounts]]] = {o: {} for o in orgs}
    lost: dict[str, dict[Window, dict[str, Fate]]] = {o: {} for o in orgs}
    if windows:
        for tier in TIERS:
            b = window_buckets(tier, now)
            span = (tier.width, b.start, b.stop)
            outcomes, fates = (summed(table, span) for table in ("fig_outcomes", "fig_fates"))
            for org in orgs:
                wins[org][tier.window] = counts_by_provider(outcomes[org])
                lost[org][tier.window] = fates_by_provider(fates[org])
    return {
        org: OrgFigures(
            org,
            flips.get(org),
            counts_by_provider(since.get(org, {})),
            last.get(org),
            rbs.get(org),
            wins[org],
            lost[org],
        )
        for org in orgs
    }
