"""Limits that count attempts per client network (or per address) over a window: failed link attempts (the
throttle that answers 429), sign-in links asked for, forms sent.

Counted in the gate's database (the `hits` table), not in a process's memory: several gate instances behind a
load balancer count as one, and a restart forgets nothing (a brake on guessing that a crash loop or a rolling
restart would reset is no brake). Each attempt is one row; the rows of a key older than the window go when the
key is next counted, and `retention.py` deletes what no key asks about any more.

Cost: a read per check (an indexed range of at most `limit` rows) and a write per attempt. Checks run on every
request to a gate path, so they are one small query; attempts are failures and form posts, which already write.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator

from generator.gate.audit import stamp
from generator.gate.db import Database, Tx

REPORTED = "!reported"  # the bucket suffix of the row that marks an episode as reported (`first_refusal`)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class FailureCounter:
    """At most `limit` attempts per key within `window_seconds`, in the database under `bucket`."""

    def __init__(self, db: Database, bucket: str, limit: int = 20, window_seconds: float = 300.0, *,
                 clock: Callable[[], dt.datetime] = _utc_now) -> None:
        self.db = db
        self.bucket = bucket
        self.limit = limit
        self.window = dt.timedelta(seconds=window_seconds)
        self._clock = clock

    def retry_after(self, key: str, tx: Tx | None = None) -> float | None:
        """Seconds until this key may try again, or None if it is not blocked. `tx`: the caller's transaction."""
        now = self._clock()
        # The `limit` newest attempts within the window: blocked if there are that many, until the oldest of
        # them leaves the window.
        rows = (tx or self.db.read()).all("SELECT at FROM hits WHERE bucket = ? AND key = ? AND at > ? "
                                  "ORDER BY at DESC LIMIT ?", (self.bucket, key, stamp(now - self.window), self.limit))
        if len(rows) < self.limit:
            return None
        oldest = dt.datetime.fromisoformat(str(rows[-1][0]).replace("Z", "+00:00"))
        return max(1.0, (oldest + self.window - now).total_seconds())

    def record_failure(self, key: str, tx: Tx | None = None) -> None:
        """Count one attempt (and forget this key's attempts older than the window); in the caller's transaction
        if given (the attempt counts only if what it did is committed), else in one of its own."""
        now = self._clock()
        with self._write(tx) as tx:
            tx.execute("DELETE FROM hits WHERE bucket = ? AND key = ? AND at <= ?",
                       (self.bucket, key, stamp(now - self.window)))
            tx.execute("INSERT INTO hits (bucket, key, at) VALUES (?, ?, ?)", (self.bucket, key, stamp(now)))

    @contextlib.contextmanager
    def _write(self, tx: Tx | None) -> Iterator[Tx]:
        if tx is not None:
            yield tx
            return
        with self.db.write() as own:
            yield own

    def first_refusal(self, key: str) -> bool:
        """True once per window in which the key is refused, on every instance together: so a flood is audited
        once, not row by row, nor once per instance."""
        now = self._clock()
        reported = self.bucket + REPORTED
        with self.db.write() as tx:
            if tx.one("SELECT 1 FROM hits WHERE bucket = ? AND key = ? AND at > ?",
                      (reported, key, stamp(now - self.window))) is not None:
                return False
            tx.execute("DELETE FROM hits WHERE bucket = ? AND key = ?", (reported, key))
            tx.execute("INSERT INTO hits (bucket, key, at) VALUES (?, ?, ?)", (reported, key, stamp(now)))
            return True
