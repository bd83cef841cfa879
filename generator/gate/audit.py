"""The gate's audit store in SQLite: a keyed hash chain of events, from which revocations and download
counts are derived.

Each event is one short `BEGIN IMMEDIATE` transaction, so concurrent requests queue for the write
lock (busy_timeout) instead of losing rows, and the chain stays linear. Each row stores
HMAC-SHA256(key, previous MAC + canonical row): the key lives outside the database (environment or
a 0600 file in the state folder), so someone who can write the file but not read the key cannot
edit, delete or re-chain rows unseen. Revocations and download counts are not kept in tables of
their own: they are the REVOKED and DOWNLOADED events, so they cannot disagree with the chain.
A chain cannot prove its own tail was not cut off: `checkpoint` writes the head, keyed, to a file
the operator keeps elsewhere, and `verify_chain` checks the chain against it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import hmac
import json
import os
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from generator.errors import StoreError

DB_FILE = "gate.sqlite3"
GENESIS = "0" * 64
BUSY_TIMEOUT_MS = 10_000
SCHEMA_VERSION = "2"  # 1: trustcenter 0.1, an unkeyed chain and a revocations table
# Opens of one link from one address within this window are recorded once: a reload, a mail
# scanner or a script opening a link a thousand times does not write a thousand rows.
OPEN_DEDUP_MINUTES = 10

_SCHEMA = """
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

_FIELDS = ("at", "kind", "status", "link_id", "recipient", "document", "name", "company", "nda_sha256",
           "browser", "ip", "user_agent", "detail")


def _schema_of(connection: sqlite3.Connection) -> set[tuple[str, str, str]]:
    return {(kind, name, " ".join(str(sql).split())) for kind, name, sql in connection.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")}


def _expected_schema() -> set[tuple[str, str, str]]:
    with sqlite3.connect(":memory:") as connection:
        connection.executescript(_SCHEMA)
        return _schema_of(connection)


# Exactly these tables, index and triggers: an extra trigger (one that silently drops REVOKED or DOWNLOADED
# rows) or a changed index (one that hides a link's rows from the lookups) makes the database untrusted.
EXPECTED_SCHEMA = _expected_schema()


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
    """An event as stored: with its id, time and place in the chain (`hash` is the row's keyed MAC)."""

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
class DownloadOutcome:
    """What `record_download` decided, in one transaction with the checks."""

    counted: bool  # the download was recorded and may be served
    revoked_reason: str | None = None  # set when the link was revoked (not counted)


@dataclasses.dataclass(frozen=True)
class ChainCheck:
    ok: bool
    events: int
    head: str  # the last row's MAC: `checkpoint` keeps it elsewhere to detect rows cut off the end later
    problem: str | None = None


def key_id(key: bytes) -> str:
    """A name for the audit key that reveals nothing of it, stored in the database to catch a wrong key."""
    return hmac.new(key, b"trustcenter audit key id", hashlib.sha256).hexdigest()[:16]


def missing(path: Path) -> StoreError:
    return StoreError(f"there is no gate database at {path}; check --db, or create one with `trustcenter gate "
                      "--init` (a new database starts with no revocations)")


class AuditLog:
    """One SQLite file; one connection per thread (sqlite3 connections are not shared across threads).

    The file must exist unless `create` is set: a wrong path or a deleted database must not silently
    start a new, empty log (revocations and download counts would be lost with it).
    """

    def __init__(self, path: Path, key: bytes, *, create: bool = False) -> None:
        self.path = path
        self._key = key
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
        self._prepare(connection, create)

    def _prepare(self, connection: sqlite3.Connection, create: bool) -> None:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "events" in tables and "meta" not in tables:
            raise StoreError(f"{self.path} was written by trustcenter 0.1, whose audit chain had no key; keep it as "
                             "the record of that time and start a new database with `trustcenter gate --init`")
        if not tables and not create:
            raise StoreError(f"{self.path} is not a gate database; check --db")
        connection.executescript(_SCHEMA)  # IF NOT EXISTS throughout: a no-op on an existing database
        with _Transaction(connection):
            stored = dict(connection.execute("SELECT key, value FROM meta").fetchall())
            if not stored:
                connection.executemany("INSERT INTO meta (key, value) VALUES (?, ?)",
                                       [("schema_version", SCHEMA_VERSION), ("key_id", key_id(self._key))])
                stored = {"schema_version": SCHEMA_VERSION, "key_id": key_id(self._key)}
        if stored.get("key_id") != key_id(self._key):
            raise StoreError(f"the audit key does not match {self.path} (it was created with key "
                             f"{stored.get('key_id')}, this is {key_id(self._key)}); use the key it was created "
                             "with (TRUSTCENTER_AUDIT_KEY or audit.key in the state folder)")
        problem = self.structure_problem()
        if problem is not None:
            raise StoreError(f"{self.path} cannot be trusted: {problem}; keep the file for investigation and "
                             "restore the last backup that verifies")

    def structure_problem(self) -> str | None:
        """Why the database's structure cannot be trusted (objects added or changed, a damaged file), or None."""
        connection = self._connection()
        found = _schema_of(connection)
        if found != EXPECTED_SCHEMA:
            odd = sorted(name for _, name, _ in found ^ EXPECTED_SCHEMA)
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
            with _Transaction(self._connection()) as connection:
                connection.execute("INSERT INTO meta (key, value) VALUES ('health', '') "
                                   "ON CONFLICT (key) DO UPDATE SET value = excluded.value")
        except sqlite3.Error as exc:
            raise StoreError(f"the gate database cannot be written ({exc})") from None

    def record(self, event: Event) -> int:
        """Append one event; returns its id."""
        with self._write() as connection:
            return self._append(connection, event)

    def record_open(self, event: Event) -> bool:
        """Append an OPENED event unless the same link was opened from the same address within
        OPEN_DEDUP_MINUTES; returns whether it was recorded."""
        return self.record_unless_recent(event, ("kind", "link_id", "ip"))

    def record_unless_recent(self, event: Event, same: tuple[str, ...]) -> bool:
        """Append `event` unless one with the same values in the `same` columns was recorded within
        OPEN_DEDUP_MINUTES (a reload, a mail scanner, a script repeating one request a thousand times)."""
        since = _stamp(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=OPEN_DEDUP_MINUTES))
        values = {**{field: getattr(event, field, None) for field in _FIELDS}, "kind": event.kind.value}
        where = " AND ".join(f"{column} IS ?" for column in same)
        with self._write() as connection:
            seen = connection.execute(f"SELECT 1 FROM events WHERE {where} AND at >= ? LIMIT 1",  # noqa: S608
                                      (*(values[column] for column in same), since)).fetchone()
            if seen is not None:
                return False
            self._append(connection, event)
            return True

    def record_download(self, event: Event, limit: int) -> DownloadOutcome:
        """Append a download unless the link is revoked (however recently) or `limit` downloads of it are
        already recorded: checked and recorded in one transaction, so parallel requests cannot exceed it."""
        with self._write() as connection:
            reason = _revocation(connection, event.link_id)
            if reason is not None:
                return DownloadOutcome(False, reason)
            if _count(connection, event.link_id, Kind.DOWNLOADED) >= limit:
                return DownloadOutcome(False)
            self._append(connection, event)
            return DownloadOutcome(True)

    def revoke(self, link_id: str, reason: str) -> bool:
        """Withdraw a link for good; False if it already was."""
        with self._write() as connection:
            if _revocation(connection, link_id) is not None:
                return False
            self._append(connection, Event(Kind.REVOKED, link_id=link_id, detail=reason))
            return True

    def revocation(self, link_id: str) -> str | None:
        """The reason a link was revoked, or None."""
        return _revocation(self._connection(), link_id)

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

    def verify_chain(self, checkpoints: Sequence[Checkpoint] = ()) -> ChainCheck:
        """Check the database's structure, recompute every MAC (the first row that does not match, or a gap in
        the ids, is reported), and every checkpoint must name a head the chain still has at that length."""
        structure = self.structure_problem()
        if structure is not None:
            return ChainCheck(False, 0, GENESIS, structure)
        pinned = {checkpoint.events: checkpoint for checkpoint in checkpoints}
        for given in checkpoints:
            if not given.authentic(self._key):
                return ChainCheck(False, 0, GENESIS, f"the checkpoint of {given.at} was not written with "
                                                     "this database's key")
        previous, count = GENESIS, 0
        for row in self._rows():
            count += 1
            if row.id != count:
                return ChainCheck(False, count - 1, previous, f"event {count} is missing (next is {row.id})")
            if row.prev_hash != previous:
                return ChainCheck(False, count - 1, previous, f"event {row.id} does not follow event {row.id - 1}")
            values = {field: getattr(row, field) for field in _FIELDS}
            if not hmac.compare_digest(self._mac(previous, row.id, values), row.hash):
                return ChainCheck(False, count - 1, previous, f"event {row.id} was changed after it was written")
            previous = row.hash
            pin = pinned.get(count)
            if pin is not None and not hmac.compare_digest(pin.head, previous):
                return ChainCheck(False, count, previous, f"the chain differs from the checkpoint of {pin.at} "
                                                          f"at event {count}: events were rewritten")
        longest = max(pinned, default=0)
        if longest > count:
            return ChainCheck(False, count, previous, f"the checkpoint of {pinned[longest].at} saw {longest} events; "
                                                      f"only {count} are left: events were cut off the end")
        return ChainCheck(True, count, previous)

    def checkpoint(self) -> Checkpoint:
        """The verified head of the chain now, keyed: a line to keep somewhere the gate's host cannot change."""
        check = self.verify_chain()
        if not check.ok:
            raise StoreError(f"the audit log does not verify ({check.problem}); no checkpoint was written")
        return Checkpoint.make(self._key, check.events, check.head)

    def _append(self, connection: sqlite3.Connection, event: Event) -> int:
        last = connection.execute("SELECT id, hash FROM events ORDER BY id DESC LIMIT 1").fetchone()
        event_id, previous = (1, GENESIS) if last is None else (last[0] + 1, last[1])
        values = {field: getattr(event, field, None) for field in _FIELDS}
        values["at"] = _stamp(dt.datetime.now(dt.UTC))
        values["kind"] = event.kind.value
        cursor = connection.execute(
            f"INSERT INTO events (id, {', '.join(_FIELDS)}, prev_hash, hash) "  # noqa: S608 - fixed column names
            f"VALUES (?, {', '.join('?' for _ in _FIELDS)}, ?, ?)",
            (event_id, *(values[field] for field in _FIELDS), previous, self._mac(previous, event_id, values)),
        )
        if cursor.rowcount != 1:  # a trigger that silently drops the row (RAISE(IGNORE))
            raise StoreError(f"{self.path} did not record an event it was given; the database cannot be trusted")
        return int(event_id)

    def _mac(self, previous: str, event_id: int, values: dict[str, Any]) -> str:
        canonical = json.dumps({"id": event_id, **values}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hmac.new(self._key, (previous + canonical).encode("utf-8"), hashlib.sha256).hexdigest()


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """The chain's length and head at a moment, with a MAC so a forged line is noticed."""

    at: str
    events: int
    head: str
    mac: str

    @classmethod
    def make(cls, key: bytes, events: int, head: str) -> Checkpoint:
        at = _stamp(dt.datetime.now(dt.UTC))
        return cls(at, events, head, _checkpoint_mac(key, at, events, head))

    def authentic(self, key: bytes) -> bool:
        return hmac.compare_digest(self.mac, _checkpoint_mac(key, self.at, self.events, self.head))

    def line(self) -> str:
        return json.dumps(dataclasses.asdict(self), separators=(",", ":"))

    @classmethod
    def read_file(cls, path: Path) -> list[Checkpoint]:
        found = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                found.append(cls(str(data["at"]), int(data["events"]), str(data["head"]), str(data["mac"])))
            except (ValueError, KeyError, TypeError):
                raise StoreError(f"{path}:{number}: not a checkpoint line written by `trustcenter audit "
                                 "--checkpoint`") from None
        return found


def _checkpoint_mac(key: bytes, at: str, events: int, head: str) -> str:
    return hmac.new(key, f"checkpoint|{at}|{events}|{head}".encode(), hashlib.sha256).hexdigest()


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT: takes the write lock first, so read-then-write is atomic."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def __enter__(self) -> sqlite3.Connection:
        self.connection.execute("BEGIN IMMEDIATE")
        return self.connection

    def __exit__(self, kind: object, error: object, traceback: object) -> None:
        self.connection.execute("COMMIT" if error is None else "ROLLBACK")


def _identity(path: Path) -> tuple[int, int]:
    info = path.stat()
    return (info.st_dev, info.st_ino)


def _revocation(connection: sqlite3.Connection, link_id: str | None) -> str | None:
    row = connection.execute("SELECT detail FROM events WHERE link_id = ? AND kind = ? ORDER BY id LIMIT 1",
                             (link_id, Kind.REVOKED.value)).fetchone()
    return None if row is None else str(row[0] or "")


def _count(connection: sqlite3.Connection, link_id: str | None, kind: Kind) -> int:
    row = connection.execute("SELECT COUNT(*) FROM events WHERE link_id = ? AND kind = ?",
                             (link_id, kind.value)).fetchone()
    return int(row[0])


def _stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_TABLE_COLUMNS = ("id", "at", "kind", "status", "link_id", "recipient", "document", "name", "company", "browser",
                  "ip", "detail")


def format_rows(rows: list[Row], style: str) -> str:
    """The events as a table for people, or CSV / JSON (every field, MACs included) for programs."""
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
