"""The outbox: every e-mail and webhook call the gate makes is first a row here, written in the same transaction
as the change it reports, then delivered by a worker (`delivery.py`) with retries and backoff.

So nothing is lost while the mail server or a webhook receiver is down, nothing is sent for a change that was
rolled back, and several gate instances can share one outbox: a worker claims a row for a while
(`claimed_until`) before it delivers it, and only the claim's holder marks it sent.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum

from generator.gate.audit import now_stamp, stamp
from generator.gate.db import Database, Tx

# Waits between attempts: 30 s, 1, 2, 4, ... minutes, at most an hour; given up after a day and a half.
FIRST_RETRY_SECONDS = 30
MAX_RETRY_SECONDS = 3600
GIVE_UP_AFTER = dt.timedelta(hours=36)
CLAIM_SECONDS = 120  # a worker that dies mid-delivery frees its rows after this


class Kind(enum.StrEnum):
    MAIL = "mail"
    WEBHOOK = "webhook"


@dataclasses.dataclass(frozen=True)
class Item:
    id: int
    created: str
    kind: Kind
    target: str  # mail: the recipient's address; webhook: the endpoint's name
    subject: str  # mail: the subject; webhook: the event type
    body: bytes  # mail: the whole message (RFC 5322); webhook: the JSON payload
    attempts: int
    next_attempt: str
    sent: str | None
    failed: str | None
    last_error: str | None

    @property
    def status(self) -> str:
        return "sent" if self.sent else "failed" if self.failed else "waiting" if self.attempts else "queued"


_COLUMNS = "id, created, kind, target, subject, body, attempts, next_attempt, sent, failed, last_error"


def _item(row: tuple[object, ...]) -> Item:
    values = list(row)
    values[2] = Kind(str(values[2]))
    values[5] = bytes(values[5])  # type: ignore[call-overload]
    return Item(*values)  # type: ignore[arg-type]


class Outbox:
    def __init__(self, db: Database) -> None:
        self.db = db

    def enqueue(self, tx: Tx, kind: Kind, target: str, subject: str, body: bytes) -> int:
        """Queue a message inside the caller's transaction; it goes out once that commits."""
        now = now_stamp()
        cursor = tx.execute("INSERT INTO outbox (created, kind, target, subject, body, attempts, next_attempt) "
                            "VALUES (?, ?, ?, ?, ?, 0, ?)", (now, kind.value, target, subject, body, now))
        return int(cursor.lastrowid or 0)

    def claim(self, kind: Kind, limit: int = 20) -> list[Item]:
        """Due rows of one kind, claimed for CLAIM_SECONDS so no other worker delivers them meanwhile."""
        now = dt.datetime.now(dt.UTC)
        with self.db.write() as tx:
            rows = tx.all(f"SELECT {_COLUMNS} FROM outbox WHERE sent IS NULL AND failed IS NULL AND kind = ? "  # noqa: S608
                          "AND next_attempt <= ? AND (claimed_until IS NULL OR claimed_until < ?) ORDER BY id LIMIT ?",
                          (kind.value, stamp(now), stamp(now), limit))
            until = stamp(now + dt.timedelta(seconds=CLAIM_SECONDS))
            for row in rows:
                tx.execute("UPDATE outbox SET claimed_until = ? WHERE id = ?", (until, row[0]))
        return [_item(row) for row in rows]

    def delivered(self, item: Item) -> None:
        with self.db.write() as tx:
            tx.execute("UPDATE outbox SET sent = ?, attempts = attempts + 1, claimed_until = NULL, last_error = NULL "
                       "WHERE id = ?", (now_stamp(), item.id))

    def failed_attempt(self, item: Item, error: str, *, permanent: bool = False) -> bool:
        """Record a failed delivery; schedule the next attempt, or give up (permanent errors, or too old).
        Returns whether it was given up."""
        now = dt.datetime.now(dt.UTC)
        attempts = item.attempts + 1
        created = dt.datetime.fromisoformat(item.created.replace("Z", "+00:00"))
        give_up = permanent or now - created > GIVE_UP_AFTER
        wait = min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** (attempts - 1))
        with self.db.write() as tx:
            tx.execute("UPDATE outbox SET attempts = ?, last_error = ?, claimed_until = NULL, next_attempt = ?, "
                       "failed = ? WHERE id = ?",
                       (attempts, error[:500], stamp(now + dt.timedelta(seconds=wait)),
                        stamp(now) if give_up else None, item.id))
        return give_up

    def retry(self, item_id: int | None = None) -> int:
        """Make failed or waiting rows due now (all, or one); returns how many."""
        where = "sent IS NULL" + ("" if item_id is None else " AND id = ?")
        with self.db.write() as tx:
            cursor = tx.execute(f"UPDATE outbox SET failed = NULL, next_attempt = ?, claimed_until = NULL "  # noqa: S608
                                f"WHERE {where}", (now_stamp(), *(() if item_id is None else (item_id,))))
            return int(cursor.rowcount)

    def items(self, *, pending_only: bool = False, limit: int = 200) -> list[Item]:
        where = " WHERE sent IS NULL" if pending_only else ""
        rows = self.db.read().all(f"SELECT {_COLUMNS} FROM outbox{where} ORDER BY id DESC LIMIT ?",  # noqa: S608
                                  (limit,))
        return [_item(row) for row in rows]

    def next_due(self) -> str | None:
        """When the next row is due (for the worker's sleep), or None if nothing waits."""
        value = self.db.read().scalar("SELECT MIN(next_attempt) FROM outbox WHERE sent IS NULL AND failed IS NULL")
        return None if value is None else str(value)
