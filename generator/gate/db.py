"""The gate's database: one SQLite file (WAL), its schema and the migrations that made it.

Every table of the gate lives here, so the schema is one list and can be compared whole: the audit chain
(`audit.py`), access requests and grants (`grants.py`), the mail and webhook outbox (`outbox.py`), staff
sign-ins and sessions (`staff.py`), subscribers and the notices sent to them (`subscribers.py`, `publish/notify.py`).

Migrations run in order from an empty file, in one transaction each, when the gate (or any command that
opens the database) finds an older version: a new database is the same migrations applied to nothing, so an
upgraded database and a new one have exactly the same tables, and `structure_problem` can compare the schema
with the expected one statement by statement. A database newer than the code is refused.

A released migration is never edited: databases made by it must compare equal. Schema 3 was made during issue
11 and released with it, so it was amended in place while that issue was open (no database of a release has
it); it is final once issue 11 closes, and any later change is a migration 4.

Every connection sets `secure_delete`: a cleared outbox body (it carried a confirmation or grant link) and a
purged row (`retention.py`) are overwritten in the file, not left in its free pages for a copy to recover.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from generator.errors import StoreError

DB_FILE = "gate.sqlite3"
BUSY_TIMEOUT_MS = 10_000

# Version 2: the keyed audit chain (trustcenter 0.2). Kept word for word: databases made by it compare equal.
_V2 = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    status INTEGER,
    link_id TEXT,
    recipient TEXT,
    document TEXT,
    name TEXT,
    company TEXT,
    nda_sha256 TEXT,
    browser TEXT,
    ip TEXT,
    user_agent TEXT,
    detail TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_link ON events (link_id, kind);
CREATE TRIGGER IF NOT EXISTS events_append_only_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_append_only_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""

# Version 3: access requests, grants, the outbox, staff sign-in, subscriptions; events name the request, grant
# and staff member they concern. Not released before issue 11 closes, so amended in place until then (outbox rows
# carry their MAC, their claimant and their expiry; notice_sends records who has each notice); final after it.
_V3 = """
ALTER TABLE events ADD COLUMN request_id TEXT;
ALTER TABLE events ADD COLUMN grant_id TEXT;
ALTER TABLE events ADD COLUMN actor TEXT;
CREATE INDEX events_by_request ON events (request_id);
CREATE INDEX events_by_grant ON events (grant_id, kind);
CREATE INDEX events_by_kind ON events (kind, at);
CREATE TABLE requests (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    company TEXT NOT NULL,
    documents TEXT NOT NULL,
    reason TEXT,
    nda_on_file INTEGER NOT NULL,
    ip TEXT,
    status TEXT NOT NULL,
    confirm_hash TEXT UNIQUE,
    confirm_expires TEXT,
    confirmed TEXT,
    decided TEXT,
    decided_by TEXT,
    decision_reason TEXT,
    grant_id TEXT
);
CREATE INDEX requests_by_email ON requests (email, created);
CREATE INDEX requests_by_status ON requests (status, created);
CREATE INDEX requests_by_ip ON requests (ip, created);
CREATE TABLE grants (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    request_id TEXT,
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    company TEXT NOT NULL,
    documents TEXT NOT NULL,
    expires TEXT NOT NULL,
    nda_on_file INTEGER NOT NULL,
    approved_by TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    mac TEXT NOT NULL
);
CREATE INDEX grants_by_expiry ON grants (expires);
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    created TEXT NOT NULL,
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    subject TEXT NOT NULL,
    body BLOB NOT NULL,
    mac TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt TEXT NOT NULL,
    expires TEXT,
    claimed_until TEXT,
    claimed_by TEXT,
    sent TEXT,
    failed TEXT,
    last_error TEXT
);
CREATE INDEX outbox_due ON outbox (sent, failed, next_attempt);
CREATE TABLE sign_ins (
    token_hash TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    created TEXT NOT NULL,
    expires TEXT NOT NULL,
    used TEXT
);
CREATE TABLE staff_sessions (
    token_hash TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    created TEXT NOT NULL,
    seen TEXT NOT NULL,
    expires TEXT NOT NULL,
    csrf TEXT NOT NULL,
    ended TEXT
);
CREATE TABLE subscribers (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL,
    ip TEXT,
    confirm_hash TEXT UNIQUE,
    confirm_expires TEXT,
    confirmed TEXT,
    unsubscribe_hash TEXT NOT NULL UNIQUE,
    unsubscribed TEXT
);
CREATE TABLE notices (
    id TEXT PRIMARY KEY,
    seen TEXT NOT NULL,
    title TEXT NOT NULL,
    sent TEXT
);
CREATE TABLE notice_sends (
    notice_id TEXT NOT NULL,
    subscriber_id TEXT NOT NULL,
    queued TEXT NOT NULL,
    PRIMARY KEY (notice_id, subscriber_id)
);
"""

# (version, statements): applied in order, each in one transaction, to bring a database to `version`.
MIGRATIONS: tuple[tuple[int, str], ...] = ((2, _V2), (3, _V3))
SCHEMA_VERSION = MIGRATIONS[-1][0]


def _statements(script: str) -> list[str]:
    """The statements of a migration script (triggers keep their inner `;`)."""
    found: list[str] = []
    current = ""
    for line in script.strip().splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            found.append(current.strip())
            current = ""
    if current.strip():
        raise ValueError(f"incomplete statement in a migration: {current[:80]}")
    return found


def _schema_of(connection: sqlite3.Connection) -> set[tuple[str, str, str]]:
    return {(kind, name, " ".join(str(sql).split())) for kind, name, sql in connection.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")}


def _expected_schema() -> set[tuple[str, str, str]]:
    connection = sqlite3.connect(":memory:", isolation_level=None)
    try:
        for _, script in MIGRATIONS:
            for statement in _statements(script):
                connection.execute(statement)
        return _schema_of(connection)
    finally:
        connection.close()


# Exactly these tables, indexes and triggers: an extra trigger (one that silently drops REVOKED or DOWNLOADED
# rows) or a changed index (one that hides a link's rows from the lookups) makes the database untrusted.
EXPECTED_SCHEMA = _expected_schema()


def missing(path: Path) -> StoreError:
    return StoreError(f"there is no gate database at {path}; check --db, or create one with `trustcenter gate "
                      "--init` (a new database starts with no revocations)")


class Tx:
    """A connection inside a transaction (or, from `Database.read`, outside one): the only way to run SQL."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self._connection.execute(sql, tuple(params))

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self._connection.execute(sql, tuple(params)).fetchone()
        return row

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self._connection.execute(sql, tuple(params)).fetchall())

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.one(sql, params)
        return None if row is None else row[0]


class Database:
    """One SQLite file; one connection per thread (sqlite3 connections are not shared across threads).

    The file must exist unless `create` is set: a wrong path or a deleted database must not silently start a
    new, empty one (revocations and download counts would be lost with it).
    """

    def __init__(self, path: Path, *, create: bool = False) -> None:
        self.path = path
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        if not path.is_file():
            if not create:
                raise missing(path)
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # 0600 from the first byte; SQLite gives its -wal and -shm files the same mode.
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        self._identity = _identity(path)
        connection = self._connection()
        connection.execute("PRAGMA journal_mode=WAL")
        self.created = self._migrate(create)

    @property
    def label(self) -> str:
        return str(self.path)

    # ------------------------------------------------ schema

    def _migrate(self, create: bool) -> bool:
        """Bring the schema to SCHEMA_VERSION; returns whether the database was new."""
        connection = self._connection()
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "events" in tables and "meta" not in tables:
            raise StoreError(f"{self.path} was written by trustcenter 0.1, whose audit chain had no key; keep it as "
                             "the record of that time and start a new database with `trustcenter gate --init`")
        if not tables and not create:
            raise StoreError(f"{self.path} is not a gate database; check --db")
        new = not tables
        version = 0 if new else int(self.read().scalar("SELECT value FROM meta WHERE key = 'schema_version'") or 0)
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.path} was written by a newer trustcenter (schema {version}; this one knows "
                             f"{SCHEMA_VERSION}); upgrade trustcenter")
        for target, script in MIGRATIONS:
            if target <= version:
                continue
            with self.write() as tx:
                for statement in _statements(script):
                    tx.execute(statement)
                tx.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
                           "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(target),))
        return new

    def structure_problem(self) -> str | None:
        """Why the database's structure cannot be trusted (objects added or changed, a damaged file), or None."""
        connection = self._connection()
        found = _schema_of(connection)
        if found != EXPECTED_SCHEMA:
            odd = sorted({name for _, name, _ in found ^ EXPECTED_SCHEMA})
            return f"its tables, indexes or triggers were changed ({', '.join(odd)})"
        # integrity_check, not quick_check: only it compares each index with its table.
        verdict = [row[0] for row in connection.execute("PRAGMA integrity_check")]
        if verdict != ["ok"]:
            return f"SQLite reports damage ({'; '.join(verdict[:3])})"
        return None

    def meta(self, key: str) -> str | None:
        value = self.read().scalar("SELECT value FROM meta WHERE key = ?", (key,))
        return None if value is None else str(value)

    # ------------------------------------------------ connections and transactions

    def _connection(self) -> sqlite3.Connection:
        # Every read and write first makes sure the file is still the one opened (a stat): sqlite3 would
        # otherwise read a replaced file, or quietly create a new, empty one where a deleted one was.
        self.check_same_file()
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                         check_same_thread=False)
            connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            # WAL + NORMAL: a committed event survives a crash of the gate; only a power cut can
            # lose the last commits (FULL would fsync every request).
            connection.execute("PRAGMA synchronous=NORMAL")
            # A cleared body or a purged row is zeroed in the file, not left in free pages for a copy to read.
            connection.execute("PRAGMA secure_delete=ON")
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    @contextlib.contextmanager
    def write(self) -> Iterator[Tx]:
        """BEGIN IMMEDIATE ... COMMIT: takes the write lock first, so read-then-write is atomic."""
        connection = self._connection()
        try:
            connection.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"the gate database cannot be written ({exc})") from None
        try:
            yield Tx(connection)
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    def read(self) -> Tx:
        """Reads outside a transaction: each statement sees the last commit."""
        return Tx(self._connection())

    def check_same_file(self) -> None:
        """Refuse to go on if the database file was deleted or replaced since the gate opened it."""
        try:
            current = _identity(self.path)
        except FileNotFoundError:
            raise StoreError(f"the gate database {self.path} was deleted while the gate ran; restore it from "
                             "the backup and restart the gate") from None
        if current != self._identity:
            raise StoreError(f"the gate database {self.path} was replaced while the gate ran; restart the gate "
                             "on the right database")

    def health(self) -> None:
        """Raise StoreError unless the database is the one opened and can take a write now."""
        try:
            with self.write() as tx:
                tx.execute("INSERT INTO meta (key, value) VALUES ('health', '') "
                           "ON CONFLICT (key) DO UPDATE SET value = excluded.value")
        except sqlite3.Error as exc:
            raise StoreError(f"the gate database cannot be written ({exc})") from None

    def close(self) -> None:
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self._local = threading.local()


def _identity(path: Path) -> tuple[int, int]:
    info = path.stat()
    return (info.st_dev, info.st_ino)
