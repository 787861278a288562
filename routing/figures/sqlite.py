"""Figures in the ``sso_store`` SQLite file (tables ``fig_*`` beside the correlations): summed over
every process of the host. WAL, a bounded busy timeout, one connection per calling thread, one
write transaction per call (so an expired departure is counted by exactly one process). Old buckets,
markers and the oldest departures beyond the cap are swept every ``SWEEP_EVERY`` seconds. Every
``sqlite3`` error leaves this module as ``StoreUnavailable``."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from ..correlation.sqlite import path_from_url, prepare_file
from ..errors import StoreUnavailable
from . import (
    RETURN_GRACE,
    Batch,
    Fate,
    FlipState,
    Lost,
    OrgFigures,
    Rollback,
    Routed,
    fate_field,
)
from .buckets import LONGEST, TIERS, bucket_of, oldest_live, window_buckets
from .sqlite_read import read_chunk
from .sqlite_sql import ADD, LAST, LOCK, SCHEMA
from .tally import tally

SWEEP_EVERY = 60.0
CHUNK = 400  # orgs per SELECT … IN (…)


class SqliteFigures:
    shared = True

    def __init__(
        self,
        url: str,
        *,
        clock: Callable[[], float],
        busy_timeout: float = 0.5,
        max_departures: int = 200_000,
        max_returns: int = 400_000,
    ) -> None:
        self.url = url
        self.path = path_from_url(url)
        if not os.path.isdir(os.path.dirname(os.path.abspath(self.path))):
            raise ValueError(f"directory of the sqlite store {self.path!r} does not exist")
        self._clock = clock
        self._busy_ms = max(1, int(busy_timeout * 1000))
        self._max_dep, self._max_ret = max_departures, max_returns
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._schema_lock = threading.Lock()
        self._schema_ready = False
        self._closed = False
        self._next_sweep = 0.0

    # -- plumbing ------------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreUnavailable(f"{self.url}: store closed")
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path, timeout=self._busy_ms / 1000, isolation_level=None, check_same_thread=False
            )
            try:
                conn.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
                with self._schema_lock:  # one of this store's threads prepares the file
                    if not self._schema_ready:
                        prepare_file(conn, SCHEMA)
                        self._schema_ready = True
                conn.execute("PRAGMA synchronous = NORMAL")
            except BaseException:
                conn.close()
                raise
            with self._conns_lock:
                self._conns.append(conn)
            self._local.conn = conn
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._translated():
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as e:
            raise StoreUnavailable(f"{self.url}: {type(e).__name__}: {e}") from e

    # -- writes --------------------------------------------------------------------------------
    def record(self, batch: Batch) -> None:
        if not batch:
            return
        now = self._clock()
        t = tally(batch)
        with self._write() as c:
            c.execute("INSERT OR IGNORE INTO fig_meta VALUES ('started', ?)", (batch.first_at(),))
            c.executemany(ADD.format(t="fig_outcomes", marks="?, ?, ?, ?, ?"), [(*k, n) for k, n in t.outcomes.items()])
            c.executemany(ADD.format(t="fig_since", marks="?, ?, ?"), [(*k, n) for k, n in t.since.items()])
            c.executemany(ADD.format(t="fig_fates", marks="?, ?, ?, ?, ?"), [(*k, n) for k, n in t.left.items()])
            c.executemany(LAST, [(org, f.at, f.provider, f.stage, f.kind) for org, f in t.last.items()])
            c.executemany(
                "INSERT OR REPLACE INTO fig_departures VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (d.keys[0], d.org, d.provider, " ".join(d.keys), d.at, d.at + d.ttl)
                    for d in batch.departures
                    if d.keys
                ],
            )
            c.executemany(
                "INSERT INTO fig_returns VALUES (?, ?) ON CONFLICT DO UPDATE SET expires = "
                "max(expires, excluded.expires)",
                [(k, r.at + r.ttl + RETURN_GRACE) for r in batch.returns for k in r.keys],
            )
            c.executemany(
                "INSERT INTO fig_routed VALUES (?, ?) ON CONFLICT DO UPDATE SET at = max(at, excluded.at)",
                list(batch.routed.items()),
            )
            if now >= self._next_sweep:
                self._next_sweep = now + SWEEP_EVERY
                self._sweep(c, now)

    def _sweep(self, c: sqlite3.Connection, now: float) -> None:
        for tier in TIERS:
            for table in ("fig_outcomes", "fig_fates"):
                c.execute(f"DELETE FROM {table} WHERE width = ? AND bucket < ?", (tier.width, oldest_live(tier, now)))
        c.execute("DELETE FROM fig_returns WHERE expires <= ?", (now,))
        c.execute("DELETE FROM fig_lost_orgs WHERE at < ?", (now - LONGEST.keep,))
        caps = (("fig_departures", "deadline", self._max_dep), ("fig_returns", "expires", self._max_ret))
        for table, order, cap in caps:
            over = c.execute(f"SELECT count(*) FROM {table}").fetchone()[0] - cap
            if over > 0:  # the cap: the oldest go first
                key = "id" if table == "fig_departures" else "key"
                c.execute(
                    f"DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM {table} ORDER BY {order} LIMIT ?)", (over,)
                )

    def expire(self, now: float, limit: int = 1000) -> list[Lost]:
        out: list[Lost] = []
        with self._write() as c:
            due = c.execute(
                "SELECT id, org, provider, keys, at FROM fig_departures WHERE deadline <= ? ORDER BY deadline LIMIT ?",
                (now, limit),
            ).fetchall()
            for dep_id, org, provider, keys, at in due:
                c.execute("DELETE FROM fig_departures WHERE id = ?", (dep_id,))
                ks = keys.split()
                marks = ",".join("?" * len(ks))
                if c.execute(f"SELECT 1 FROM fig_returns WHERE key IN ({marks}) LIMIT 1", ks).fetchone():
                    continue
                out.append(Lost(org, provider, at))
                c.executemany(
                    ADD.format(t="fig_fates", marks="?, ?, ?, ?, ?"),
                    [(org, t.width, bucket_of(at, t.width), fate_field(provider, True), 1) for t in TIERS],
                )
                c.execute(
                    "INSERT INTO fig_lost_orgs VALUES (?, ?) ON CONFLICT DO UPDATE SET at = max(at, excluded.at)",
                    (org, at),
                )
        return out

    def observe_flips(self, states: Sequence[tuple[str, bool]], at: float) -> dict[str, FlipState]:
        out: dict[str, FlipState] = {}
        with self._write() as c:
            for i in range(0, len(states), CHUNK):
                chunk = states[i : i + CHUNK]
                marks = ",".join("?" * len(chunk))
                cur = {
                    org: FlipState(bool(m), since)
                    for org, m, since in c.execute(
                        f"SELECT org, migrated, since FROM fig_flips WHERE org IN ({marks})", [o for o, _ in chunk]
                    )
                }
                for org, migrated in chunk:
                    old = cur.get(org)
                    if (old is None and migrated) or (old is not None and old.migrated != migrated):
                        c.execute("INSERT OR REPLACE INTO fig_flips VALUES (?, ?, ?)", (org, int(migrated), at))
                        c.execute("DELETE FROM fig_since WHERE org = ?", (org,))
                        old = FlipState(migrated, at)
                    if old is not None:
                        out[org] = old
        return out

    def save_rollback(self, org: str, rollback: Rollback) -> None:
        with self._write() as c:
            c.execute("INSERT OR REPLACE INTO fig_rollbacks VALUES (?, ?)", (org, json.dumps(rollback.as_dict())))

    # -- reads ---------------------------------------------------------------------------------
    def figures(self, orgs: Sequence[str], now: float, *, windows: bool) -> dict[str, OrgFigures]:
        out: dict[str, OrgFigures] = {}
        with self._translated():
            c = self._conn()
            for i in range(0, len(orgs), CHUNK):
                out.update(read_chunk(c, list(orgs[i : i + CHUNK]), now, windows))
        return out

    def unreturned_orgs(self, now: float) -> dict[str, Fate]:
        span = window_buckets(LONGEST, now)
        with self._translated():
            rows = self._conn().execute(
                "SELECT org, sum(CASE WHEN field LIKE '%|left' THEN n ELSE 0 END), "
                "sum(CASE WHEN field LIKE '%|lost' THEN n ELSE 0 END) FROM fig_fates "
                "WHERE width = ? AND bucket >= ? AND bucket < ? GROUP BY org",
                (LONGEST.width, span.start, span.stop),
            )
            return {org: Fate(left, lost) for org, left, lost in rows if lost}

    def rollbacks(self) -> dict[str, Rollback]:
        with self._translated():
            rows = self._conn().execute("SELECT org, record FROM fig_rollbacks").fetchall()
        out = {org: Rollback.from_dict(json.loads(raw)) for org, raw in rows}
        return {org: rb for org, rb in out.items() if rb is not None}

    def routed(self) -> Routed:
        with self._translated():
            c = self._conn()
            started = c.execute("SELECT value FROM fig_meta WHERE name = 'started'").fetchone()
            return Routed(started[0] if started else None, dict(c.execute("SELECT provider, at FROM fig_routed")))

    # -- the one-instance lock: a row ----------------------------------------------------------
    def acquire(self, name: str, owner: str, ttl: float) -> bool:
        now = self._clock()
        with self._write() as c:
            return c.execute(LOCK, (name, owner, now + ttl, now)).rowcount == 1

    def release(self, name: str, owner: str) -> None:
        with self._write() as c:
            c.execute("DELETE FROM fig_locks WHERE name = ? AND owner = ?", (name, owner))

    def ping(self) -> bool:
        try:
            with self._translated():
                self._conn().execute("SELECT 1 FROM fig_meta LIMIT 1").fetchall()
            return True
        except StoreUnavailable:
            return False

    def close(self) -> None:
        with self._conns_lock:
            self._closed = True
            conns, self._conns = self._conns, []
        for conn in conns:
            try:
                conn.close()
            except sqlite3.Error:
                pass
