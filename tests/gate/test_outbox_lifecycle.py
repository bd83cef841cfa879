"""The life of an outbox row after it is queued, and what the gate keeps afterwards: claims owned by one worker at
a time (a worker whose claim lapsed cannot overwrite another's outcome), messages whose link died before they
could go, retention (`retention.purge`, `trustcenter outbox --purge`, the worker's hourly purge), and a cleared
body gone from the database file's bytes. Real SQLite, a real SMTP server on loopback, the real CLI."""

from __future__ import annotations

import contextlib
import datetime as dt
import email
import email.policy
import os
import sqlite3
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import GATE_URL, GATED_ID, TRUST_CENTER_URL
from smtp import SmtpServer
from support import gate_database

from generator.cli import main
from generator.content.project import Project
from generator.content.validate import load_valid
from generator.errors import DeliveryError
from generator.gate import mail as gate_mail
from generator.gate import retention
from generator.gate.audit import Event, stamp
from generator.gate.audit import Kind as EventKind
from generator.gate.delivery import SmtpTransport, Worker
from generator.gate.desk import Desk, RequestForm, Visitor
from generator.gate.grants import RequestStatus, parse_stamp
from generator.gate.mail import Mail, MailSettings, Sender
from generator.gate.outbox import EXPIRED, Item, Kind
from generator.gate.settings import open_store
from generator.gate.staff import StaffSessions
from generator.gate.store import Store

# On SQLite and on PostgreSQL (`gate_store`, tests/conftest.py).
pytestmark = pytest.mark.usefixtures("gate_store")

SENDER = Sender("trust@example.test", "Example Co")
ACCESS_YAML = """\
staff: [staff@example.com]
default_days: 30
max_days: 90
rules:
  - name: Customers
    domains: [customer.example]
    decision: approve
    days: 14
"""


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(gate_database(tmp_path), os.urandom(32), create=True)
    yield opened
    opened.close()


@pytest.fixture
def desk(project: Path, store: Store) -> Desk:
    """The access desk on the test's store, with the project's content and rules: what the form and the staff page
    act through."""
    (project / "trust" / "access.yaml").write_text(ACCESS_YAML, encoding="utf-8")
    return Desk(store, load_valid(Project.at(project)), base_url=GATE_URL, sender=SENDER)


def queue(store: Store, to: str = "alice@customer.example", *, expires: dt.datetime | None = None,
          url: str = f"{GATE_URL}/request/confirm/tok-0123456789") -> int:
    """A confirmation e-mail in the outbox, as the desk queues one."""
    context = {"company": "Example Co", "trust_center_url": TRUST_CENTER_URL, "name": "Alice Example", "url": url,
               "documents": ["SOC 2 Type II report"], "hours": 24, "contact": "sales@example.test", "message": None}
    with store.db.write() as tx:
        return gate_mail.queue(store.outbox, tx, Mail(to, "Confirm your request", "confirm", context, None), SENDER,
                               expires=expires)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def smtp_worker(store: Store, server: SmtpServer) -> Worker:
    return Worker(store.outbox, SmtpTransport(MailSettings(smtp_url=server.url)), None)


def row(store: Store, item_id: int) -> Item:
    item = store.outbox.item(item_id)
    assert item is not None
    return item


def lapse(store: Store, item_id: int) -> None:
    """What a worker that hung sees: its claim ran out while it was away."""
    with store.db.write() as tx:
        tx.execute("UPDATE outbox SET claimed_until = ? WHERE id = ?",
                   (stamp(dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)), item_id))


def confirmation_token(server: SmtpServer, index: int = 0) -> str:
    [link] = [url for url in SmtpServer.links(server.messages[index]) if "/request/confirm/" in url]
    return link.rsplit("/", 1)[1]


# ---------------------------------------------------------------- claims


def test_a_worker_whose_claim_lapsed_cannot_overwrite_the_outcome_of_the_worker_that_took_the_row(
        store: Store, smtp_server: SmtpServer) -> None:
    item_id = queue(store)
    slow = store.outbox.claim(Kind.MAIL)
    assert slow is not None and slow.id == item_id and slow.claim
    assert store.outbox.claim(Kind.MAIL) is None  # claimed: no other worker takes it meanwhile

    lapse(store, item_id)
    assert smtp_worker(store, smtp_server).deliver_due() == 1
    [received] = smtp_server.wait_for(1)
    assert received.rcpt_tos == ["alice@customer.example"]
    sent = row(store, item_id)
    assert (sent.status, sent.attempts, sent.body) == ("sent", 1, b"")

    # The slow worker comes back and records what it thinks happened: nothing changes.
    assert store.outbox.delivered(slow) is False
    assert store.outbox.failed_attempt(slow, "timed out", permanent=True) is None
    assert store.outbox.expired(slow) is False
    after = row(store, item_id)
    assert (after.status, after.attempts, after.sent, after.failed, after.last_error) == (
        "sent", 1, sent.sent, None, None)
    assert smtp_worker(store, smtp_server).deliver_due() == 0
    assert len(smtp_server.messages) == 1


def test_a_late_outcome_does_not_free_the_claim_of_the_worker_that_holds_the_row_now(
        store: Store, smtp_server: SmtpServer) -> None:
    item_id = queue(store)
    slow = store.outbox.claim(Kind.MAIL)
    assert slow is not None
    lapse(store, item_id)
    current = store.outbox.claim(Kind.MAIL)
    assert current is not None and current.id == item_id and current.claim != slow.claim

    assert store.outbox.failed_attempt(slow, "timed out") is None  # late, while the other worker delivers
    assert store.outbox.claim(Kind.MAIL) is None  # still claimed: a third worker does not take it too
    waiting = row(store, item_id)
    assert (waiting.status, waiting.attempts, waiting.last_error) == ("queued", 0, None)

    SmtpTransport(MailSettings(smtp_url=smtp_server.url)).send(current)
    assert store.outbox.delivered(current) is True
    assert (row(store, item_id).status, row(store, item_id).attempts) == ("sent", 1)
    assert len(smtp_server.wait_for(1)) == 1


class _HangsThenTimesOut:
    """A transport whose connection hangs past the claim: meanwhile another worker delivers the row; then this
    one's attempt times out."""

    def __init__(self, store: Store, other: Worker) -> None:
        self.store = store
        self.other = other
        self.delivered_meanwhile = 0

    def send(self, item: Item) -> None:
        lapse(self.store, item.id)
        self.delivered_meanwhile = self.other.deliver_due()
        raise DeliveryError("timed out", permanent=True)


def test_a_worker_that_hung_past_its_claim_leaves_the_other_workers_delivery_as_it_is(
        store: Store, smtp_server: SmtpServer, caplog: pytest.LogCaptureFixture) -> None:
    item_id = queue(store)
    hung = _HangsThenTimesOut(store, smtp_worker(store, smtp_server))
    assert Worker(store.outbox, hung, None).deliver_due() == 0
    assert hung.delivered_meanwhile == 1
    assert len(smtp_server.wait_for(1)) == 1
    item = row(store, item_id)
    assert (item.status, item.attempts, item.failed, item.last_error) == ("sent", 1, None, None)
    # Its log does not claim to have given up on a message that was delivered; it says what happened.
    assert not any("gave up" in record.getMessage() for record in caplog.records)
    assert any("after its claim lapsed" in record.getMessage() for record in caplog.records)


def test_retry_leaves_a_row_being_delivered_to_its_worker(store: Store, smtp_server: SmtpServer) -> None:
    """`trustcenter outbox --retry` while the gate's worker is sending a row: the worker's record stands, and
    nobody sends the row a second time."""
    item_id = queue(store)
    claimed = store.outbox.claim(Kind.MAIL)
    assert claimed is not None
    SmtpTransport(MailSettings(smtp_url=smtp_server.url)).send(claimed)
    assert store.outbox.retry() == 0  # someone runs --retry meanwhile
    assert store.outbox.retry(item_id) == 0
    assert store.outbox.delivered(claimed) is True
    assert smtp_worker(store, smtp_server).deliver_due() == 0
    assert len(smtp_server.wait_for(1)) == 1
    assert row(store, item_id).status == "sent"


# ---------------------------------------------------------------- expiry


def test_a_message_whose_link_expired_while_queued_fails_unsent_and_retry_does_not_revive_it(
        store: Store, smtp_server: SmtpServer, caplog: pytest.LogCaptureFixture) -> None:
    expired = queue(store, "late@customer.example", expires=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    fresh = queue(store, "fresh@customer.example", expires=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
    assert row(store, expired).expires is not None and row(store, expired).expired

    assert smtp_worker(store, smtp_server).deliver_due() == 1
    [received] = smtp_server.wait_for(1)
    assert received.rcpt_tos == ["fresh@customer.example"]
    assert row(store, fresh).status == "sent"
    item = row(store, expired)
    assert (item.status, item.attempts, item.sent, item.body, item.last_error) == ("failed", 1, None, b"", EXPIRED)
    assert "expired" in str(item.last_error)
    assert any("late@customer.example not sent" in record.getMessage() for record in caplog.records)

    assert store.outbox.retry() == 0
    assert store.outbox.retry(expired) == 0
    assert row(store, expired).status == "failed"
    assert smtp_worker(store, smtp_server).deliver_due() == 0
    assert len(smtp_server.messages) == 1


def test_retry_still_revives_a_failed_message_whose_link_works(store: Store, smtp_server: SmtpServer) -> None:
    item_id = queue(store, expires=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
    smtp_server.refuse(550)
    assert smtp_worker(store, smtp_server).deliver_due() == 0
    assert row(store, item_id).status == "failed"
    smtp_server.accept()
    assert store.outbox.retry() == 1
    assert smtp_worker(store, smtp_server).deliver_due() == 1
    assert row(store, item_id).status == "sent"


def test_the_desk_gives_the_confirmation_and_the_grant_mail_the_expiry_of_their_links(
        desk: Desk, store: Store, smtp_server: SmtpServer) -> None:
    form = RequestForm("jane@customer.example", "Jane Doe", "Customer Ltd", (GATED_ID,), None, False)
    request = desk.submit(form, Visitor(ip="127.0.0.1"))
    [confirmation] = store.outbox.items()
    assert confirmation.expires is not None and confirmation.expires == request.confirm_expires
    assert parse_stamp(confirmation.expires) > dt.datetime.now(dt.UTC)

    assert smtp_worker(store, smtp_server).deliver_due() == 1
    smtp_server.wait_for(1)
    confirmed = desk.confirm(confirmation_token(smtp_server), Visitor(ip="127.0.0.1"))
    assert confirmed is not None and confirmed.grant is not None
    [grant_mail] = [item for item in store.outbox.items(pending_only=True) if item.kind is Kind.MAIL]
    assert grant_mail.target == "jane@customer.example"
    assert grant_mail.expires == confirmed.grant.expires


# ---------------------------------------------------------------- retention


def _event_count(store: Store) -> int:
    return int(store.db.read().scalar("SELECT COUNT(*) FROM events") or 0)


def _ids(store: Store, table: str, column: str = "id") -> set[str]:
    return {str(found[0]) for found in store.db.read().all(f"SELECT {column} FROM {table}")}  # noqa: S608


def test_purge_deletes_old_sent_and_failed_messages_and_keeps_recent_and_pending_ones(
        store: Store, smtp_server: SmtpServer) -> None:
    before = now()
    sent = queue(store, "sent@customer.example")
    assert smtp_worker(store, smtp_server).deliver_due() == 1
    failed = queue(store, "failed@customer.example")
    smtp_server.refuse(550)
    assert smtp_worker(store, smtp_server).deliver_due() == 0
    smtp_server.down()
    waiting = queue(store, "waiting@customer.example")
    assert smtp_worker(store, smtp_server).deliver_due() == 0  # a temporary failure: retried later
    queued = queue(store, "queued@customer.example")
    assert [row(store, each).status for each in (sent, failed, waiting, queued)] == [
        "sent", "failed", "waiting", "queued"]

    assert store.purge(before + retention.KEEP - dt.timedelta(minutes=1)) == retention.Purged()
    assert store.purge(now() + retention.KEEP + dt.timedelta(minutes=1)) == retention.Purged(outbox=2)
    assert {item.id for item in store.outbox.items()} == {waiting, queued}  # never a message still to go


def test_purge_deletes_a_request_never_confirmed_a_month_after_its_link_expired_and_keeps_the_others(
        desk: Desk, store: Store, smtp_server: SmtpServer) -> None:
    visitor = Visitor(ip="127.0.0.1")

    def ask(email: str) -> str:
        return desk.submit(RequestForm(email, "Someone", "Customer Ltd", (GATED_ID,), None, False), visitor).id

    unconfirmed = ask("typo@customer.example")
    approved = ask("jane@customer.example")
    smtp_worker(store, smtp_server).deliver_due()
    [jane] = [mail for mail in smtp_server.wait_for(2) if mail.rcpt_tos == ["jane@customer.example"]]
    desk.confirm(confirmation_token(smtp_server, smtp_server.messages.index(jane)), visitor)
    with store.db.write() as tx:  # one confirmed and left for staff: pending
        pending, _ = store.access.create_request(tx, email="bob@customer.example", name="Bob", company="Customer Ltd",
                                                 documents=(GATED_ID,), reason=None, nda_on_file=False, ip=None)
        store.access.confirm(tx, pending)
    statuses = {each.id: each.stored_status for each in store.access.requests()}
    assert statuses == {unconfirmed: RequestStatus.UNCONFIRMED, approved: RequestStatus.APPROVED,
                        pending.id: RequestStatus.PENDING}
    expiry = parse_stamp(str(store.access.find_request(unconfirmed).confirm_expires))  # type: ignore[union-attr]
    events = _event_count(store)

    assert store.purge(expiry + retention.KEEP - dt.timedelta(minutes=1)).requests == 0
    assert store.purge(expiry + retention.KEEP + dt.timedelta(minutes=1)).requests == 1
    assert _ids(store, "requests") == {approved, pending.id}
    # The audit still names the purged request: the record outlives the row.
    assert store.log.events(request_id=unconfirmed)
    assert _event_count(store) == events and store.log.verify_chain().ok


def test_purge_deletes_finished_staff_sign_ins_and_sessions_a_day_later(store: Store) -> None:
    sessions = StaffSessions(store.db)
    before = now()
    with store.db.write() as tx:
        unused = sessions.issue_sign_in(tx, "staff@example.com")
        used = sessions.issue_sign_in(tx, "staff@example.com")
        sessions.spend_sign_in(tx, used)
        _, ended = sessions.open(tx, "staff@example.com")
        sessions.end(tx, ended)
        _, live = sessions.open(tx, "staff@example.com")
    assert unused != used
    after, day = now(), retention.KEEP_SIGN_INS

    assert store.purge(before + dt.timedelta(hours=1)) == retention.Purged()
    # A day after it was used or ended: the used sign-in and the ended session go; the rest is not a day past.
    assert store.purge(after + day + dt.timedelta(minutes=1)) == retention.Purged(sign_ins=1, staff_sessions=1)
    assert _ids(store, "staff_sessions", "token_hash") == {live.token_hash}
    # A day after it expired: the unused link (15 minutes), then the session (8 hours).
    assert store.purge(after + day + dt.timedelta(hours=1)) == retention.Purged(sign_ins=1)
    assert store.purge(after + day + dt.timedelta(hours=9)) == retention.Purged(staff_sessions=1)
    assert _ids(store, "sign_ins", "token_hash") == _ids(store, "staff_sessions", "token_hash") == set()


def test_purge_deletes_subscribers_who_never_confirmed_and_keeps_the_others(store: Store) -> None:
    subs = store.subscribers
    before = now()
    with store.db.write() as tx:
        never = subs.subscribe(tx, "never@customer.example", None).subscriber
        withdrawn = subs.subscribe(tx, "withdrawn@customer.example", None).subscriber
        subs.unsubscribe(tx, withdrawn)  # the confirmation withdrawn before it was used
        reader = subs.confirm(tx, subs.subscribe(tx, "reader@customer.example", None).subscriber)
        left = subs.confirm(tx, subs.subscribe(tx, "left@customer.example", None).subscriber)
        assert subs.unsubscribe(tx, left)
    expiry = parse_stamp(str(never.confirm_expires))

    assert store.purge(before + retention.KEEP - dt.timedelta(minutes=1)) == retention.Purged()
    assert store.purge(now() + retention.KEEP + dt.timedelta(minutes=1)) == retention.Purged(subscribers=1)
    assert never.id in _ids(store, "subscribers") and withdrawn.id not in _ids(store, "subscribers")
    assert store.purge(expiry + retention.KEEP + dt.timedelta(minutes=1)) == retention.Purged(subscribers=1)
    # Confirmed ones stay, subscribed or not: the unsubscribed address is how the gate knows not to mail it.
    assert _ids(store, "subscribers") == {reader.id, left.id}


def test_purge_deletes_who_had_a_notice_a_month_after_it_went_to_everyone_and_never_before(store: Store) -> None:
    subs = store.subscribers
    sent_at = now()
    with store.db.write() as tx:
        reader = subs.confirm(tx, subs.subscribe(tx, "reader@customer.example", None).subscriber)
        for notice, sent in (("done", stamp(sent_at)), ("half-way", None)):
            tx.execute("INSERT INTO notices (id, seen, title, sent) VALUES (?, ?, ?, ?)",
                       (notice, stamp(sent_at), notice, sent))
            subs.notice_queued(tx, notice, reader)

    assert store.purge(sent_at + retention.KEEP - dt.timedelta(minutes=1)) == retention.Purged()
    assert store.purge(sent_at + retention.KEEP + dt.timedelta(minutes=1)) == retention.Purged(notice_sends=1)
    # The notice a run left half-way keeps its record however old: the next run must not mail anyone twice.
    assert _ids(store, "notice_sends", "notice_id") == {"half-way"}
    assert store.purge(now() + 10 * retention.KEEP) == retention.Purged()
    assert _ids(store, "notices") == {"done", "half-way"}  # the notices themselves: a run never sends one again


def test_purge_never_touches_the_audit_chain(store: Store) -> None:
    for number in range(5):
        store.log.record(Event(EventKind.MINTED, link_id=f"link-{number}", recipient="bob@customer.example"))
    before = store.db.read().all("SELECT * FROM events ORDER BY id")
    head = store.log.verify_chain()
    assert head.ok and head.events == 5

    store.purge(now() + 100 * retention.KEEP)
    assert store.db.read().all("SELECT * FROM events ORDER BY id") == before
    assert store.log.verify_chain() == head


def test_the_workers_purge_runs_at_once_then_once_an_hour(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    with store.db.write() as tx:
        store.subscribers.subscribe(tx, "never@customer.example", None)
    calls: list[retention.Purged] = []

    def purge() -> retention.Purged:
        calls.append(store.purge(now() + 3 * retention.KEEP))
        return calls[-1]

    worker = Worker(store.outbox, None, None, purge=purge)
    assert worker.purge_if_due() == retention.Purged(subscribers=1)
    assert worker.purge_if_due() is None
    assert len(calls) == 1
    started = time.monotonic()
    monkeypatch.setattr(time, "monotonic", lambda: started + retention.PURGE_SECONDS + 1)  # an hour on
    assert worker.purge_if_due() == retention.Purged()
    assert len(calls) == 2
    assert Worker(store.outbox, None, None).purge_if_due() is None  # a CLI command's worker does not purge


def test_outbox_purge_deletes_old_messages_now_and_says_what_it_did(project: Path, smtp_server: SmtpServer) -> None:
    opened = open_store(Project.at(project), None, create=True)
    try:
        old, recent = queue(opened, "old@customer.example"), queue(opened, "recent@customer.example")
        assert smtp_worker(opened, smtp_server).deliver_due() == 2
        with opened.db.write() as tx:  # delivered 31 days ago
            tx.execute("UPDATE outbox SET sent = ? WHERE id = ?",
                       (stamp(now() - retention.KEEP - dt.timedelta(days=1)), old))
        result = CliRunner().invoke(main, ["outbox", "--purge", "--json", "--project", str(project)])
        assert result.exit_code == 0, result.output
        assert "purged 1 outbox" in result.stderr
        assert [item.id for item in opened.outbox.items()] == [recent]

        again = CliRunner().invoke(main, ["outbox", "--purge", "--project", str(project)])
        assert again.exit_code == 0, again.output
        assert "nothing to purge" in again.stderr
    finally:
        opened.close()


# ---------------------------------------------------------------- the file's bytes (SQLite's: secure_delete, the WAL)


def _file_bytes(database: Path) -> bytes:
    """Everything SQLite keeps on disk for the database: the file, its write-ahead log, the shared-memory index."""
    return b"".join(path.read_bytes() for path in database.parent.glob(database.name + "*"))


def _checkpoint(database: Path, mode: str = "TRUNCATE") -> None:
    """A checkpoint by another connection (as `sqlite3 gate.sqlite3` would make one); the gate's stay open, so the
    log is not removed by a last connection closing."""
    with contextlib.closing(sqlite3.connect(database)) as other:
        busy, _, _ = other.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
    assert busy == 0


def _token_in(item: Item, kind: str) -> bytes:
    """The token of the /<kind>/ link a queued message carries, read from its stored body."""
    parsed = email.message_from_bytes(item.body, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    [link] = [url for url in SmtpServer.links(parsed) if f"/{kind}/" in url]
    return link.rsplit("/", 1)[1].encode()


def _deliver_links(desk: Desk, store: Store, smtp_server: SmtpServer) -> list[bytes]:
    """Ask, confirm and be granted as a customer; returns the confirmation and grant tokens, each checked to be in
    the database's bytes while its message waits in the outbox (so that their absence later means something)."""
    visitor = Visitor(ip="127.0.0.1")
    desk.submit(RequestForm("jane@customer.example", "Jane Doe", "Customer Ltd", (GATED_ID,), None, False), visitor)
    [confirmation] = store.outbox.items(pending_only=True)
    confirm = _token_in(confirmation, "request/confirm")
    assert confirm in _file_bytes(store.db.path)
    assert smtp_worker(store, smtp_server).deliver_due() == 1
    assert SmtpServer.links(smtp_server.wait_for(1)[0]).count(f"{GATE_URL}/request/confirm/{confirm.decode()}") == 1

    confirmed = desk.confirm(confirm.decode(), visitor)
    assert confirmed is not None and confirmed.grant is not None
    [grant_mail] = [item for item in store.outbox.items(pending_only=True) if item.kind is Kind.MAIL]
    grant = _token_in(grant_mail, "grant")
    assert grant in _file_bytes(store.db.path)
    assert smtp_worker(store, smtp_server).deliver_due() == 1
    assert f"{GATE_URL}/grant/{grant.decode()}" in SmtpServer.links(smtp_server.wait_for(2)[1])
    assert all(item.body == b"" for item in store.outbox.items() if item.kind is Kind.MAIL)
    return [confirm, grant]


@pytest.mark.sqlite_only
def test_a_delivered_messages_link_is_gone_from_the_database_files_after_a_checkpoint(
        desk: Desk, store: Store, smtp_server: SmtpServer) -> None:
    tokens = _deliver_links(desk, store, smtp_server)
    database = store.db.path
    _checkpoint(database)
    raw = _file_bytes(database)
    assert raw  # the database is there, and read whole
    assert [token for token in tokens if token in raw] == []


@pytest.mark.sqlite_only
def test_the_gates_purge_takes_cleared_links_out_of_the_write_ahead_log_too(
        desk: Desk, store: Store, smtp_server: SmtpServer) -> None:
    """Without a checkpoint that empties the write-ahead log, the pages written when the messages were queued stay
    in it (SQLite reuses the file, it does not clear it): the worker's hourly purge, and `outbox --purge`, end
    with one."""
    tokens = _deliver_links(desk, store, smtp_server)
    database = store.db.path
    _checkpoint(database, "PASSIVE")  # what SQLite's automatic checkpoints do: copy the pages, keep the log
    assert [token for token in tokens if token in database.read_bytes()] == []
    assert all(token in _file_bytes(database) for token in tokens)  # the log still has them
    store.purge()
    raw = _file_bytes(database)
    assert [token for token in tokens if token in raw] == []
    assert _ids(store, "grants")  # and the purge kept what it must: the grant, the requests
    assert _ids(store, "requests")


def test_rows_are_authentic_only_while_their_body_is_there(store: Store, smtp_server: SmtpServer) -> None:
    item_id = queue(store)
    assert row(store, item_id).authentic
    smtp_worker(store, smtp_server).deliver_due()
    assert not row(store, item_id).authentic  # nothing left to deliver, so nothing a worker could send
