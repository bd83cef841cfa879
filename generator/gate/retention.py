"""How long the gate keeps what it no longer needs: rows that only ever served a moment (a sent message, an
unconfirmed request, a finished sign-in) are deleted once they are old enough that nobody will ask about them.

The audit chain is never purged: it is the record, and each event keeps who, what and when without the rows it
names. What goes, and when:

- outbox rows sent or failed more than 30 days ago (`trustcenter outbox` shows a month of history);
- requests never confirmed, 30 days after their confirmation link expired (an address someone else typed);
- staff sign-in links and sessions, a day after they were used, ended or expired;
- subscribers who never confirmed, 30 days after their confirmation link expired (or, if it was withdrawn, 30
  days after they asked);
- the record of who received a notice (notice_sends), 30 days after the notice went to everyone: it only
  keeps a run from mailing anyone twice.
- the counted attempts of the limits (hits), two days after they were made: no limit counts over more than a
  day.

The gate's worker purges once an hour (`delivery.Worker`); `trustcenter outbox --purge` does it at once. The
database deletes with `secure_delete` on (`db.py`), so what is purged (and a delivered message's cleared body) is
zeroed in the database file once it is checkpointed there. But the write-ahead log keeps the pages as they were
written: SQLite reuses that file rather than clear it, so the body of a message queued an hour ago, link and all,
can still be read in the -wal file long after the row was cleared. So each purge ends with a checkpoint that
copies every page into the database and empties the log: a link lives in the files at most until the next purge
after its message went (or died).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from generator.errors import StoreError
from generator.gate.audit import stamp
from generator.gate.db import Database
from generator.gate.grants import RequestStatus

KEEP = dt.timedelta(days=30)
KEEP_SIGN_INS = dt.timedelta(days=1)
KEEP_HITS = dt.timedelta(days=2)
PURGE_SECONDS = 3600.0  # how often the gate's worker purges

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Purged:
    """How many rows of each kind a purge deleted."""

    outbox: int = 0
    requests: int = 0
    sign_ins: int = 0
    staff_sessions: int = 0
    subscribers: int = 0
    notice_sends: int = 0
    hits: int = 0

    @property
    def total(self) -> int:
        return sum(dataclasses.astuple(self))

    def summary(self) -> str:
        counts = [f"{count} {name.replace('_', ' ')}" for name, count in dataclasses.asdict(self).items() if count]
        return f"purged {', '.join(counts)}" if counts else "nothing to purge"


def purge(db: Database, now: dt.datetime | None = None) -> Purged:
    """Delete what the gate no longer keeps (see the module), in one transaction; then empty the write-ahead log."""
    now = now or dt.datetime.now(dt.UTC)
    month, day = stamp(now - KEEP), stamp(now - KEEP_SIGN_INS)
    with db.write() as tx:
        def delete(sql: str, *params: str) -> int:
            return int(tx.execute(sql, params).rowcount)

        purged = Purged(
            outbox=delete("DELETE FROM outbox WHERE sent < ? OR failed < ?", month, month),
            requests=delete("DELETE FROM requests WHERE confirmed IS NULL AND status = ? AND confirm_expires < ?",
                            RequestStatus.UNCONFIRMED.value, month),
            sign_ins=delete("DELETE FROM sign_ins WHERE expires < ? OR used < ?", day, day),
            staff_sessions=delete("DELETE FROM staff_sessions WHERE expires < ? OR ended < ?", day, day),
            subscribers=delete("DELETE FROM subscribers WHERE confirmed IS NULL AND (confirm_expires < ? OR "
                               "(confirm_expires IS NULL AND created < ?))", month, month),
            notice_sends=delete("DELETE FROM notice_sends WHERE notice_id IN (SELECT id FROM notices WHERE "
                                "sent < ?)", month),
            # The longest window a limit counts over is a day (`throttle.py`): older attempts count for nothing.
            hits=delete("DELETE FROM hits WHERE at < ?", stamp(now - KEEP_HITS)),
        )
    _empty_log(db)
    return purged


def _empty_log(db: Database) -> None:
    """Checkpoint the write-ahead log into the database and truncate it (see the module). It waits for readers
    on older snapshots (the busy timeout); if one outlasts that, the log stays as it is until the next purge."""
    try:
        db.checkpoint()
    except StoreError:
        logger.info("retention: the write-ahead log could not be emptied now (readers were busy); the next purge "
                    "tries again")
