"""Everything the gate keeps, in one database: the audit chain, requests and grants, the outbox."""

from __future__ import annotations

from pathlib import Path

from generator.gate.audit import AuditLog
from generator.gate.db import Database
from generator.gate.grants import AccessStore
from generator.gate.outbox import Outbox


class Store:
    """The gate's database and the views on it. The audit key chains the log and authenticates grants."""

    def __init__(self, db: Database | Path, key: bytes, *, create: bool = False) -> None:
        self.log = AuditLog(db, key, create=create)  # checks the key and the schema first
        self.db = self.log.db
        self.access = AccessStore(self.db, key)
        self.outbox = Outbox(self.db)

    def close(self) -> None:
        self.db.close()
