"""The gate's database: one SQLite file (WAL) on one machine, or a PostgreSQL database that several gate
instances share; its schema, the migrations that made it, and the one small interface both stores offer.

Every table of the gate lives here, so the schema is one list and can be compared whole: the audit chain
(`audit.py`), access requests and grants (`grants.py`), the mail and webhook outbox (`outbox.py`), staff
sign-ins and sessions (`staff.py`), subscribers and the notices sent to them (`subscribers.py`, `publish/notify.py`),
and the counters of the limits every instance shares (`limits.py`).

The rest of the gate sees `Database` and `Tx` only, and writes one SQL for both stores: `?` placeholders (made
`%s` for PostgreSQL here), `RETURNING`, `ON CONFLICT`, `IS NOT DISTINCT FROM`, text timestamps that sort. A
write is `with db.write() as tx:` and is serialised with every other write to the same database, whichever
instance makes it: SQLite's BEGIN IMMEDIATE, PostgreSQL's transaction-scoped advisory lock. So every
read-then-write the gate does (the audit chain's head, a link's download count against its limit, a request's
state) is atomic on both stores without a lock of its own, and the audit chain stays one line across instances.
(Writes are a few per request at most; reads, which are most of them, run in parallel.)

Migrations run in order from an empty database, in one transaction each, when the gate (or any command that
opens the database) finds an older version: a new database is the same migrations applied to nothing, so an
upgraded database and a new one have exactly the same tables, and `structure_problem` can compare the schema
with the expected one. Each migration runs under the write lock, so instances starting together apply each
once. A database newer than the code is refused.

A released migration is never edited: databases made by it must compare equal. Schema 3 was made during issue
11 and released with it; it is final, and later changes are migrations 4 and on.

Every SQLite connection sets `secure_delete`: a cleared outbox body (it carried a confirmation or grant link) and
a purged row (`retention.py`) are overwritten in the file, not left in its free pages for a copy to recover.
"""

from __future__ import annotations

import abc
import contextlib
import dataclasses
import os
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from generator.errors import StoreError, UserError

if TYPE_CHECKING:
    import psycopg

_T = TypeVar("_T")

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
# and staff member they concern.
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

# Version 4: the limits every gate instance shares (failed attempts, sign-in links, forms per network), as rows
# rather than in each process's memory, so three instances behind a load balancer count as one (`limits.py`).
_V4 = """
CREATE TABLE hits (
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX hits_by_key ON hits (bucket, key, at);
"""

# (version, statements): applied in order, each in one transaction, to bring a database to `version`.
MIGRATIONS: tuple[tuple[int, str], ...] = ((2, _V2), (3, _V3), (4, _V4))
SCHEMA_VERSION = MIGRATIONS[-1][0]

# PostgreSQL spells two things of SQLite's schema otherwise: row ids (an identity) and bytes; and its triggers
# call a function. Everything else in the migrations is the same text on both.
_PG_TYPES = ((re.compile(r"\bINTEGER PRIMARY KEY\b"), "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
             (re.compile(r"\bBLOB\b"), "BYTEA"))
_PG_APPEND_ONLY = (
    "CREATE OR REPLACE FUNCTION trustcenter_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$",
    "CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events "
    "FOR EACH ROW EXECUTE FUNCTION trustcenter_append_only()",
    "CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events "
    "FOR EACH ROW EXECUTE FUNCTION trustcenter_append_only()",
    # TRUNCATE is not a DELETE: without this, one statement would empty the chain.
    "CREATE TRIGGER events_append_only_truncate BEFORE TRUNCATE ON events "
    "FOR EACH STATEMENT EXECUTE FUNCTION trustcenter_append_only()",
)
PG_TRIGGERS = frozenset({"events_append_only_update", "events_append_only_delete", "events_append_only_truncate"})


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


def postgres_statements(script: str) -> list[str]:
    """A migration's statements as PostgreSQL runs them (see _PG_TYPES and _PG_APPEND_ONLY)."""
    found: list[str] = []
    for statement in _statements(script):
        if statement.startswith("CREATE TRIGGER"):
            if "events_append_only_update" in statement:  # the pair becomes the function and its triggers
                found.extend(_PG_APPEND_ONLY)
            continue
        for pattern, replacement in _PG_TYPES:
            statement = pattern.sub(replacement, statement)
        found.append(statement.rstrip(";"))
    return found


def _schema_of(connection: sqlite3.Connection) -> set[tuple[str, str, str]]:
    return {(kind, name, " ".join(str(sql).split())) for kind, name, sql in connection.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")}


def _expected_schema() -> tuple[set[tuple[str, str, str]], dict[str, frozenset[str]]]:
    """The SQLite schema the migrations make, statement by statement; and each table's columns (what a
    PostgreSQL database is compared with: the same tables, columns and indexes, whatever the types are called)."""
    connection = sqlite3.connect(":memory:", isolation_level=None)
    try:
        for _, script in MIGRATIONS:
            for statement in _statements(script):
                connection.execute(statement)
        tables = [str(row[0]) for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        columns = {table: frozenset(str(row[1]) for row in connection.execute(f"PRAGMA table_info({table})"))
                   for table in tables}
        return _schema_of(connection), columns
    finally:
        connection.close()


# Exactly these tables, indexes and triggers: an extra trigger (one that silently drops REVOKED or DOWNLOADED
# rows) or a changed index (one that hides a link's rows from the lookups) makes the database untrusted.
EXPECTED_SCHEMA, EXPECTED_COLUMNS = _expected_schema()
EXPECTED_INDEXES = frozenset(name for kind, name, _ in EXPECTED_SCHEMA if kind == "index")


# ---------------------------------------------------------------- where the database is


@dataclasses.dataclass(frozen=True)
class PostgresUrl:
    """A PostgreSQL database named by a URL (`postgresql://user:password@host:port/name?sslmode=...`)."""

    url: str

    @property
    def label(self) -> str:
        """The URL without its password or options: for messages and logs."""
        parts = urlsplit(self.url)
        netloc = (f"{parts.username}@" if parts.username else "") + (parts.hostname or "") + (
            f":{parts.port}" if parts.port else "")
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))

    def __str__(self) -> str:
        return self.label


Location = Path | PostgresUrl
DB_ENV = "TRUSTCENTER_DB"
_SCHEMES = ("postgresql://", "postgres://")


def location(value: str | Path) -> Location:
    """What `--db` (or TRUSTCENTER_DB) names: a PostgreSQL URL, else the path of a SQLite file."""
    text = str(value).strip()
    if text.startswith(_SCHEMES):
        parts = urlsplit(text)
        if not parts.path.strip("/"):
            raise UserError(f"--db {PostgresUrl(text).label}: name the database, like "
                            "postgresql://trustcenter@db.internal:5432/trustcenter")
        return PostgresUrl(text)
    if "://" in text:
        raise UserError(f"--db {text.split('://')[0][:20]}://...: the gate's database is a SQLite file or a "
                        "postgresql:// URL")
    return Path(text)


def default_location(state_dir: Path) -> Location:
    """The database every command uses unless --db names one: TRUSTCENTER_DB (a path or a PostgreSQL URL), else
    gate.sqlite3 in the state folder."""
    named = os.environ.get(DB_ENV, "").strip()
    return location(named) if named else state_dir / DB_FILE


def exists(where: Location) -> bool:
    """Whether there is a gate database to open without `create`: a SQLite file (a wrong path must not start a
    new, empty database), or a PostgreSQL database with the gate's tables (an empty one is what --init fills).
    StoreError if the server cannot be reached."""
    if isinstance(where, Path):
        return where.is_file()
    import psycopg

    try:
        with psycopg.connect(where.url, autocommit=True, connect_timeout=int(CONNECT_SECONDS)) as connection:
            row = connection.execute("SELECT to_regclass('meta') IS NOT NULL").fetchone()
    except psycopg.OperationalError as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise StoreError(f"the gate database {where.label} cannot be reached ({first[:200]})") from None
    return bool(row and row[0])


def missing(where: Location) -> StoreError:
    return StoreError(f"there is no gate database at {where}; check --db, or create one with `trustcenter gate "
                      "--init` (a new database starts with no revocations)")


def open_database(where: Location, *, create: bool = False) -> Database:
    if isinstance(where, PostgresUrl):
        return PostgresDatabase(where, create=create)
    return SqliteDatabase(where, create=create)


# ---------------------------------------------------------------- the interface


class Result:
    """What a statement gave, read whole (a PostgreSQL read gives its connection back to the pool at once)."""

    def __init__(self, rows: list[tuple[Any, ...]], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        return list(self._rows)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self._rows)


class Tx(abc.ABC):
    """A connection inside a transaction (or, from `Database.read`, outside one): the only way to run SQL."""

    @abc.abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result: ...

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        return self.execute(sql, params).fetchone()

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.execute(sql, params).fetchall()

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.one(sql, params)
        return None if row is None else row[0]


class Database(abc.ABC):
    """The gate's database (see the module): `write()` for a serialised transaction, `read()` for reads."""

    dialect: str
    created: bool
    where: Location

    @property
    def path(self) -> Location:
        return self.where

    @property
    @abc.abstractmethod
    def label(self) -> str:
        """Where the database is, for messages (never a password)."""

    @abc.abstractmethod
    def write(self) -> contextlib.AbstractContextManager[Tx]: ...

    @abc.abstractmethod
    def read(self) -> Tx: ...

    @abc.abstractmethod
    def structure_problem(self) -> str | None:
        """Why the database's structure cannot be trusted (objects added or changed, damage), or None."""

    @abc.abstractmethod
    def check_same_file(self) -> None:
        """Refuse to go on if the database was replaced or cannot be reached."""

    @abc.abstractmethod
    def close(self) -> None: ...

    def checkpoint(self) -> None:  # noqa: B027 - a no-op where the store has nothing to fold in
        """Make what was deleted leave every file of the database (SQLite's write-ahead log); else nothing."""

    def meta(self, key: str) -> str | None:
        value = self.read().scalar("SELECT value FROM meta WHERE key = ?", (key,))
        return None if value is None else str(value)

    def health(self) -> None:
        """Raise StoreError unless the database is the one opened and can take a write now."""
        with self.write() as tx:
            tx.execute("INSERT INTO meta (key, value) VALUES ('health', '') "
                       "ON CONFLICT (key) DO UPDATE SET value = excluded.value")

    def _migrate(self, tables: set[str], create: bool) -> bool:
        """Bring the schema to SCHEMA_VERSION, each migration in a write transaction; whether it was new."""
        if "events" in tables and "meta" not in tables:
            raise StoreError(f"{self.label} was written by trustcenter 0.1, whose audit chain had no key; keep it "
                             "as the record of that time and start a new database with `trustcenter gate --init`")
        if not tables and not create:
            raise StoreError(f"{self.label} is not a gate database; check --db")
        for target, script in MIGRATIONS:
            with self.write() as tx:
                # Read under the write lock: an instance that started at the same time may have just done it.
                version = int(tx.scalar("SELECT value FROM meta WHERE key = 'schema_version'") or 0) if (
                    self._has_table(tx, "meta")) else 0
                if version > SCHEMA_VERSION:
                    raise StoreError(f"{self.label} was written by a newer trustcenter (schema {version}; this one "
                                     f"knows {SCHEMA_VERSION}); upgrade trustcenter")
                if target <= version:
                    continue
                for statement in self._migration(script):
                    tx.execute(statement)
                tx.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
                           "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(target),))
        return not tables

    @abc.abstractmethod
    def _has_table(self, tx: Tx, name: str) -> bool: ...

    @abc.abstractmethod
    def _migration(self, script: str) -> list[str]: ...


# ---------------------------------------------------------------- SQLite


class _SqliteTx(Tx):
    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result:
        cursor = self._connection.execute(sql, tuple(params))
        return Result(cursor.fetchall(), cursor.rowcount)


class SqliteDatabase(Database):
    """One SQLite file; one connection per thread (sqlite3 connections are not shared across threads).

    The file must exist unless `create` is set: a wrong path or a deleted database must not silently start a
    new, empty one (revocations and download counts would be lost with it).
    """

    dialect = "sqlite"

    def __init__(self, path: Path, *, create: bool = False) -> None:
        self.where = self.file = path
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
        tables = {str(row[0]) for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        self.created = self._migrate(tables, create)

    @property
    def label(self) -> str:
        return str(self.file)

    def _has_table(self, tx: Tx, name: str) -> bool:
        return tx.one("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)) is not None

    def _migration(self, script: str) -> list[str]:
        return _statements(script)

    def structure_problem(self) -> str | None:
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

    def _connection(self) -> sqlite3.Connection:
        # Every read and write first makes sure the file is still the one opened (a stat): sqlite3 would
        # otherwise read a replaced file, or quietly create a new, empty one where a deleted one was.
        self.check_same_file()
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.file, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
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
            yield _SqliteTx(connection)
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    def read(self) -> Tx:
        """Reads outside a transaction: each statement sees the last commit."""
        return _SqliteTx(self._connection())

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the file and truncate it; it waits for readers on older snapshots (the
        busy timeout), and if one outlasts that, the log stays until the next checkpoint (StoreError)."""
        busy = self._connection().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy is None or busy[0]:
            raise StoreError("the write-ahead log could not be emptied now (readers were busy)")

    def check_same_file(self) -> None:
        """Refuse to go on if the database file was deleted or replaced since the gate opened it."""
        try:
            current = _identity(self.file)
        except FileNotFoundError:
            raise StoreError(f"the gate database {self.file} was deleted while the gate ran; restore it from "
                             "the backup and restart the gate") from None
        if current != self._identity:
            raise StoreError(f"the gate database {self.file} was replaced while the gate ran; restart the gate "
                             "on the right database")

    def health(self) -> None:
        try:
            super().health()
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


# ---------------------------------------------------------------- PostgreSQL

# The key of the advisory lock every write takes (pg_advisory_xact_lock): a 64-bit number no other program on
# the database is expected to use ("trustctr" in ASCII).
WRITE_LOCK = 0x7472757374637472
IDLE_CONNECTIONS = 16  # kept open for reuse: the gate's waitress threads (8), its delivery threads, room to spare
CONNECT_SECONDS = 5.0


def _placeholders(sql: str) -> str:
    """The gate's SQL (`?`) for psycopg (`%s`; a literal `%` doubled). The gate's SQL has no `?` in a literal."""
    return sql.replace("%", "%%").replace("?", "%s")


def _plain(value: Any) -> Any:
    # bytea comes back as memoryview (SQLite gives bytes): the gate's code sees one type from both stores.
    return bytes(value) if isinstance(value, memoryview) else value


class _PostgresTx(Tx):
    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        self._connection = connection

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result:
        cursor = self._connection.execute(_placeholders(sql), tuple(params))
        rows = cursor.fetchall() if cursor.description is not None else []
        return Result([tuple(_plain(value) for value in row) for row in rows], cursor.rowcount)


class _Connections:
    """Open connections kept for reuse, and a new one opened whenever none is idle.

    Not a pool with background reconnection (psycopg_pool's waits, with backoff, for a server that is down):
    while the server is down, a request that needs the database fails at once (connection refused: the gate
    answers 503 and Retry-After), and the first request after it is back connects at once. A connection broken
    by a restart is found when next used and replaced by a new one (`PostgresDatabase._use`)."""

    def __init__(self, url: PostgresUrl) -> None:
        self._url = url
        self._idle: list[psycopg.Connection[Any]] = []
        self._lock = threading.Lock()
        self._closed = False
        self._identity: int | None = None  # the database's oid when first opened

    def take(self, *, fresh: bool = False) -> tuple[psycopg.Connection[Any], bool]:
        """A connection, and whether it was idle in here (so may have been broken since)."""
        import psycopg

        if not fresh:
            with self._lock:
                while self._idle:
                    connection = self._idle.pop()
                    if not connection.closed and not connection.broken:
                        return connection, True
                    connection.close()
        connection = psycopg.connect(self._url.url, autocommit=True, connect_timeout=int(CONNECT_SECONDS),
                                     application_name="trustcenter-gate")
        # A database dropped and made again (an older copy restored under a running gate) has another oid: its
        # revocations since that copy are gone, so the gate stops, as it does for a replaced SQLite file.
        row = connection.execute("SELECT oid FROM pg_database WHERE datname = current_database()").fetchone()
        identity = int(row[0]) if row else -1
        if self._identity is None:
            self._identity = identity
        elif identity != self._identity:
            connection.close()
            raise StoreError(f"the gate database {self._url.label} was replaced while the gate ran; restart the "
                             "gate on the right database")
        return connection, False

    def give(self, connection: psycopg.Connection[Any]) -> None:
        """Back for reuse, if it is healthy and out of any transaction; else closed."""
        from psycopg.pq import TransactionStatus

        healthy = not connection.closed and not connection.broken and (
            connection.info.transaction_status == TransactionStatus.IDLE)
        with self._lock:
            if healthy and not self._closed and len(self._idle) < IDLE_CONNECTIONS:
                self._idle.append(connection)
                return
        connection.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()


class _PostgresReads(Tx):
    """Reads outside a transaction: each statement on a connection of its own (or, inside a write on this thread,
    on that write's connection, so it sees what the write did so far, as SQLite's one connection per thread does)."""

    def __init__(self, database: PostgresDatabase) -> None:
        self._database = database

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result:
        writing = self._database._writing()
        if writing is not None:
            return _PostgresTx(writing).execute(sql, params)
        with self._database._errors():
            return self._database._use(lambda connection: _PostgresTx(connection).execute(sql, params),
                                       keep=True)


class PostgresDatabase(Database):
    """A PostgreSQL database (psycopg 3). Several gate processes, on one machine or many, share it; `write()`
    serialises their writes (see the module)."""

    dialect = "postgresql"

    def __init__(self, where: PostgresUrl, *, create: bool = False) -> None:
        self.where = self.url = where
        self._local = threading.local()
        self._connections = _Connections(where)
        try:
            with self._errors():
                self._connections.give(self._connections.take(fresh=True)[0])
            tables = {str(row[0]) for row in self.read().all(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")}
            self.created = self._migrate(tables, create)
        except BaseException:
            self._connections.close()
            raise

    def _use(self, work: Callable[[psycopg.Connection[Any]], _T], *, keep: bool) -> _T:
        """Run `work` on a connection, once more on a new one if an idle connection turned out broken (a server
        restart since it was last used: nothing was done on it). `keep`: give the connection back afterwards
        (reads); else `work` owns it (a write's, given back when the write ends)."""
        import psycopg

        for attempt in (1, 2):
            connection, reused = self._connections.take(fresh=attempt == 2)
            try:
                result = work(connection)
            except psycopg.OperationalError:
                connection.close()
                if reused and attempt == 1:
                    continue
                raise
            except BaseException:
                self._connections.give(connection)
                raise
            if keep:
                self._connections.give(connection)
            return result
        raise AssertionError("unreachable")

    @property
    def label(self) -> str:
        return self.url.label

    def _has_table(self, tx: Tx, name: str) -> bool:
        return tx.scalar("SELECT to_regclass(?)", (name,)) is not None

    def _migration(self, script: str) -> list[str]:
        return postgres_statements(script)

    def _writing(self) -> Any:
        return getattr(self._local, "connection", None)

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """A server that is down or restarting, or a database that only reads now (a standby after a failover),
        is a StoreError (the gate answers 503 with Retry-After)."""
        import psycopg

        try:
            yield
        except (psycopg.OperationalError, psycopg.errors.ReadOnlySqlTransaction) as exc:
            if isinstance(exc, psycopg.errors.ReadOnlySqlTransaction):
                raise StoreError(f"the gate database {self.label} cannot be written (it is read-only)") from None
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise StoreError(f"the gate database {self.label} cannot be reached ({first[:200]})") from None

    @contextlib.contextmanager
    def write(self) -> Iterator[Tx]:
        """A transaction that first takes the database's write lock (pg_advisory_xact_lock, released at commit or
        rollback): writes from every instance go one at a time, as on SQLite."""
        import psycopg

        if self._writing() is not None:
            raise RuntimeError("a write inside a write on one thread")  # SQLite refuses it too

        def begin(connection: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
            connection.execute("BEGIN")
            connection.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            return connection

        with self._errors():
            connection = self._use(begin, keep=False)
            committed = False
            try:
                self._local.connection = connection
                yield _PostgresTx(connection)
                connection.execute("COMMIT")
                committed = True
            finally:
                self._local.connection = None
                if not committed and not connection.closed:
                    with contextlib.suppress(psycopg.Error):
                        connection.execute("ROLLBACK")
                self._connections.give(connection)

    def read(self) -> Tx:
        return _PostgresReads(self)

    def structure_problem(self) -> str | None:
        """The same tables with the same columns, the same indexes, and nothing that could change or hide what is
        written: only the append-only triggers, enabled; no rules (a rule can turn an INSERT into nothing); no
        row-level security (a policy can hide rows)."""
        reads = self.read()
        columns: dict[str, set[str]] = {}
        for table, column in reads.all("SELECT table_name, column_name FROM information_schema.columns "
                                       "WHERE table_schema = current_schema()"):
            columns.setdefault(str(table), set()).add(str(column))
        # Indexes made by PRIMARY KEY and UNIQUE constraints are not in SQLite's list: leave them out here too.
        indexes = {str(row[0]) for row in reads.all(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND indexname NOT IN ("
            "SELECT conname FROM pg_constraint JOIN pg_namespace ON pg_namespace.oid = connamespace "
            "WHERE nspname = current_schema())")}
        triggers = {(str(name), str(enabled)) for name, enabled in reads.all(
            "SELECT tgname, tgenabled FROM pg_trigger JOIN pg_class ON pg_class.oid = tgrelid "
            "JOIN pg_namespace ON pg_namespace.oid = relnamespace WHERE nspname = current_schema() "
            "AND NOT tgisinternal")}
        rules = {str(row[0]) for row in reads.all("SELECT rulename FROM pg_rules WHERE schemaname = current_schema()")}
        secured = {str(row[0]) for row in reads.all(
            "SELECT relname FROM pg_class JOIN pg_namespace ON pg_namespace.oid = relnamespace "
            "WHERE nspname = current_schema() AND relrowsecurity")}
        odd = ((columns.keys() ^ EXPECTED_COLUMNS.keys())
               | {table for table in columns.keys() & EXPECTED_COLUMNS.keys() if columns[table] != EXPECTED_COLUMNS[table]}
               | (indexes ^ EXPECTED_INDEXES)
               | ({name for name, _ in triggers} ^ PG_TRIGGERS)
               | {name for name, enabled in triggers if enabled != "O"}
               | rules | secured)
        if odd:
            return f"its tables, indexes, triggers, rules or policies were changed ({', '.join(sorted(odd))})"
        return None

    def check_same_file(self) -> None:
        """Reachable, and the database opened (not one dropped and made again: `_Connections.take`), or
        StoreError. A new connection is what compares, so this takes one."""
        with self._errors():
            self._connections.give(self._connections.take(fresh=True)[0])

    def close(self) -> None:
        self._connections.close()
