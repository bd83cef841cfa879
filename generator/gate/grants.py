"""Access requests and grants as the database keeps them.

A request is what a prospect sent from the form: unconfirmed until the address is confirmed, then pending
(staff review), approved (a grant was made) or denied. A grant is what an approval gives: one person, several
documents, until a day, through one personal link whose token is stored only as its SHA-256.

A grant's row carries a MAC (the audit key) over everything that says what it gives, so someone who can write
the database but not read the key cannot widen a grant (more documents, a later expiry, another recipient).
Revocations are REVOKED events in the audit chain, like a link's, so they cannot be quietly undone either.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Sequence

from generator.errors import AccessError, StoreError
from generator.gate import audit
from generator.gate.audit import now_stamp, stamp
from generator.gate.db import Database, Tx

CONFIRM_HOURS = 24
# The same address asking again within this window adds to its open request instead of making another.
SAME_REQUEST_HOURS = 24
MAX_DOCUMENTS = 20


class RequestStatus(enum.StrEnum):
    UNCONFIRMED = "unconfirmed"  # waiting for the requester to confirm the address
    PENDING = "pending"  # confirmed, waiting for staff
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"  # never confirmed (derived: unconfirmed past its confirmation deadline)


class GrantStatus(enum.StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(6)}"


def is_grant_id(value: str) -> bool:
    """Whether `value` has a grant id's form. A link id is 16 URL-safe characters and may itself start "g-"."""
    return re.fullmatch(r"g-[0-9a-f]{12}", value) is not None


def parse_stamp(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclasses.dataclass(frozen=True)
class AccessRequest:
    id: str
    created: str
    email: str
    name: str
    company: str
    documents: tuple[str, ...]
    reason: str | None
    nda_on_file: bool  # the requester says an NDA is already signed (a claim for staff to check)
    ip: str | None
    stored_status: RequestStatus
    confirm_expires: str | None
    confirmed: str | None
    decided: str | None
    decided_by: str | None
    decision_reason: str | None
    grant_id: str | None

    @property
    def status(self) -> RequestStatus:
        if (self.stored_status is RequestStatus.UNCONFIRMED and self.confirm_expires is not None
                and parse_stamp(self.confirm_expires) < dt.datetime.now(dt.UTC)):
            return RequestStatus.EXPIRED
        return self.stored_status

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "email": self.email, "name": self.name, "company": self.company,
                "documents": list(self.documents), "reason": self.reason, "nda_on_file_claimed": self.nda_on_file,
                "status": self.status.value, "created": self.created, "confirmed": self.confirmed,
                "decided": self.decided, "decided_by": self.decided_by, "decision_reason": self.decision_reason,
                "grant_id": self.grant_id}


@dataclasses.dataclass(frozen=True)
class Grant:
    id: str
    created: str
    request_id: str | None
    email: str
    name: str
    company: str
    documents: tuple[str, ...]
    expires: str
    nda_on_file: bool
    approved_by: str
    revoked: str | None = None  # the reason, from the audit chain

    @property
    def expires_at(self) -> dt.datetime:
        return parse_stamp(self.expires)

    @property
    def status(self) -> GrantStatus:
        if self.revoked is not None:
            return GrantStatus.REVOKED
        return GrantStatus.EXPIRED if self.expires_at <= dt.datetime.now(dt.UTC) else GrantStatus.ACTIVE

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "email": self.email, "name": self.name, "company": self.company,
                "documents": list(self.documents), "expires": self.expires, "status": self.status.value,
                "nda_on_file": self.nda_on_file, "approved_by": self.approved_by, "request_id": self.request_id,
                "created": self.created, "revoked": self.revoked}


_REQUEST_COLUMNS = ("id, created, email, name, company, documents, reason, nda_on_file, ip, status, confirm_expires, "
                    "confirmed, decided, decided_by, decision_reason, grant_id")
_GRANT_COLUMNS = "id, created, request_id, email, name, company, documents, expires, nda_on_file, approved_by, mac"


def _request(row: Sequence[object]) -> AccessRequest:
    values = list(row)
    values[5] = tuple(json.loads(str(values[5])))
    values[7] = bool(values[7])
    values[9] = RequestStatus(str(values[9]))
    return AccessRequest(*values)  # type: ignore[arg-type]


class AccessStore:
    """Requests and grants. Methods that change something take the caller's transaction, so the change, its
    audit event and the messages it sends commit together."""

    def __init__(self, db: Database, key: bytes) -> None:
        self.db = db
        self._key = key

    # ------------------------------------------------ requests

    def open_request_of(self, tx: Tx, email: str) -> AccessRequest | None:
        """This address's recent request that is still open (unconfirmed and not expired, or pending)."""
        since = stamp(dt.datetime.now(dt.UTC) - dt.timedelta(hours=SAME_REQUEST_HOURS))
        rows = tx.all(f"SELECT {_REQUEST_COLUMNS} FROM requests WHERE email = ? AND created >= ? "  # noqa: S608
                      "AND status IN (?, ?) ORDER BY created DESC",
                      (email, since, RequestStatus.UNCONFIRMED.value, RequestStatus.PENDING.value))
        found = [_request(row) for row in rows]
        return next((r for r in found if r.status in (RequestStatus.UNCONFIRMED, RequestStatus.PENDING)), None)

    def create_request(self, tx: Tx, *, email: str, name: str, company: str, documents: Sequence[str],
                       reason: str | None, nda_on_file: bool, ip: str | None) -> tuple[AccessRequest, str]:
        """A new unconfirmed request; returns it and the confirmation token (stored only as its hash)."""
        token = new_token()
        request_id = new_id("r")
        expires = stamp(dt.datetime.now(dt.UTC) + dt.timedelta(hours=CONFIRM_HOURS))
        tx.execute(f"INSERT INTO requests ({_REQUEST_COLUMNS}, confirm_hash) "  # noqa: S608
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, NULL, NULL, ?)",
                   (request_id, now_stamp(), email, name, company, json.dumps(list(documents)), reason,
                    int(nda_on_file), ip, RequestStatus.UNCONFIRMED.value, expires, token_hash(token)))
        return self.request(tx, request_id), token

    def add_to_request(self, tx: Tx, request: AccessRequest, *, name: str, company: str, documents: Sequence[str],
                       reason: str | None, nda_on_file: bool) -> tuple[AccessRequest, str | None]:
        """The same address asked again: its documents join the open request. An unconfirmed request gets a new
        confirmation token (the old link stops working); a pending one needs none."""
        merged = list(dict.fromkeys([*request.documents, *documents]))[:MAX_DOCUMENTS]
        token = None
        if request.status is RequestStatus.UNCONFIRMED:
            token = new_token()
            expires = stamp(dt.datetime.now(dt.UTC) + dt.timedelta(hours=CONFIRM_HOURS))
            tx.execute("UPDATE requests SET confirm_hash = ?, confirm_expires = ? WHERE id = ?",
                       (token_hash(token), expires, request.id))
        tx.execute("UPDATE requests SET name = ?, company = ?, documents = ?, reason = COALESCE(?, reason), "
                   "nda_on_file = ? WHERE id = ?",
                   (name, company, json.dumps(merged), reason, int(nda_on_file or request.nda_on_file), request.id))
        return self.request(tx, request.id), token

    def request(self, tx: Tx, request_id: str) -> AccessRequest:
        row = tx.one(f"SELECT {_REQUEST_COLUMNS} FROM requests WHERE id = ?", (request_id,))  # noqa: S608
        if row is None:
            raise StoreError(f"there is no request {request_id}")
        return _request(row)

    def find_request(self, request_id: str) -> AccessRequest | None:
        row = self.db.read().one(f"SELECT {_REQUEST_COLUMNS} FROM requests WHERE id = ?", (request_id,))  # noqa: S608
        return None if row is None else _request(row)

    def request_by_confirm_token(self, tx: Tx, token: str) -> AccessRequest | None:
        row = tx.one(f"SELECT {_REQUEST_COLUMNS} FROM requests WHERE confirm_hash = ?",  # noqa: S608
                     (token_hash(token),))
        return None if row is None else _request(row)

    def confirm(self, tx: Tx, request: AccessRequest) -> bool:
        """The address is confirmed: the request waits for a decision. The token's hash stays, so the requester's
        own link followed again is told it was used (410) rather than taken for a guess. False if another click
        confirmed it first."""
        cursor = tx.execute("UPDATE requests SET status = ?, confirmed = ? WHERE id = ? AND status = ?",
                            (RequestStatus.PENDING.value, now_stamp(), request.id, RequestStatus.UNCONFIRMED.value))
        return cursor.rowcount == 1

    def decide(self, tx: Tx, request: AccessRequest, status: RequestStatus, by: str, reason: str | None,
               grant_id: str | None = None) -> None:
        cursor = tx.execute("UPDATE requests SET status = ?, decided = ?, decided_by = ?, decision_reason = ?, "
                            "grant_id = ? WHERE id = ? AND status = ?",
                            (status.value, now_stamp(), by, reason, grant_id, request.id, RequestStatus.PENDING.value))
        if cursor.rowcount != 1:  # decided meanwhile, by someone else
            raise AccessError(f"request {request.id} is no longer pending: someone decided it meanwhile")

    def requests(self, status: RequestStatus | None = None, limit: int = 500) -> list[AccessRequest]:
        """The newest requests (of one status: all of them that are pending, however old)."""
        if status is RequestStatus.PENDING:
            rows = self.db.read().all(f"SELECT {_REQUEST_COLUMNS} FROM requests WHERE status = ? "  # noqa: S608
                                      "ORDER BY created DESC", (RequestStatus.PENDING.value,))
            return [_request(row) for row in rows]
        rows = self.db.read().all(f"SELECT {_REQUEST_COLUMNS} FROM requests ORDER BY created DESC LIMIT ?",  # noqa: S608
                                  (limit,))
        found = [_request(row) for row in rows]
        return [r for r in found if status is None or r.status is status]

    def recent_requests_from(self, ip: str, hours: float = 1.0) -> int:
        since = stamp(dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours))
        return int(self.db.read().scalar("SELECT COUNT(*) FROM requests WHERE ip = ? AND created >= ?", (ip, since)))

    # ------------------------------------------------ grants

    def create_grant(self, tx: Tx, *, email: str, name: str, company: str, documents: Sequence[str], days: int,
                     nda_on_file: bool, approved_by: str, request_id: str | None) -> tuple[Grant, str]:
        """A grant and its personal link's token (stored only as its hash)."""
        token = new_token()
        grant = Grant(new_id("g"), now_stamp(), request_id, email, name, company, tuple(documents),
                      stamp(dt.datetime.now(dt.UTC) + dt.timedelta(days=days)), nda_on_file, approved_by)
        hashed = token_hash(token)
        tx.execute(f"INSERT INTO grants ({_GRANT_COLUMNS}, token_hash) "  # noqa: S608
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (grant.id, grant.created, request_id, email, name, company, json.dumps(list(documents)),
                    grant.expires, int(nda_on_file), approved_by, self._mac(grant, hashed), hashed))
        return grant, token

    def grant_by_token(self, token: str) -> Grant | None:
        """The grant a link's token opens, if its row is authentic (else StoreError: the database was edited)."""
        hashed = token_hash(token)
        row = self.db.read().one(f"SELECT {_GRANT_COLUMNS} FROM grants WHERE token_hash = ?", (hashed,))  # noqa: S608
        return None if row is None else self._grant(row, hashed)

    def grant(self, grant_id: str) -> Grant | None:
        row = self.db.read().one(f"SELECT {_GRANT_COLUMNS}, token_hash FROM grants WHERE id = ?",  # noqa: S608
                                 (grant_id,))
        return None if row is None else self._grant(row[:-1], str(row[-1]))

    def grants(self, limit: int = 500) -> list[Grant]:
        rows = self.db.read().all(f"SELECT {_GRANT_COLUMNS}, token_hash FROM grants "  # noqa: S608
                                  "ORDER BY created DESC LIMIT ?", (limit,))
        return [self._grant(row[:-1], str(row[-1])) for row in rows]

    def active_grants(self) -> list[Grant]:
        """Every grant in force now (not expired, not revoked), newest first, in one query however many grants
        were ever made: the staff page lists them all. Revoked means a REVOKED event in the audit chain, as for
        `grant`; each row's MAC is checked as always."""
        rows = self.db.read().all(
            f"SELECT {_GRANT_COLUMNS}, token_hash FROM grants WHERE expires > ? AND NOT EXISTS ("  # noqa: S608
            "SELECT 1 FROM events WHERE events.grant_id = grants.id AND events.kind = ?) ORDER BY created DESC",
            (now_stamp(), audit.Kind.REVOKED.value))
        return [self._authentic(row[:-1], str(row[-1])) for row in rows]

    def _grant(self, row: Sequence[object], hashed: str) -> Grant:
        grant = self._authentic(row, hashed)
        revoked = audit.revocation_in(self.db.read(), grant_id=grant.id)
        return dataclasses.replace(grant, revoked=revoked)

    def _authentic(self, row: Sequence[object], hashed: str) -> Grant:
        """The grant of a row whose MAC matches (else StoreError), its revocation not yet looked up."""
        values = list(row)
        mac = str(values.pop())
        values[6] = tuple(json.loads(str(values[6])))
        values[8] = bool(values[8])
        grant = Grant(*values)  # type: ignore[arg-type]
        if not hmac.compare_digest(mac, self._mac(grant, hashed)):
            raise StoreError(f"grant {grant.id} in {self.db.label} was changed after it was made; the database "
                             "cannot be trusted: keep it for investigation and restore the last backup that verifies")
        return grant

    def _mac(self, grant: Grant, hashed: str) -> str:
        canonical = json.dumps({"id": grant.id, "created": grant.created, "request_id": grant.request_id,
                                "email": grant.email, "name": grant.name, "company": grant.company,
                                "documents": list(grant.documents), "expires": grant.expires,
                                "nda_on_file": grant.nda_on_file, "approved_by": grant.approved_by,
                                "token_hash": hashed}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hmac.new(self._key, b"grant|" + canonical.encode("utf-8"), hashlib.sha256).hexdigest()
