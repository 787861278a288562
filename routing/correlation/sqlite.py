"""Correlations in one SQLite file: survives restarts, shared by the processes of one host.

WAL mode (readers never wait for the writer), a bounded ``busy_timeout`` for the rare
write contention, one connection per calling thread (the edge calls from worker threads),
upserts on remember, one ``SELECT … IN (…)`` per recall, and a purge of expired rows that
runs every ``purge_interval`` seconds and deletes at most ``purge_batch`` rows per call.
Every ``sqlite3`` error leaves this module as ``StoreUnavailable``.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from ..errors import StoreUnavailable
from ..model import Route
from . import Entry

SCHEMA = """
CREATE TABLE IF NOT EXISTS correlations (
    key      TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    org      TEXT,
    expires  REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS correlations_expires ON correlations (expires);
"""
UPSERT = (
    "INSERT INTO correlations (key, provider, org, expires) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (key) DO UPDATE SET provider = excluded.provider, org = excluded.org, "
    "expires = excluded.expires"
)
PURGE = "DELETE FROM correlations WHERE key IN (SELECT key FROM correlations WHERE expires <= ? LIMIT ?)"
MAX_VARS = 500  # keys per SELECT; a request names a handful, SQLite allows far more


def prepare_file(conn: sqlite3.Connection, schema: str) -> None:
    """WAL mode and ``schema`` in the file behind ``conn``. Switching to WAL takes an exclusive lock
    for which SQLite does not always wait (``database is locked`` when another connection is opening
    at that moment): so it is done only when the file is not in WAL mode yet — a mode the file keeps
    — and the caller serialises its own threads around this call."""
    if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        conn.execute("PRAGMA journal_mode = WAL")
    conn.executescript(schema)


def path_from_url(url: str) -> str:
    """``sqlite:///abs/path.db`` → ``/abs/path.db``; ``sqlite://rel/path.db`` → ``rel/path.db``
    (relative to the working directory). Raises ``ValueError`` for anything else."""
    if not url.startswith("sqlite://"):
        raise ValueError(f"not a sqlite URL: {url!r}")
    rest = url[len("sqlite://") :]
    if "?" in rest or "#" in rest:
        raise ValueError(f"sqlite URL takes no query or fragment: {url!r}")
    path = "/" + rest.lstrip("/") if rest.startswith("/") else rest  # sqlite:////abs is /abs too
    if path in ("", "/") or path.endswith("/"):
        raise ValueError(f"sqlite URL names no file: {url!r} (sqlite:///path/to.db)")
    return path


class SqliteStore:
    blocking = True  # the edge runs calls in worker threads, bounded by sso_store_timeout

    def __init__(
        self,
        url: str,
        *,
        clock: Callable[[], float],
        busy_timeout: float = 0.5,
        purge_interval: float = 30.0,
        purge_batch: int = 1000,
    ) -> None:
        self.url = url
        self.path = path_from_url(url)
        parent = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(parent):
            raise ValueError(f"directory {parent!r} of the sqlite store does not exist")
        self._clock = clock
        self._busy_ms = max(1, int(busy_timeout * 1000))
        self._purge_interval = purge_interval
        self._purge_batch = purge_batch
        self._next_purge = 0.0  # first remember purges what a previous run left expired
        self._purge_lock = threading.Lock()
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []  # every thread's, so close() can close them
        self._conns_lock = threading.Lock()
        self._closed = False
        self._schema_ready = False
        self._schema_lock = threading.Lock()

    # -- connections ---------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreUnavailable(f"{self.url}: store closed", "closed")
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        conn = sqlite3.connect(
            self.path, timeout=self._busy_ms / 1000, isolation_level=None, check_same_thread=False
        )  # close() may run on another thread
        try:
            conn.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
            with self._schema_lock:  # one of this store's threads prepares the file
                if not self._schema_ready:
                    prepare_file(conn, SCHEMA)
                    self._schema_ready = True
            conn.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: no corruption, may lose the last commits
        except BaseException:
            conn.close()
            raise
        with self._conns_lock:
            if self._closed_since():
                conn.close()
                raise StoreUnavailable(f"{self.url}: store closed", "closed")
            self._conns.append(conn)
        self._local.conn = conn
        return conn

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as e:
            busy = isinstance(e, sqlite3.OperationalError) and "locked" in str(e)
            raise StoreUnavailable(f"{self.url}: {type(e).__name__}: {e}", "timeout" if busy else "error") from e

    @contextmanager
    def _write(self, conn: sqlite3.Connection) -> Iterator[None]:
        conn.execute("BEGIN IMMEDIATE")  # take the write lock up front: busy_timeout applies
        try:
            yield
        except BaseException:
            if conn.in_transaction:  # some errors (SQLITE_FULL, ...) have rolled back already
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # -- the protocol --------------------------------------------------------------------------
    def remember(self, entries: Sequence[Entry]) -> None:
        now = self._clock()
        rows = [(key, route.provider, route.org or None, now + ttl) for key, route, ttl in entries]
        with self._translated():
            conn = self._conn()
            if rows:
                with self._write(conn):
                    conn.executemany(UPSERT, rows)
            self._maybe_purge(conn, now)

    def recall(self, keys: Sequence[str]) -> dict[str, Route]:
        if not keys:
            return {}
        now = self._clock()
        out: dict[str, Route] = {}
        unique = list(dict.fromkeys(keys))
        with self._translated():
            conn = self._conn()
            for i in range(0, len(unique), MAX_VARS):
                chunk = unique[i : i + MAX_VARS]
                marks = ",".join("?" * len(chunk))
                cur = conn.execute(
                    f"SELECT key, provider, org FROM correlations WHERE key IN ({marks}) AND expires > ?", (*chunk, now)
                )
                for key, provider, org in cur:
                    out[key] = Route(provider, org)
        return out

    def check(self) -> None:
        """One read of the table; ``StoreUnavailable`` (with its kind) when it cannot be read."""
        with self._translated():
            self._conn().execute("SELECT 1 FROM correlations LIMIT 1").fetchall()

    def ping(self) -> bool:
        try:
            self.check()
        except StoreUnavailable:
            return False
        return True

    def _closed_since(self) -> bool:
        """``_closed`` read again (a call, so no checker assumes it unchanged since the last read):
        ``close()`` may have run on another thread while this one connected."""
        return self._closed

    def close(self) -> None:
        with self._conns_lock:
            self._closed = True
            conns, self._conns = self._conns, []
        for conn in conns:
            try:
                conn.close()
            except sqlite3.Error:
                pass

    # -- expiry --------------------------------------------------------------------------------
    def _maybe_purge(self, conn: sqlite3.Connection, now: float) -> None:
        if now < self._next_purge or not self._purge_lock.acquire(blocking=False):
            return
        try:
            with self._write(conn):
                deleted = conn.execute(PURGE, (now, self._purge_batch)).rowcount
            # a full batch means more is waiting: go on at the next call, else wait an interval
            self._next_purge = now if deleted >= self._purge_batch else now + self._purge_interval
        except sqlite3.OperationalError:  # busy elsewhere: the entries are stored, purge later
            self._next_purge = now + min(1.0, self._purge_interval)
        finally:
            self._purge_lock.release()
