"""Everything the gate keeps, in one database: the audit chain, requests and grants, the outbox, subscribers."""

from __future__ import annotations

from pathlib import Path

from generator.gate.audit import AuditLog
from generator.gate.db import Database
from generator.gate.grants import AccessStore
from generator.gate.outbox import Outbox
from generator.gate.subscribers import SubscriberStore


class Store:
    """The gate's database and the views on it. The audit key chains the log, authenticates grants and outbox
    rows, and derives subscribers' unsubscribe tokens."""

    def __init__(self, db: Database | Path, key: bytes, *, create: bool = False) -> None:
        self.log = AuditLog(db, key, create=create)  # checks the key and the schema first
        self.db = self.log.db
        self.access = AccessStore(self.db, key)
        self.outbox = Outbox(self.db, key)  # the key authenticates its rows
        self.subscribers = SubscriberStore(self.db, key)

    def close(self) -> None:
        self.db.close()
