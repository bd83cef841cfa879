"""Everything the gate keeps, in one database: the audit chain, requests and grants, the outbox, subscribers."""

from __future__ import annotations

import datetime as dt

from generator.gate import retention, webhooks
from generator.gate.audit import AuditLog, Event, Kind, revocation_in
from generator.gate.db import Database, Location
from generator.gate.grants import AccessStore
from generator.gate.outbox import Outbox
from generator.gate.subscribers import SubscriberStore


class Store:
    """The gate's database and the views on it. The audit key chains the log, authenticates grants and outbox
    rows, and derives subscribers' unsubscribe tokens."""

    def __init__(self, db: Database | Location, key: bytes, *, create: bool = False) -> None:
        self.log = AuditLog(db, key, create=create)  # checks the key and the schema first
        self.db = self.log.db
        self.access = AccessStore(self.db, key)
        self.outbox = Outbox(self.db, key)  # the key authenticates its rows
        self.subscribers = SubscriberStore(self.db, key)

    def revoke_link(self, link_id: str, reason: str, *, actor: str | None = None) -> bool:
        """Withdraw a sales link for good and queue `grant.revoked` for webhooks, in one transaction (the staff
        page and `trustcenter link revoke` alike: no revocation without its event, nor the reverse); False if
        it was revoked already. Needs no content: a link can be revoked where only the database is."""
        with self.db.write() as tx:
            if revocation_in(tx, link_id=link_id) is not None:
                return False
            self.log.append(tx, Event(Kind.REVOKED, link_id=link_id, detail=reason, actor=actor))
            webhooks.emit(self.outbox, tx, "grant.revoked", {"link_id": link_id, "by": actor, "reason": reason})
            return True

    def purge(self, now: dt.datetime | None = None) -> retention.Purged:
        """Delete what the gate no longer keeps (`retention.py`); never the audit chain."""
        return retention.purge(self.db, now)

    def close(self) -> None:
        self.db.close()
