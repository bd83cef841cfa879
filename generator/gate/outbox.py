"""The outbox: every e-mail and webhook call the gate makes is first a row here, written in the same transaction
as the change it reports, then delivered by a worker (`delivery.py`) with retries and backoff.

So nothing is lost while the mail server or a webhook receiver is down, nothing is sent for a change that was
rolled back, and several gate instances can share one outbox: a worker claims a row for a while
(`claimed_until`) before it delivers it, and only the claim's holder marks it sent.

Rows are a way out of the gate, so someone who can write the database but not read the audit key must not be
able to use them: each row carries a MAC (the audit key) over its id, kind, target, subject and body, and
a row that does not match is never delivered (a grant's link sent to another address, a message or a signed
webhook event written into the table). The MAC is kept in front of the body (`MAC_PREFIX`, 64 hex digits, a
line feed) until the schema has a column for it. And rows carry tokens (confirmation, sign-in and grant links):
a delivered row's body is cleared, so a copy of the database (a backup) holds no link that still works.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import hmac
import json

from generator.gate.audit import now_stamp, stamp
from generator.gate.db import Database, Tx

# Waits between attempts: 30 s, 1, 2, 4, ... minutes, at most an hour; given up after a day and a half.
FIRST_RETRY_SECONDS = 30
MAX_RETRY_SECONDS = 3600
GIVE_UP_AFTER = dt.timedelta(hours=36)
CLAIM_SECONDS = 120  # a worker that dies mid-delivery frees its rows after this
MAC_PREFIX = b"mac1:"
_MAC_LENGTH = len(MAC_PREFIX) + 64 + 1  # the prefix, the MAC in hex, a line feed


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
    authentic: bool = False  # its MAC matches: the row is as the gate queued it (only those are delivered)

    @property
    def status(self) -> str:
        return "sent" if self.sent else "failed" if self.failed else "waiting" if self.attempts else "queued"


_COLUMNS = "id, created, kind, target, subject, body, attempts, next_attempt, sent, failed, last_error"


class Outbox:
    def __init__(self, db: Database, key: bytes) -> None:
        self.db = db
        self._key = key

    def enqueue(self, tx: Tx, kind: Kind, target: str, subject: str, body: bytes) -> int:
        """Queue a message inside the caller's transaction; it goes out once that commits."""
        now = now_stamp()
        cursor = tx.execute("INSERT INTO outbox (created, kind, target, subject, body, attempts, next_attempt) "
                            "VALUES (?, ?, ?, ?, ?, 0, ?)", (now, kind.value, target, subject, b"", now))
        item_id = int(cursor.lastrowid or 0)
        # The MAC names the row's id: a copy of a row under another id (the same mail twice) does not verify.
        mac = self._mac(item_id, kind.value, target, subject, body)
        tx.execute("UPDATE outbox SET body = ? WHERE id = ?", (MAC_PREFIX + mac.encode() + b"\n" + body, item_id))
        return item_id

    def _mac(self, item_id: int, kind: str, target: str, subject: str, body: bytes) -> str:
        # Not the times and counts (created, attempts, next_attempt): a writer who changes them can only delay a
        # message or give up on it, as deleting the row would.
        head = json.dumps([item_id, kind, target, subject], separators=(",", ":"), ensure_ascii=False)
        return hmac.new(self._key, b"outbox|" + head.encode("utf-8") + b"|" + body, hashlib.sha256).hexdigest()

    def _item(self, row: tuple[object, ...]) -> Item:
        values = list(row)
        kind = values[2] = Kind(str(values[2]))
        stored = bytes(values[5])  # type: ignore[call-overload]
        body, authentic = stored, False  # a delivered row's body is empty: nothing left to authenticate
        if stored.startswith(MAC_PREFIX) and stored[_MAC_LENGTH - 1:_MAC_LENGTH] == b"\n":
            mac, body = stored[len(MAC_PREFIX):_MAC_LENGTH - 1], stored[_MAC_LENGTH:]
            expected = self._mac(int(str(values[0])), kind.value, str(values[3]), str(values[4]), body)
            authentic = hmac.compare_digest(mac, expected.encode("ascii"))
        values[5] = body
        return Item(*values, authentic=authentic)  # type: ignore[arg-type, misc]

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
        return [self._item(row) for row in rows]

    def delivered(self, item: Item) -> None:
        """Mark a row sent, and clear its body: the links it carried must not outlive the delivery in the
        database (the row keeps what `trustcenter outbox` shows: when, what kind, to whom, the subject)."""
        with self.db.write() as tx:
            tx.execute("UPDATE outbox SET sent = ?, attempts = attempts + 1, claimed_until = NULL, last_error = NULL, "
                       "body = X'' WHERE id = ?", (now_stamp(), item.id))

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
        return [self._item(row) for row in rows]

    def item(self, item_id: int) -> Item | None:
        row = self.db.read().one(f"SELECT {_COLUMNS} FROM outbox WHERE id = ?", (item_id,))  # noqa: S608
        return None if row is None else self._item(row)

    def next_due(self, kind: Kind | None = None) -> str | None:
        """When the next row (of one kind, or any) is due (for the worker's sleep), or None if nothing waits."""
        where = "" if kind is None else " AND kind = ?"
        value = self.db.read().scalar("SELECT MIN(next_attempt) FROM outbox WHERE sent IS NULL AND "  # noqa: S608
                                      "failed IS NULL" + where, () if kind is None else (kind.value,))
        return None if value is None else str(value)
