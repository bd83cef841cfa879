"""The gate's audit store in SQLite: a hash-chained, append-only event log, revocations and download counts.

Each event is one short `BEGIN IMMEDIATE` transaction, so concurrent requests queue for the
write lock (busy_timeout) instead of losing rows, and the chain (each row stores
sha256(previous hash + canonical row)) stays linear. Editing or deleting a row breaks the
chain from that row on; `verify_chain` finds it. Cutting rows off the end leaves a shorter
valid chain, which is why `trustcenter audit --verify` prints the head hash to note elsewhere.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import json
import re
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DEFAULT_DB = Path(".trustcenter") / "gate.sqlite3"
GENESIS = "0" * 64
BUSY_TIMEOUT_MS = 10_000

_SCHEMA = """
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
CREATE TABLE IF NOT EXISTS revocations (
    link_id TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    revoked_at TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS events_append_only_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_append_only_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS revocations_final_update BEFORE UPDATE ON revocations
    BEGIN SELECT RAISE(ABORT, 'a revocation is final'); END;
CREATE TRIGGER IF NOT EXISTS revocations_final_delete BEFORE DELETE ON revocations
    BEGIN SELECT RAISE(ABORT, 'a revocation is final'); END;
"""

_FIELDS = ("at", "kind", "status", "link_id", "recipient", "document", "name", "company", "nda_sha256",
           "browser", "ip", "user_agent", "detail")


@dataclasses.dataclass(frozen=True)
class DownloadOutcome:
    """What `record_download` decided, in one transaction with the checks."""

    counted: bool  # the download was recorded and may be served
    revoked_reason: str | None = None  # set when the link was revoked (not counted)


class Kind(enum.StrEnum):
    OPENED = "opened"  # the NDA page or the download offer was shown
    ACCEPTED = "accepted"  # the NDA was accepted in one browser
    DOWNLOADED = "downloaded"
    DENIED = "denied"  # any refusal: 403, 410, 429
    REVOKED = "revoked"


@dataclasses.dataclass(frozen=True)
class Event:
    kind: Kind
    status: int | None = None
    link_id: str | None = None
    recipient: str | None = None
    document: str | None = None
    name: str | None = None
    company: str | None = None
    nda_sha256: str | None = None
    browser: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    detail: str | None = None


@dataclasses.dataclass(frozen=True)
class Row:
    """An event as stored: with its id, time and place in the chain."""

    id: int
    at: str
    kind: str
    status: int | None
    link_id: str | None
    recipient: str | None
    document: str | None
    name: str | None
    company: str | None
    nda_sha256: str | None
    browser: str | None
    ip: str | None
    user_agent: str | None
    detail: str | None
    prev_hash: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class ChainCheck:
    ok: bool
    events: int
    head: str  # the last row's hash: note it elsewhere to detect rows cut off the end later
    problem: str | None = None


class AuditLog:
    """One SQLite file; one connection per thread (sqlite3 connections are not shared across threads)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        connection = self._connection()
        connection.execute("PRAGMA journal_mode=WAL")
        connection.executescript(_SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                         check_same_thread=False)
            connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            # WAL + NORMAL: a committed event survives a crash of the gate; only a power cut can
            # lose the last commits (FULL would fsync every request).
            connection.execute("PRAGMA synchronous=NORMAL")
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    def close(self) -> None:
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self._local = threading.local()

    def _write(self) -> _Transaction:
        return _Transaction(self._connection())

    def record(self, event: Event) -> int:
        """Append one event; returns its id."""
        with self._write() as connection:
            return _append(connection, event)

    def record_download(self, event: Event, limit: int) -> DownloadOutcome:
        """Append a download unless the link is revoked (however recently) or `limit` downloads of it are
        already recorded: checked and recorded in one transaction, so parallel requests cannot exceed it."""
        with self._write() as connection:
            revoked = connection.execute("SELECT reason FROM revocations WHERE link_id = ?", (event.link_id,)).fetchone()
            if revoked is not None:
                return DownloadOutcome(False, str(revoked[0]))
            if _count(connection, event.link_id, Kind.DOWNLOADED) >= limit:
                return DownloadOutcome(False)
            _append(connection, event)
            return DownloadOutcome(True)

    def revoke(self, link_id: str, reason: str) -> bool:
        """Withdraw a link for good; False if it already was."""
        with self._write() as connection:
            if connection.execute("SELECT 1 FROM revocations WHERE link_id = ?", (link_id,)).fetchone():
                return False
            connection.execute("INSERT INTO revocations (link_id, reason, revoked_at) VALUES (?, ?, ?)",
                               (link_id, reason, _now()))
            _append(connection, Event(Kind.REVOKED, link_id=link_id, detail=reason))
            return True

    def revocation(self, link_id: str) -> str | None:
        """The reason a link was revoked, or None."""
        row = self._connection().execute("SELECT reason FROM revocations WHERE link_id = ?", (link_id,)).fetchone()
        return None if row is None else str(row[0])

    def downloads(self, link_id: str) -> int:
        return _count(self._connection(), link_id, Kind.DOWNLOADED)

    def seen(self, link_id: str) -> bool:
        return self._connection().execute("SELECT 1 FROM events WHERE link_id = ? AND kind != ? LIMIT 1",
                                          (link_id, Kind.REVOKED.value)).fetchone() is not None

    def events(self, link_id: str | None = None) -> list[Row]:
        return list(self._rows(link_id))

    def _rows(self, link_id: str | None = None) -> Iterator[Row]:
        columns = ", ".join(("id", *_FIELDS, "prev_hash", "hash"))
        if link_id is None:
            cursor = self._connection().execute(f"SELECT {columns} FROM events ORDER BY id")  # noqa: S608
        else:
            cursor = self._connection().execute(f"SELECT {columns} FROM events WHERE link_id = ? ORDER BY id",  # noqa: S608
                                                (link_id,))
        for values in cursor:
            yield Row(*values)

    def verify_chain(self) -> ChainCheck:
        """Recompute every hash; the first row that does not match (or a gap in the ids) is reported."""
        previous, count = GENESIS, 0
        for row in self._rows():
            count += 1
            if row.id != count:
                return ChainCheck(False, count - 1, previous, f"event {count} is missing (next is {row.id})")
            if row.prev_hash != previous:
                return ChainCheck(False, count - 1, previous, f"event {row.id} does not follow event {row.id - 1}")
            values = {field: getattr(row, field) for field in _FIELDS}
            if _hash(previous, row.id, values) != row.hash:
                return ChainCheck(False, count - 1, previous, f"event {row.id} was changed after it was written")
            previous = row.hash
        return ChainCheck(True, count, previous)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT: takes the write lock first, so read-then-write is atomic."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def __enter__(self) -> sqlite3.Connection:
        self.connection.execute("BEGIN IMMEDIATE")
        return self.connection

    def __exit__(self, kind: object, error: object, traceback: object) -> None:
        self.connection.execute("COMMIT" if error is None else "ROLLBACK")


def _append(connection: sqlite3.Connection, event: Event) -> int:
    last = connection.execute("SELECT id, hash FROM events ORDER BY id DESC LIMIT 1").fetchone()
    event_id, previous = (1, GENESIS) if last is None else (last[0] + 1, last[1])
    values = {field: getattr(event, field, None) for field in _FIELDS}
    values["at"] = _now()
    values["kind"] = event.kind.value
    digest = _hash(previous, event_id, values)
    connection.execute(
        f"INSERT INTO events (id, {', '.join(_FIELDS)}, prev_hash, hash) "  # noqa: S608 - fixed column names
        f"VALUES (?, {', '.join('?' for _ in _FIELDS)}, ?, ?)",
        (event_id, *(values[field] for field in _FIELDS), previous, digest),
    )
    return int(event_id)


def _count(connection: sqlite3.Connection, link_id: str | None, kind: Kind) -> int:
    row = connection.execute("SELECT COUNT(*) FROM events WHERE link_id = ? AND kind = ?",
                             (link_id, kind.value)).fetchone()
    return int(row[0])


def _hash(previous: str, event_id: int, values: dict[str, Any]) -> str:
    canonical = json.dumps({"id": event_id, **values}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((previous + canonical).encode("utf-8")).hexdigest()


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_TABLE_COLUMNS = ("id", "at", "kind", "status", "link_id", "recipient", "document", "name", "company", "browser",
                  "ip", "detail")


def format_rows(rows: list[Row], style: str) -> str:
    """The events as a table for people, or CSV / JSON (every field, hashes included) for programs."""
    if style == "json":
        return json.dumps([row.as_dict() for row in rows], indent=2, ensure_ascii=False)
    if style == "csv":
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(Row.__dataclass_fields__), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({key: _csv_safe(value) for key, value in row.as_dict().items()})
        return buffer.getvalue().rstrip("\n")
    cells = [[_cell(getattr(row, column), 40) for column in _TABLE_COLUMNS] for row in rows]
    widths = [max([len(column), *(len(line[index]) for line in cells)]) for index, column in enumerate(_TABLE_COLUMNS)]
    lines = ["  ".join(column.ljust(width) for column, width in zip(_TABLE_COLUMNS, widths, strict=True)).rstrip()]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in cells]
    return "\n".join(lines)


def _cell(value: object, limit: int) -> str:
    # User agents and names come from visitors: no terminal escape sequences reach the screen.
    text = "" if value is None else _CONTROL.sub("\N{REPLACEMENT CHARACTER}", " ".join(str(value).split()))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _csv_safe(value: object) -> object:
    # Names and user agents come from visitors: keep spreadsheets from running them as formulas.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
