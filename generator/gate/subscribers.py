"""Subscribers to the change notices, as the database keeps them: double opt-in, one-click unsubscribe.

An address is subscribed once it is confirmed and until it unsubscribes: a row holds the hash of the pending
confirmation token (48 hours) and the hash of the address's unsubscribe token. The unsubscribe token is not
random: it is an HMAC of the subscriber's id under the store's key, so `trustcenter notify`, which runs on the
gate's host with the same key, can put it in every notice without the database ever holding it. Someone who
reads the database (a backup) cannot unsubscribe anyone; someone with a notice can unsubscribe its recipient,
which is what the link is for.

Subscribing again after unsubscribing needs a new confirmation: until it is clicked, the address stays
unsubscribed, so nobody can put someone else's address back on the list.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import hmac
from collections.abc import Sequence

from generator.gate.audit import now_stamp, stamp
from generator.gate.db import Database, Tx
from generator.gate.grants import new_id, new_token, parse_stamp, token_hash

CONFIRM_HOURS = 48
# Confirmation mails to one address: no second one within this many minutes, however often the form is sent
# (a person who lost the first mail waits a little; a script cannot bomb an inbox through the form).
RESEND_MINUTES = 10
MAX_EMAIL_CHARS = 254


def confirm_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/subscribe/confirm/{token}"


def unsubscribe_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/subscribe/unsubscribe/{token}"


@dataclasses.dataclass(frozen=True)
class Subscriber:
    id: str
    email: str
    created: str
    confirm_expires: str | None
    confirmed: str | None
    unsubscribed: str | None

    @property
    def active(self) -> bool:
        """Confirmed and not unsubscribed since: notices go to this address."""
        return self.confirmed is not None and self.unsubscribed is None

    @property
    def confirmation_expired(self) -> bool:
        return self.confirm_expires is not None and parse_stamp(self.confirm_expires) <= dt.datetime.now(dt.UTC)

    def confirmation_sent_within(self, minutes: float) -> bool:
        """Whether the pending confirmation was mailed less than `minutes` ago."""
        if self.confirm_expires is None:
            return False
        sent = parse_stamp(self.confirm_expires) - dt.timedelta(hours=CONFIRM_HOURS)
        return dt.datetime.now(dt.UTC) - sent < dt.timedelta(minutes=minutes)


@dataclasses.dataclass(frozen=True)
class Signup:
    """What asking to subscribe did: the subscriber, and the confirmation token to mail (None: mail nothing)."""

    subscriber: Subscriber
    token: str | None


_COLUMNS = "id, email, created, confirm_expires, confirmed, unsubscribed"


def _subscriber(row: Sequence[object]) -> Subscriber:
    return Subscriber(*(None if value is None else str(value) for value in row))  # type: ignore[arg-type]


class SubscriberStore:
    """The subscribers table. Every method runs in the caller's transaction, so the row, its audit event and the
    mail it sends commit together."""

    def __init__(self, db: Database, key: bytes) -> None:
        self.db = db
        self._key = key

    def unsubscribe_token(self, subscriber_id: str) -> str:
        mac = hmac.new(self._key, b"trustcenter unsubscribe\x00" + subscriber_id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def by_email(self, tx: Tx, email: str) -> Subscriber | None:
        # Addresses are kept in lower case (`forms.normalize_address`): Bob@ and bob@ are one subscriber.
        row = tx.one(f"SELECT {_COLUMNS} FROM subscribers WHERE email = ?", (email.lower(),))  # noqa: S608
        return None if row is None else _subscriber(row)

    def subscribe(self, tx: Tx, email: str, client: str | None) -> Signup:
        """Ask to subscribe `email` from `client` (an IPv4 address or an IPv6 /64, kept in the `ip` column so the
        form can limit what one network asks for): a new row, or a new confirmation for an address not (or no
        longer) subscribed. Nothing for an address already subscribed, or one whose confirmation was mailed
        moments ago."""
        existing = self.by_email(tx, email)
        if existing is not None and (existing.active or existing.confirmation_sent_within(RESEND_MINUTES)):
            return Signup(existing, None)
        token = new_token()
        now = dt.datetime.now(dt.UTC)
        expires = stamp(now + dt.timedelta(hours=CONFIRM_HOURS))
        if existing is None:
            subscriber_id = new_id("sub")
            tx.execute("INSERT INTO subscribers (id, email, created, ip, confirm_hash, confirm_expires, "
                       "unsubscribe_hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (subscriber_id, email, stamp(now), client, token_hash(token), expires,
                        token_hash(self.unsubscribe_token(subscriber_id))))
        else:
            subscriber_id = existing.id
            tx.execute("UPDATE subscribers SET confirm_hash = ?, confirm_expires = ?, ip = ? WHERE id = ?",
                       (token_hash(token), expires, client, subscriber_id))
        return Signup(self._get(tx, subscriber_id), token)

    def recent_confirmations_from(self, tx: Tx, client: str, minutes: float = 60) -> int:
        """How many confirmations asked for from this client (see `subscribe`'s `client`) are pending and were
        mailed in the last `minutes`."""
        since = dt.datetime.now(dt.UTC) + dt.timedelta(hours=CONFIRM_HOURS) - dt.timedelta(minutes=minutes)
        return int(tx.scalar("SELECT COUNT(*) FROM subscribers WHERE ip = ? AND confirm_expires > ?",
                             (client, stamp(since))) or 0)

    def by_confirm_token(self, tx: Tx, token: str) -> Subscriber | None:
        """The subscriber a confirmation token belongs to, expired or not (None: unknown, or used already)."""
        row = tx.one(f"SELECT {_COLUMNS} FROM subscribers WHERE confirm_hash = ?", (token_hash(token),))  # noqa: S608
        return None if row is None else _subscriber(row)

    def confirm(self, tx: Tx, subscriber: Subscriber) -> Subscriber:
        """Spend the pending confirmation (the caller found it by its token, unexpired): the address is subscribed,
        again if it had unsubscribed."""
        tx.execute("UPDATE subscribers SET confirmed = ?, unsubscribed = NULL, confirm_hash = NULL, "
                   "confirm_expires = NULL WHERE id = ?", (now_stamp(), subscriber.id))
        return self._get(tx, subscriber.id)

    def by_unsubscribe_token(self, tx: Tx, token: str) -> Subscriber | None:
        row = tx.one(f"SELECT {_COLUMNS} FROM subscribers WHERE unsubscribe_hash = ?",  # noqa: S608
                     (token_hash(token),))
        return None if row is None else _subscriber(row)

    def unsubscribe(self, tx: Tx, subscriber: Subscriber) -> bool:
        """Unsubscribe; False if the address was not subscribed (already unsubscribed, or never confirmed). A
        pending confirmation is withdrawn too: unsubscribing means no more mail of any kind."""
        tx.execute("UPDATE subscribers SET confirm_hash = NULL, confirm_expires = NULL WHERE id = ?",
                   (subscriber.id,))
        if not subscriber.active:
            return False
        tx.execute("UPDATE subscribers SET unsubscribed = ? WHERE id = ?", (now_stamp(), subscriber.id))
        return True

    def active_subscribers(self, tx: Tx) -> list[Subscriber]:
        """Everyone notices go to, in the order they subscribed."""
        rows = tx.all(f"SELECT {_COLUMNS} FROM subscribers WHERE confirmed IS NOT NULL AND unsubscribed IS NULL "  # noqa: S608
                      "ORDER BY confirmed, id")
        return [_subscriber(row) for row in rows]

    def awaiting_notice(self, tx: Tx, notice_id: str, limit: int) -> list[Subscriber]:
        """Up to `limit` subscribers a notice has not been queued for yet (`notice_sends`), in the order they
        subscribed: `trustcenter notify` takes a list of any size in chunks of these."""
        rows = tx.all(f"SELECT {_COLUMNS} FROM subscribers WHERE confirmed IS NOT NULL AND unsubscribed IS NULL "  # noqa: S608
                      "AND NOT EXISTS (SELECT 1 FROM notice_sends WHERE notice_sends.notice_id = ? AND "
                      "notice_sends.subscriber_id = subscribers.id) ORDER BY confirmed, id LIMIT ?", (notice_id, limit))
        return [_subscriber(row) for row in rows]

    def notice_queued(self, tx: Tx, notice_id: str, subscriber: Subscriber) -> None:
        """Record that a notice's message to `subscriber` is queued (in the transaction that queues it): it is
        never queued for them again, however often a run is repeated or resumed."""
        tx.execute("INSERT INTO notice_sends (notice_id, subscriber_id, queued) VALUES (?, ?, ?)",
                   (notice_id, subscriber.id, now_stamp()))

    def _get(self, tx: Tx, subscriber_id: str) -> Subscriber:
        row = tx.one(f"SELECT {_COLUMNS} FROM subscribers WHERE id = ?", (subscriber_id,))  # noqa: S608
        assert row is not None
        return _subscriber(row)
