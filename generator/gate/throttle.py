"""Count failed attempts per client address in memory, so a burst of bad links is answered 429.

Bounded: at most `max_clients` addresses are remembered (the least recently seen go first), and
at most `limit` timestamps per address. A restart forgets everything, which is fine for a
brake on guessing; revocations and download limits live in the database, not here.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
import time
from collections.abc import Callable


@dataclasses.dataclass
class _Client:
    failures: collections.deque[float]
    reported_until: float = 0.0


class FailureCounter:
    def __init__(self, limit: int = 20, window_seconds: float = 300.0, *, max_clients: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window_seconds
        self.max_clients = max_clients
        self._clock = clock
        self._clients: collections.OrderedDict[str, _Client] = collections.OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> float | None:
        """Seconds until this client may try again, or None if it is not blocked."""
        with self._lock:
            entry = self._clients.get(client)
            if entry is None:
                return None
            now = self._clock()
            self._forget_old(entry, now)
            if len(entry.failures) < self.limit:
                return None
            return max(1.0, entry.failures[0] + self.window - now)

    def record_failure(self, client: str) -> None:
        with self._lock:
            entry = self._clients.get(client)
            if entry is None:
                entry = self._clients[client] = _Client(collections.deque(maxlen=self.limit))
                while len(self._clients) > self.max_clients:
                    self._clients.popitem(last=False)
            self._clients.move_to_end(client)
            entry.failures.append(self._clock())

    def first_refusal(self, client: str) -> bool:
        """True once per blocked period: so a flood is audited once, not row by row."""
        with self._lock:
            entry = self._clients.get(client)
            now = self._clock()
            if entry is None or entry.reported_until > now:
                return False
            entry.reported_until = (entry.failures[0] + self.window) if entry.failures else now + self.window
            return True

    def _forget_old(self, entry: _Client, now: float) -> None:
        while entry.failures and entry.failures[0] <= now - self.window:
            entry.failures.popleft()
