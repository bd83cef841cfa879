"""The outbox: every e-mail and webhook call the gate makes is first a row here, written in the same transaction
as the change it reports, then delivered by a worker (`delivery.py`) with retries and backoff.

So nothing is lost while the mail server or a webhook receiver is down, nothing is sent for a change that was
rolled back, and several gate instances (and CLI commands) can share one outbox. A worker claims one row at a
time, under a random token of its own (`claimed_by`) and for CLAIM_SECONDS (`claimed_until`); it records the
outcome only while the claim is still its own. A worker whose claim lapsed (it hung, the database was slow) and
was taken by another therefore cannot overwrite the other's result, and as each claim covers one delivery, a
slow batch cannot outlive its claim: the rows after a slow one are not claimed yet.

Rows are a way out of the gate, so someone who can write the database but not read the audit key must not be
able to use them: each row carries a MAC (the audit key, in the `mac` column) over its id, kind, target,
subject and body, and a row that does not match is never delivered (a grant's link sent to another address, a
message or a signed webhook event written into the table). Rows carry tokens (confirmation, sign-in and grant
links): a delivered row's body is cleared, so a copy of the database (a backup) holds no link that still works;
and a row whose link dies before it could be delivered (`expires`) fails rather than mail a dead link.

A webhook event is queued once, for every endpoint (target BROADCAST), wherever it happens, whatever that
process knows of the endpoints; a worker that knows them (`fan_out`) makes it one row per endpoint.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import hmac
import json
import secrets
import threading
from collections.abc import Sequence

from generator.gate.audit import now_stamp, stamp
from generator.gate.db import Database, Tx

# Waits between attempts: 30 s, 1, 2, 4, ... minutes, at most an hour; given up after a day and a half.
FIRST_RETRY_SECONDS = 30
MAX_RETRY_SECONDS = 3600
GIVE_UP_AFTER = dt.timedelta(hours=36)
# A claim covers one delivery, and outlasts the longest one: a webhook call is cut at 10 s, an SMTP delivery
# is a handful of steps of at most 20 s each (`delivery.py`). A worker that dies frees its row after this.
CLAIM_SECONDS = 300
BROADCAST = "*"  # the target of a webhook event not yet fanned out to the endpoints that want it
EXPIRED = "expired before delivery: its link no longer works"


class Kind(enum.StrEnum):
    MAIL = "mail"
    WEBHOOK = "webhook"


@dataclasses.dataclass(frozen=True)
class Item:
    id: int
    created: str
    kind: Kind
    target: str  # mail: the recipient's address; webhook: the endpoint's name, or BROADCAST
    subject: str  # mail: the subject; webhook: the event type
    body: bytes  # mail: the whole message (RFC 5322); webhook: the JSON payload
    attempts: int
    next_attempt: str
    expires: str | None  # when what it carries stops working (None: it does not)
    sent: str | None
    failed: str | None
    last_error: str | None
    authentic: bool = False  # its MAC matches: the row is as the gate queued it (only those are delivered)
    claim: str | None = None  # the token of the claim this worker holds on it (set by `claim`)

    @property
    def status(self) -> str:
        return "sent" if self.sent else "failed" if self.failed else "waiting" if self.attempts else "queued"

    @property
    def expired(self) -> bool:
        return self.expires is not None and self.expires <= now_stamp()


_COLUMNS = "id, created, kind, target, subject, body, attempts, next_attempt, expires, sent, failed, last_error, mac"


class Outbox:
    def __init__(self, db: Database, key: bytes) -> None:
        self.db = db
        self._key = key
        self._queued_here = threading.local()  # per thread (a request): whether it queued a row

    def queued_in_this_thread(self) -> bool:
        """Whether this thread queued a row since it last asked, which the asking clears: the gate wakes its
        delivery worker after a request that did (once committed), not after every request, since each wake
        is a look at the outbox in the database."""
        queued = getattr(self._queued_here, "queued", False)
        self._queued_here.queued = False
        return queued

    def enqueue(self, tx: Tx, kind: Kind, target: str, subject: str, body: bytes, *,
                expires: dt.datetime | str | None = None) -> int:
        """Queue a message inside the caller's transaction; it goes out once that commits. `expires`: when the
        link it carries stops working (the row fails rather than go out later)."""
        if isinstance(expires, dt.datetime):
            expires = stamp(expires)
        return self._insert(tx, kind, target, subject, body, now_stamp(), expires)

    def _insert(self, tx: Tx, kind: Kind, target: str, subject: str, body: bytes, created: str,
                expires: str | None) -> int:
        item_id = int(tx.scalar("INSERT INTO outbox (created, kind, target, subject, body, mac, attempts, "
                                "next_attempt, expires) VALUES (?, ?, ?, ?, ?, '', 0, ?, ?) RETURNING id",
                                (created, kind.value, target, subject, body, now_stamp(), expires)))
        # The MAC names the row's id, known only once inserted: a copy of a row under another id (the same mail
        # twice) does not verify.
        tx.execute("UPDATE outbox SET mac = ? WHERE id = ?",
                   (self._mac(item_id, kind.value, target, subject, body), item_id))
        self._queued_here.queued = True
        return item_id

    def _mac(self, item_id: int, kind: str, target: str, subject: str, body: bytes) -> str:
        # Not the times and counts (created, attempts, next_attempt, expires): a writer who changes them can only
        # delay a message or give up on it, as deleting the row would.
        head = json.dumps([item_id, kind, target, subject], separators=(",", ":"), ensure_ascii=False)
        return hmac.new(self._key, b"outbox|" + head.encode("utf-8") + b"|" + body, hashlib.sha256).hexdigest()

    def _item(self, row: Sequence[object], claim: str | None = None) -> Item:
        values = list(row)
        mac = str(values.pop())
        kind = values[2] = Kind(str(values[2]))
        body = values[5] = bytes(values[5])  # type: ignore[call-overload]
        # A delivered row's body is empty: nothing left to authenticate, nothing to deliver.
        authentic = bool(body) and hmac.compare_digest(
            mac, self._mac(int(str(values[0])), kind.value, str(values[3]), str(values[4]), body))
        return Item(*values, authentic=authentic, claim=claim)  # type: ignore[arg-type, misc]

    # ------------------------------------------------ a worker's claims

    def claim(self, kind: Kind, *, broadcast: bool = False) -> Item | None:
        """The next due row of one kind, claimed for CLAIM_SECONDS under a new token, so no other worker takes
        it meanwhile; None if nothing is due. `broadcast`: the webhook events not fanned out yet (only a worker
        that knows the endpoints asks for them), else the rows to deliver."""
        now = dt.datetime.now(dt.UTC)
        target = "target = ?" if broadcast else "target != ?"
        with self.db.write() as tx:
            row = tx.one(f"SELECT {_COLUMNS} FROM outbox WHERE sent IS NULL AND failed IS NULL AND kind = ? "  # noqa: S608
                         f"AND {target} AND next_attempt <= ? AND (claimed_until IS NULL OR claimed_until < ?) "
                         "ORDER BY id LIMIT 1", (kind.value, BROADCAST, stamp(now), stamp(now)))
            if row is None:
                return None
            token = secrets.token_hex(16)
            tx.execute("UPDATE outbox SET claimed_until = ?, claimed_by = ? WHERE id = ?",
                       (stamp(now + dt.timedelta(seconds=CLAIM_SECONDS)), token, row[0]))
        return self._item(row, token)

    def delivered(self, item: Item) -> bool:
        """Mark a row sent, and clear its body: the links it carried must not outlive the delivery in the
        database (the row keeps what `trustcenter outbox` shows: when, what kind, to whom, the subject). False,
        and nothing changed, if the claim on it is no longer this worker's."""
        with self.db.write() as tx:
            cursor = tx.execute("UPDATE outbox SET sent = ?, attempts = attempts + 1, claimed_until = NULL, "
                                "claimed_by = NULL, last_error = NULL, body = ? WHERE id = ? AND claimed_by = ?",
                                (now_stamp(), b"", item.id, item.claim))
            return cursor.rowcount == 1

    def failed_attempt(self, item: Item, error: str, *, permanent: bool = False) -> bool | None:
        """Record a failed delivery; schedule the next attempt, or give up (permanent errors, or too old).
        Returns whether it was given up; None, and nothing changed, if the claim on it is no longer this
        worker's (another worker's outcome stands: the message may well have been delivered)."""
        now = dt.datetime.now(dt.UTC)
        attempts = item.attempts + 1
        created = dt.datetime.fromisoformat(item.created.replace("Z", "+00:00"))
        give_up = permanent or now - created > GIVE_UP_AFTER
        wait = min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** (attempts - 1))
        with self.db.write() as tx:
            cursor = tx.execute("UPDATE outbox SET attempts = ?, last_error = ?, claimed_until = NULL, "
                                "claimed_by = NULL, next_attempt = ?, failed = ? WHERE id = ? AND claimed_by = ?",
                                (attempts, error[:500], stamp(now + dt.timedelta(seconds=wait)),
                                 stamp(now) if give_up else None, item.id, item.claim))
        return give_up if cursor.rowcount == 1 else None

    def expired(self, item: Item) -> bool:
        """Fail a row whose link died before it could be delivered, for good, and clear its body (the link in it
        is dead, and a copy of the database need not hold it). False if the claim is no longer this worker's."""
        with self.db.write() as tx:
            cursor = tx.execute("UPDATE outbox SET attempts = attempts + 1, last_error = ?, failed = ?, body = ?, "
                                "claimed_until = NULL, claimed_by = NULL WHERE id = ? AND claimed_by = ?",
                                (EXPIRED, now_stamp(), b"", item.id, item.claim))
            return cursor.rowcount == 1

    def fan_out(self, item: Item, targets: Sequence[str]) -> list[int] | None:
        """Make a claimed broadcast row one row per target (each with its own id, so its own webhook-id, and its
        own MAC), and mark it done, in one transaction: an event reaches each endpoint once, whichever workers
        look at it. The new rows keep the event's time, so the give-up clock runs from the event. Returns their
        ids; None if the claim is no longer this worker's (another worker fanned it out)."""
        assert item.target == BROADCAST and item.authentic, item.id
        with self.db.write() as tx:
            cursor = tx.execute("UPDATE outbox SET sent = ?, attempts = attempts + 1, claimed_until = NULL, "
                                "claimed_by = NULL, last_error = NULL, body = ? WHERE id = ? AND claimed_by = ?",
                                (now_stamp(), b"", item.id, item.claim))
            if cursor.rowcount != 1:
                return None
            return [self._insert(tx, item.kind, target, item.subject, item.body, item.created, item.expires)
                    for target in targets]

    # ------------------------------------------------ for people

    def retry(self, item_id: int | None = None) -> int:
        """Make failed or waiting rows (all, or one) due now; returns how many. Not those whose link expired:
        they would only fail again. Nor those a worker is delivering now: freeing its claim would let another
        worker send the message a second time, and the first one's outcome would not be recorded."""
        where = ("sent IS NULL AND (expires IS NULL OR expires > ?) AND (claimed_until IS NULL OR claimed_until < ?)"
                 + ("" if item_id is None else " AND id = ?"))
        now = now_stamp()
        with self.db.write() as tx:
            cursor = tx.execute(f"UPDATE outbox SET failed = NULL, next_attempt = ?, claimed_until = NULL, "  # noqa: S608
                                f"claimed_by = NULL WHERE {where}",
                                (now, now, now, *(() if item_id is None else (item_id,))))
            due = int(cursor.rowcount)
        if due:
            self._queued_here.queued = True
        return due

    def items(self, *, pending_only: bool = False, limit: int = 200) -> list[Item]:
        where = " WHERE sent IS NULL" if pending_only else ""
        rows = self.db.read().all(f"SELECT {_COLUMNS} FROM outbox{where} ORDER BY id DESC LIMIT ?",  # noqa: S608
                                  (limit,))
        return [self._item(row) for row in rows]

    def item(self, item_id: int) -> Item | None:
        row = self.db.read().one(f"SELECT {_COLUMNS} FROM outbox WHERE id = ?", (item_id,))  # noqa: S608
        return None if row is None else self._item(row)

    def next_due(self, kind: Kind | None = None, *, broadcast: bool | None = None) -> str | None:
        """When the next row (of one kind, or any) is due (for the worker's sleep), or None if nothing waits.
        `broadcast`: True, only the webhook events not fanned out yet; False, only the rows to deliver."""
        where = ("" if kind is None else " AND kind = ?") + (
            "" if broadcast is None else " AND target = ?" if broadcast else " AND target != ?")
        params = (*(() if kind is None else (kind.value,)), *(() if broadcast is None else (BROADCAST,)))
        value = self.db.read().scalar("SELECT MIN(next_attempt) FROM outbox WHERE sent IS NULL AND "  # noqa: S608
                                      "failed IS NULL" + where, params)
        return None if value is None else str(value)
