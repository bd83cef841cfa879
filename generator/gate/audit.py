"""The gate's audit log: a keyed hash chain of events in the gate's database (`db.py`), from which
revocations and download counts are derived.

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
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from generator.errors import StoreError
from generator.gate.db import Database, Location, Tx, open_database

GENESIS = "0" * 64
# Opens of one link from one address within this window are recorded once: a reload, a mail
# scanner or a script opening a link a thousand times does not write a thousand rows.
OPEN_DEDUP_MINUTES = 10

_FIELDS = ("at", "kind", "status", "link_id", "recipient", "document", "name", "company", "nda_sha256",
           "browser", "ip", "user_agent", "detail")
# Columns added in schema 3: in a row's MAC only when set, so rows written before them still verify.
_LATER_FIELDS = ("request_id", "grant_id", "actor")
_ALL_FIELDS = (*_FIELDS, *_LATER_FIELDS)
OPEN_SAME = ("kind", "link_id", "grant_id", "ip")  # what makes two opens the same, for OPEN_DEDUP_MINUTES
# The indexed columns an event is looked up by when it names them, best first (events_by_link, events_by_grant);
# else the kind and time (events_by_kind).
_LOOKUP = ("link_id", "grant_id")


class Kind(enum.StrEnum):
    OPENED = "opened"  # the NDA page or the download offer was shown (a link's, or a grant's)
    ACCEPTED = "accepted"  # the NDA was accepted in one browser
    DOWNLOADED = "downloaded"
    DENIED = "denied"  # any refusal: 403, 410, 429
    REVOKED = "revoked"  # a link or a grant withdrawn
    MINTED = "minted"  # a sales link signed by `link create`
    REQUESTED = "requested"  # an access request sent from the form (its address not yet confirmed)
    CONFIRMED = "confirmed"  # the requester confirmed the address
    APPROVED = "approved"  # a request approved (by a rule or a staff member): a grant was made
    REJECTED = "rejected"  # a request denied (by a rule or a staff member)
    SIGN_IN_SENT = "sign_in_sent"  # a staff sign-in link mailed
    SIGNED_IN = "signed_in"
    SIGNED_OUT = "signed_out"
    SUBSCRIBED = "subscribed"  # a subscription confirmed
    UNSUBSCRIBED = "unsubscribed"


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
    request_id: str | None = None
    grant_id: str | None = None
    actor: str | None = None  # the staff member (or `cli:<user>`) who acted


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
    request_id: str | None
    grant_id: str | None
    actor: str | None
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
class Standing:
    """What `standing` read about a link, in one statement."""

    revoked: str | None  # why it was revoked, or None
    downloads: int
    opened_recently: bool | None = None  # the open `record_open` would skip is recorded (None: not asked)


@dataclasses.dataclass(frozen=True)
class ChainCheck:
    ok: bool
    events: int
    head: str  # the last row's MAC: `checkpoint` keeps it elsewhere to detect rows cut off the end later
    problem: str | None = None


def key_id(key: bytes) -> str:
    """A name for the audit key that reveals nothing of it, stored in the database to catch a wrong key."""
    return hmac.new(key, b"trustcenter audit key id", hashlib.sha256).hexdigest()[:16]


class AuditLog:
    """The audit chain in the gate's database (`db.Database`): appends, and what is derived from them.

    Made from a path, it opens the database itself (the CLI, tests); made from a Database, it shares it with
    the gate's other stores.
    """

    def __init__(self, db: Database | Location, key: bytes, *, create: bool = False) -> None:
        self.db = db if isinstance(db, Database) else open_database(db, create=create)
        self.path = self.db.path
        self._key = key
        self._check_key()
        problem = self.db.structure_problem()
        if problem is not None:
            self.db.close()
            raise StoreError(f"{self.path} cannot be trusted: {problem}; keep the file for investigation and "
                             "restore the last backup that verifies")

    def _check_key(self) -> None:
        with self.db.write() as tx:
            stored = tx.scalar("SELECT value FROM meta WHERE key = 'key_id'")
            if stored is None:
                tx.execute("INSERT INTO meta (key, value) VALUES ('key_id', ?)", (key_id(self._key),))
                stored = key_id(self._key)
        if stored != key_id(self._key):
            self.db.close()
            raise StoreError(f"the audit key does not match {self.path} (it was created with key "
                             f"{stored}, this is {key_id(self._key)}); use the key it was created "
                             "with (TRUSTCENTER_AUDIT_KEY or audit.key in the state folder)")

    def structure_problem(self) -> str | None:
        return self.db.structure_problem()

    def close(self) -> None:
        self.db.close()

    def check_same_file(self) -> None:
        self.db.check_same_file()

    def health(self) -> None:
        self.db.health()

    def record(self, event: Event) -> int:
        """Append one event; returns its id."""
        with self.db.write() as tx:
            return self.append(tx, event)

    def record_open(self, event: Event, *, recent: bool | None = None) -> bool:
        """Append an OPENED event unless the same link (or grant) was opened from the same address within
        OPEN_DEDUP_MINUTES; returns whether it was recorded. `recent`: what `standing` read for this event."""
        return self.record_unless_recent(event, OPEN_SAME, recent=recent)

    def record_unless_recent(self, event: Event, same: tuple[str, ...], *, recent: bool | None = None) -> bool:
        """Append `event` unless one with the same values in the `same` columns was recorded within
        OPEN_DEDUP_MINUTES (a reload, a mail scanner, a script repeating one request a thousand times).

        Looked for first without the write lock: the log is append-only, so a row seen is there for good, and a
        repeat (most of what this is called for) ends with one read, in parallel with other requests, instead of
        queueing every instance's requests for the write lock. `recent`, when the caller has already looked in this
        request (`standing`): True, it was seen (nothing to do); False, it was not (straight to the lock)."""
        if recent:
            return False
        query, params = _recent(event, same)
        if recent is None and self.db.read().one(query, params) is not None:
            return False
        with self.db.write() as tx:
            # Again under the lock, where the answer holds until the commit (another request may have just recorded
            # it); read together with the chain's head, which the append needs: one statement rather than two.
            last = tx.one(f"SELECT id, hash, ({query}) FROM events ORDER BY id DESC LIMIT 1", params)  # noqa: S608
            if last is not None and last[2] is not None:
                return False
            self._append_after(tx, event, None if last is None else (int(last[0]), str(last[1])))
            return True

    def record_download(self, event: Event, limit: int | None,
                        also: Callable[[Tx], None] | None = None) -> DownloadOutcome:
        """Append a download unless its link or grant is revoked (however recently) or `limit` downloads of the
        link are already recorded: checked and recorded in one transaction, so parallel requests cannot exceed
        it. `also` runs in that transaction when the download is recorded (the webhook event it sends)."""
        with self.db.write() as tx:
            reason = (revocation_in(tx, grant_id=event.grant_id) if event.grant_id is not None
                      else revocation_in(tx, link_id=event.link_id))
            if reason is not None:
                return DownloadOutcome(False, reason)
            if limit is not None and _count(tx, event.link_id, Kind.DOWNLOADED) >= limit:
                return DownloadOutcome(False)
            self.append(tx, event)
            if also is not None:
                also(tx)
            return DownloadOutcome(True)

    def revoke(self, link_id: str, reason: str, actor: str | None = None) -> bool:
        """Withdraw a link for good; False if it already was."""
        with self.db.write() as tx:
            if revocation_in(tx, link_id=link_id) is not None:
                return False
            self.append(tx, Event(Kind.REVOKED, link_id=link_id, detail=reason, actor=actor))
            return True

    def revocation(self, link_id: str) -> str | None:
        """The reason a link was revoked, or None."""
        return revocation_in(self.db.read(), link_id=link_id)

    def downloads(self, link_id: str) -> int:
        return _count(self.db.read(), link_id, Kind.DOWNLOADED)

    def standing(self, link_id: str, opening: Event | None = None) -> Standing:
        """Why a link was revoked (None if it was not) and how often it was downloaded: what every request with the
        link checks; with `opening` (the OPENED event the request would record), whether `record_open` would find it
        recorded already. One statement: one round trip to a server, one snapshot."""
        columns = ["(SELECT COALESCE(detail, '') FROM events WHERE link_id = ? AND kind = ? ORDER BY id LIMIT 1)",
                   "(SELECT COUNT(*) FROM events WHERE link_id = ? AND kind = ?)"]
        params: list[Any] = [link_id, Kind.REVOKED.value, link_id, Kind.DOWNLOADED.value]
        if opening is not None:
            query, recent = _recent(opening, OPEN_SAME)
            columns.append(f"({query})")
            params.extend(recent)
        row = self.db.read().one(f"SELECT {', '.join(columns)}", params)
        assert row is not None  # a SELECT without FROM gives one row
        return Standing(None if row[0] is None else str(row[0]), int(row[1]),
                        None if opening is None else row[2] is not None)

    def seen(self, link_id: str) -> bool:
        return self.db.read().one("SELECT 1 FROM events WHERE link_id = ? AND kind NOT IN (?, ?) LIMIT 1",
                                  (link_id, Kind.REVOKED.value, Kind.MINTED.value)) is not None

    def events(self, link_id: str | None = None, *, request_id: str | None = None, grant_id: str | None = None,
               actor: str | None = None, kinds: Sequence[Kind] = ()) -> list[Row]:
        """The events, oldest first; each filter given narrows them."""
        return list(self._rows(link_id=link_id, request_id=request_id, grant_id=grant_id, actor=actor, kinds=kinds))

    def recent(self, limit: int) -> list[Row]:
        """The last `limit` events, newest first (the staff page's recent activity)."""
        columns = ", ".join(("id", *_ALL_FIELDS, "prev_hash", "hash"))
        rows = self.db.read().all(f"SELECT {columns} FROM events ORDER BY id DESC LIMIT ?", (limit,))  # noqa: S608
        return [Row(*values) for values in rows]

    def _rows(self, *, link_id: str | None = None, request_id: str | None = None, grant_id: str | None = None,
              actor: str | None = None, kinds: Sequence[Kind] = ()) -> Iterator[Row]:
        columns = ", ".join(("id", *_ALL_FIELDS, "prev_hash", "hash"))
        where: list[str] = []
        params: list[Any] = []
        for column, value in (("link_id", link_id), ("request_id", request_id), ("grant_id", grant_id)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if actor is not None:
            # The staff member as /staff records them, or a CLI command run `--as` them (`cli:<user> as <actor>`).
            escaped = actor.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            where.append("(actor = ? OR actor LIKE ? ESCAPE '\\')")
            params.extend((actor, f"cli:% as {escaped}"))
        if kinds:
            where.append(f"kind IN ({', '.join('?' for _ in kinds)})")
            params.extend(kind.value for kind in kinds)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        for values in self.db.read().execute(f"SELECT {columns} FROM events{clause} ORDER BY id",  # noqa: S608
                                             params):
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
            values = {field: getattr(row, field) for field in _ALL_FIELDS}
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

    def append(self, tx: Tx, event: Event) -> int:
        """Append `event` inside the caller's write transaction (with the change it records, in one commit)."""
        last = tx.one("SELECT id, hash FROM events ORDER BY id DESC LIMIT 1")
        return self._append_after(tx, event, None if last is None else (int(last[0]), str(last[1])))

    def _append_after(self, tx: Tx, event: Event, last: tuple[int, str] | None) -> int:
        """Append `event` after `last`, the chain's head (id, MAC) as read in this write transaction (None: empty)."""
        event_id, previous = (1, GENESIS) if last is None else (last[0] + 1, last[1])
        values = {field: getattr(event, field, None) for field in _ALL_FIELDS}
        values["at"] = stamp(dt.datetime.now(dt.UTC))
        values["kind"] = event.kind.value
        cursor = tx.execute(
            f"INSERT INTO events (id, {', '.join(_ALL_FIELDS)}, prev_hash, hash) "  # noqa: S608 - fixed column names
            f"VALUES (?, {', '.join('?' for _ in _ALL_FIELDS)}, ?, ?)",
            (event_id, *(values[field] for field in _ALL_FIELDS), previous, self._mac(previous, event_id, values)),
        )
        if cursor.rowcount != 1:  # a trigger that silently drops the row (RAISE(IGNORE))
            raise StoreError(f"{self.path} did not record an event it was given; the database cannot be trusted")
        return int(event_id)

    def _mac(self, previous: str, event_id: int, values: dict[str, Any]) -> str:
        # Columns added after schema 2 count only when set: a row written before them keeps its MAC.
        canonical_values = {field: value for field, value in values.items()
                            if field not in _LATER_FIELDS or value is not None}
        canonical = json.dumps({"id": event_id, **canonical_values}, sort_keys=True, separators=(",", ":"),
                               ensure_ascii=False)
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
        at = stamp(dt.datetime.now(dt.UTC))
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


def revocation_in(tx: Tx, *, link_id: str | None = None, grant_id: str | None = None) -> str | None:
    """Why a link (or a grant) was revoked, or None."""
    column, value = ("grant_id", grant_id) if grant_id is not None else ("link_id", link_id)
    row = tx.one(f"SELECT detail FROM events WHERE {column} = ? AND kind = ? ORDER BY id LIMIT 1",  # noqa: S608
                 (value, Kind.REVOKED.value))
    return None if row is None else str(row[0] or "")


def _recent(event: Event, same: tuple[str, ...]) -> tuple[str, tuple[Any, ...]]:
    """The query for an event with the same values in the `same` columns within OPEN_DEDUP_MINUTES, and its
    parameters.

    A value is compared with `=`, a missing one with `IS NULL`: what `IS NOT DISTINCT FROM` means, in a form
    indexes serve (PostgreSQL's serve no IS NOT DISTINCT FROM: the check read the whole table). And only the column
    the rows are best found by stays indexable: the link, else the grant, else the kind and the time; the others
    are compared as `(column || '')` (the same text, or NULL for NULL), which no index serves. SQLite has no
    statistics to choose with, and otherwise takes `grant_id IS NULL` or the kind and time: every open of every
    link within the window, read for each request."""
    values = {**{field: getattr(event, field, None) for field in _ALL_FIELDS}, "kind": event.kind.value}
    key = next((column for column in _LOOKUP if column in same and values[column] is not None), None)
    conditions: list[str] = []
    params: list[Any] = []
    for column in same:
        if column not in _ALL_FIELDS:
            raise ValueError(f"not an event column: {column}")
        value = values[column]
        named = column if column in (key, "kind") or column not in (*_LOOKUP, "at") else f"({column} || '')"
        if value is None:
            conditions.append(f"{named} IS NULL")
        else:
            conditions.append(f"{named} = ?")
            params.append(value)
    since = stamp(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=OPEN_DEDUP_MINUTES))
    conditions.append("at >= ?" if key is None else "(at || '') >= ?")
    params.append(since)
    return f"SELECT 1 FROM events WHERE {' AND '.join(conditions)} LIMIT 1", tuple(params)  # noqa: S608


def _count(tx: Tx, link_id: str | None, kind: Kind) -> int:
    return int(tx.scalar("SELECT COUNT(*) FROM events WHERE link_id = ? AND kind = ?", (link_id, kind.value)))


def stamp(moment: dt.datetime) -> str:
    """A time as the database stores it: UTC, ISO 8601, microseconds, so that text order is time order."""
    utc = moment.astimezone(dt.UTC)
    if utc.year < 1000:  # the one place the two differ: there, strftime's %Y is not zero-padded
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    # The text strftime("%Y-%m-%dT%H:%M:%S.%fZ") gives (it is in every row's MAC), in a sixth of the time.
    return utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def now_stamp() -> str:
    return stamp(dt.datetime.now(dt.UTC))


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_TABLE_COLUMNS = ("id", "at", "kind", "status", "link_id", "grant_id", "request_id", "recipient", "document", "name",
                  "company", "actor", "ip", "detail")


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
    return table(_TABLE_COLUMNS, [[getattr(row, column) for column in _TABLE_COLUMNS] for row in rows])


def table(columns: Sequence[str], rows: Sequence[Sequence[object]], limit: int | Sequence[int] = 40) -> str:
    """Rows as an aligned table for a terminal, each cell on one line, bounded (`limit` characters, or one limit
    per column) and without control characters: the one table printer of the CLI (`audit`, `outbox`,
    `requests list`, `grants list`, `link list`: names, companies and user agents come from visitors)."""
    limits = [limit] * len(columns) if isinstance(limit, int) else list(limit)
    cells = [[_cell(value, each) for value, each in zip(row, limits, strict=True)] for row in rows]
    widths = [max([len(column), *(len(line[index]) for line in cells)]) for index, column in enumerate(columns)]
    lines = ["  ".join(column.ljust(width) for column, width in zip(columns, widths, strict=True)).rstrip()]
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
