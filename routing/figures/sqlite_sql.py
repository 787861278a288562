"""The SQL of the SQLite figures store: its tables and the upserts its writes share."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS fig_outcomes (org TEXT, width INTEGER, bucket INTEGER, field TEXT, n INTEGER NOT NULL,
    PRIMARY KEY (org, width, bucket, field)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS fig_outcomes_age ON fig_outcomes (width, bucket);
CREATE TABLE IF NOT EXISTS fig_fates (org TEXT, width INTEGER, bucket INTEGER, field TEXT, n INTEGER NOT NULL,
    PRIMARY KEY (org, width, bucket, field)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS fig_fates_age ON fig_fates (width, bucket);
CREATE TABLE IF NOT EXISTS fig_lost_orgs (org TEXT PRIMARY KEY, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS fig_since (org TEXT, field TEXT, n INTEGER NOT NULL, PRIMARY KEY (org, field)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS fig_last (org TEXT PRIMARY KEY, at REAL, provider TEXT, stage TEXT, kind TEXT);
CREATE TABLE IF NOT EXISTS fig_flips (org TEXT PRIMARY KEY, migrated INTEGER NOT NULL, since REAL NOT NULL);
CREATE TABLE IF NOT EXISTS fig_rollbacks (org TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fig_departures (id TEXT PRIMARY KEY, org TEXT, provider TEXT, keys TEXT, at REAL,
    deadline REAL NOT NULL);
CREATE INDEX IF NOT EXISTS fig_departures_deadline ON fig_departures (deadline);
CREATE TABLE IF NOT EXISTS fig_returns (key TEXT PRIMARY KEY, expires REAL NOT NULL);
CREATE INDEX IF NOT EXISTS fig_returns_expires ON fig_returns (expires);
CREATE TABLE IF NOT EXISTS fig_routed (provider TEXT PRIMARY KEY, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS fig_meta (name TEXT PRIMARY KEY, value REAL NOT NULL);
CREATE TABLE IF NOT EXISTS fig_locks (name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires REAL NOT NULL);
"""
ADD = "INSERT INTO {t} VALUES ({marks}) ON CONFLICT DO UPDATE SET n = n + excluded.n"
LAST = (
    "INSERT INTO fig_last VALUES (?, ?, ?, ?, ?) ON CONFLICT (org) DO UPDATE SET at = excluded.at, "
    "provider = excluded.provider, stage = excluded.stage, kind = excluded.kind WHERE excluded.at >= fig_last.at"
)
LOCK = (
    "INSERT INTO fig_locks VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, "
    "expires = excluded.expires WHERE fig_locks.expires <= ? OR fig_locks.owner = excluded.owner"
)
SPAN = "AND width = ? AND bucket >= ? AND bucket < ?"
