"""E-mail from the outbox to a real SMTP server on loopback: the messages themselves, plain SMTP, STARTTLS with
AUTH, implicit TLS, a server that is down, refuses or answers 5xx, two workers on one database, the demo's
console, the gate waking its worker, `trustcenter outbox` and the mail line of `gate --check`."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import GATE_URL, TRUST_CENTER_URL
from loopback import Signer, running_gate
from loopback import settings as gate_settings
from smtp import SmtpServer
from support import gate_database
from test_requests import request_gate, send_request

from generator.cli import main
from generator.content.project import Project
from generator.errors import GateConfigError
from generator.gate import app as gate_app
from generator.gate import delivery
from generator.gate import mail as gate_mail
from generator.gate.audit import stamp
from generator.gate.delivery import ConsoleTransport, SmtpTransport, Worker
from generator.gate.mail import Mail, MailSettings, Sender
from generator.gate.outbox import GIVE_UP_AFTER, Kind
from generator.gate.settings import open_store
from generator.gate.store import Store

# On SQLite and on PostgreSQL (`gate_store`, tests/conftest.py).
pytestmark = pytest.mark.usefixtures("gate_store")

SENDER = Sender("trust@example.test", "Example Co")
RECIPIENT = "alice@customer.test"
TOKEN = "tok-SECRET-0123456789abcdef"
CONFIRM_URL = f"{GATE_URL}/request/confirm/{TOKEN}"
ACCESS_YAML = """\
staff: [security@example.test]
default_days: 30
max_days: 90
rules:
  - name: Customers
    domains: [customer.test]
    decision: approve
"""


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(gate_database(tmp_path), os.urandom(32), create=True)
    yield opened
    opened.close()


def queue(store: Store, to: str = RECIPIENT, *, subject: str = "Confirm your request", template: str = "confirm",
          sender: Sender = SENDER, unsubscribe: str | None = None, **context: Any) -> int:
    values: dict[str, Any] = {"company": "Example Co", "trust_center_url": TRUST_CENTER_URL, "name": "Alice Example",
                              "url": CONFIRM_URL, "documents": ["SOC 2 Type II report"], "hours": 24,
                              "contact": "sales@example.test", "message": None, **context}
    with store.db.write() as tx:
        return gate_mail.queue(store.outbox, tx, Mail(to, subject, template, values, unsubscribe), sender)


def smtp_worker(store: Store, server: SmtpServer, **settings: Any) -> Worker:
    options: dict[str, Any] = {"smtp_url": server.url, "ca_file": server.ca_file, **settings}
    return Worker(store.outbox, SmtpTransport(MailSettings(**options)), None)


def status(store: Store, item_id: int) -> tuple[str, int, str | None]:
    item = store.outbox.item(item_id)
    assert item is not None
    return item.status, item.attempts, item.last_error


def send_one(store: Store, server: SmtpServer, **context: Any) -> Any:
    """Queue one message with `context`, deliver it, and return what the server received."""
    unsubscribe = context.pop("unsubscribe", None)
    template = context.pop("template", "confirm")
    subject = context.pop("subject", "Confirm your request")
    sender = context.pop("sender", SENDER)
    queue(store, template=template, subject=subject, sender=sender, unsubscribe=unsubscribe, **context)
    assert smtp_worker(store, server).deliver_due() == 1
    [received] = server.wait_for(1)
    return received


# ---------------------------------------------------------------- the messages


def test_a_template_with_html_makes_a_multipart_alternative_of_text_then_html(store: Store,
                                                                             smtp_server: SmtpServer) -> None:
    message = send_one(store, smtp_server).message
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert smtp_server.links(message) == [CONFIRM_URL, TRUST_CENTER_URL]


def test_every_message_has_a_text_and_an_html_part_that_say_the_same() -> None:
    # A reader's client shows one or the other: both must exist, and carry the same links.
    texts = {path.stem for path in gate_mail.TEMPLATES.glob("[!_]*.txt")}
    assert texts and texts == {path.stem for path in gate_mail.TEMPLATES.glob("[!_]*.html")}


def test_a_denial_says_so_in_both_parts(store: Store, smtp_server: SmtpServer) -> None:
    message = send_one(store, smtp_server, template="denied", subject="Your request", message="Not a customer.").message
    text, html = (part.get_content() for part in message.iter_parts())
    assert "could not approve your request" in text and "could not approve your request" in html
    assert "Not a customer." in text and "Not a customer." in html


def test_message_id_is_at_the_senders_domain_and_the_message_is_dated(store: Store, smtp_server: SmtpServer) -> None:
    message = send_one(store, smtp_server).message
    assert str(message["Message-ID"]).startswith("<") and str(message["Message-ID"]).endswith("@example.test>")
    sent = message["Date"].datetime
    assert abs((dt.datetime.now(dt.UTC) - sent).total_seconds()) < 60
    assert message["Auto-Submitted"] == "auto-generated"


def test_list_unsubscribe_headers_come_only_with_an_unsubscribe_url(store: Store, smtp_server: SmtpServer) -> None:
    unsubscribe = f"{GATE_URL}/subscribe/unsubscribe/unsub-token"
    queue(store)
    queue(store, unsubscribe=unsubscribe)
    assert smtp_worker(store, smtp_server).deliver_due() == 2
    plain, subscribed = (received.message for received in smtp_server.wait_for(2))
    assert plain["List-Unsubscribe"] is None and plain["List-Unsubscribe-Post"] is None
    # (long enough to be folded onto a line of its own, which Python's parser keeps a space of)
    assert str(subscribed["List-Unsubscribe"]).strip() == f"<{unsubscribe}>"
    assert subscribed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_cr_lf_in_a_subject_or_a_name_cannot_add_a_header(store: Store, smtp_server: SmtpServer) -> None:
    sneaky = Sender("trust@example.test", "Example\r\nBcc: victim@evil.test")
    received = send_one(store, smtp_server, subject="Hello\r\nBcc: victim@evil.test", sender=sneaky,
                        name="Mallory\r\nBcc: victim@evil.test")
    assert received.message["Bcc"] is None
    assert received.rcpt_tos == [RECIPIENT]
    headers = received.raw.split(b"\r\n\r\n", 1)[0]
    assert not any(line.lower().startswith(b"bcc:") for line in headers.split(b"\r\n"))
    assert received.message["Subject"] == "Hello Bcc: victim@evil.test"


def test_a_recipient_with_a_line_break_is_refused_before_anything_is_queued(store: Store) -> None:
    with pytest.raises(ValueError):
        queue(store, to=f"{RECIPIENT}\r\nBcc: victim@evil.test")
    assert store.outbox.items() == []


def test_the_text_part_is_not_html_escaped_and_the_html_part_is(store: Store, smtp_server: SmtpServer) -> None:
    # The grant's message greets the requester by name (the confirmation names no one: its address is unproven).
    message = send_one(store, smtp_server, template="grant", name="Tom & <Jerry>", expires="1 May 2027",
                       nda_on_file=False).message
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "Hello Tom & <Jerry>," in text
    assert "Tom &amp; &lt;Jerry&gt;" in html and "<Jerry>" not in html


# ---------------------------------------------------------------- SMTP


def test_the_envelope_is_from_the_from_address_to_the_outbox_target(store: Store, smtp_server: SmtpServer) -> None:
    item_id = queue(store)
    assert smtp_worker(store, smtp_server).deliver_due() == 1
    [received] = smtp_server.wait_for(1)
    assert received.mail_from == SENDER.address
    assert received.rcpt_tos == [RECIPIENT]
    assert status(store, item_id) == ("sent", 1, None)


def test_starttls_with_auth_signs_in_only_after_tls(store: Store) -> None:
    # Special characters in the credentials arrive percent-decoded.
    with SmtpServer(starttls=True, auth=("relay@example.test", "p@ss:w/rd%")) as server:
        assert "relay%40example.test:p%40ss%3Aw%2Frd%25@" in server.url
        item_id = queue(store)
        assert smtp_worker(store, server).deliver_due() == 1
        server.wait_for(1)
        assert server.auth_attempts and all(attempt.over_tls for attempt in server.auth_attempts)
    assert status(store, item_id)[0] == "sent"


def test_implicit_tls_delivers(store: Store) -> None:
    with SmtpServer(implicit_tls=True) as server:
        assert server.url.startswith("smtps://")
        queue(store)
        assert smtp_worker(store, server).deliver_due() == 1
        assert server.wait_for(1)[0].rcpt_tos == [RECIPIENT]


@pytest.mark.parametrize("mode", ["starttls", "implicit_tls"])
def test_a_certificate_not_trusted_is_refused_and_logged_as_a_configuration_error(
        store: Store, mode: str, caplog: pytest.LogCaptureFixture) -> None:
    with SmtpServer(**{mode: True}, auth=("user", "secret")) as server:
        item_id = queue(store)
        # No CA file: the system's CAs, which never issued the test server's certificate.
        assert smtp_worker(store, server, ca_file=None).deliver_due() == 0
        assert server.messages == [] and server.auth_attempts == []
    state, attempts, error = status(store, item_id)
    assert (state, attempts) == ("waiting", 1)
    assert error is not None and "certificate" in error and "TRUSTCENTER_SMTP_CA_FILE" in error
    [record] = [record for record in caplog.records if record.name == delivery.logger.name]
    assert record.levelno == logging.ERROR and f"outbox {item_id}:" in record.getMessage()


def test_a_wrong_password_is_retried_and_logged_at_error(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    with SmtpServer(starttls=True, auth=("user", "right")) as server:
        item_id = queue(store)
        url = server.url.replace("user:right@", "user:wrong@")
        worker = Worker(store.outbox, SmtpTransport(MailSettings(smtp_url=url, ca_file=server.ca_file)), None)
        assert worker.deliver_due() == 0
        assert server.messages == []
    state, attempts, error = status(store, item_id)
    assert (state, attempts) == ("waiting", 1) and error is not None and "TRUSTCENTER_SMTP_URL" in error
    assert "wrong" not in caplog.text and "wrong" not in error  # the password is never repeated
    assert [record.levelno for record in caplog.records if record.name == delivery.logger.name] == [logging.ERROR]


def test_a_password_may_go_in_clear_only_to_a_server_on_this_machine(store: Store) -> None:
    # The test server offers no STARTTLS; it is on loopback, so signing in without TLS is allowed (a local relay).
    with SmtpServer(auth=("user", "secret")) as server:
        queue(store)
        assert smtp_worker(store, server).deliver_due() == 1
        assert [attempt.over_tls for attempt in server.auth_attempts] == [False]


def test_a_message_waits_while_the_server_is_down_and_goes_once_it_is_back(
        store: Store, smtp_server: SmtpServer, caplog: pytest.LogCaptureFixture) -> None:
    item_id = queue(store)
    worker = smtp_worker(store, smtp_server)
    smtp_server.down()
    assert worker.deliver_due() == 0
    item = store.outbox.item(item_id)
    assert item is not None and (item.status, item.attempts) == ("waiting", 1)
    assert item.next_attempt > stamp(dt.datetime.now(dt.UTC))  # backoff: the next attempt is later
    assert worker.deliver_due() == 0 and status(store, item_id)[1] == 1  # not due yet: not tried again
    [record] = [record for record in caplog.records if record.name == delivery.logger.name]
    assert record.levelno == logging.WARNING
    assert f"outbox {item_id}: mail to {RECIPIENT}" in record.getMessage()
    assert TOKEN not in caplog.text  # no body, no link, in the log

    smtp_server.up()
    store.outbox.retry()  # instead of waiting out the backoff
    assert worker.deliver_due() == 1
    assert len(smtp_server.wait_for(1)) == 1
    assert status(store, item_id) == ("sent", 2, None)


def test_a_451_is_retried_and_the_message_delivered_once_accepted(store: Store, smtp_server: SmtpServer) -> None:
    item_id = queue(store)
    worker = smtp_worker(store, smtp_server)
    smtp_server.refuse(451)
    assert worker.deliver_due() == 0
    state, attempts, error = status(store, item_id)
    assert (state, attempts) == ("waiting", 1) and error is not None and "451" in error
    smtp_server.accept()
    store.outbox.retry()
    assert worker.deliver_due() == 1
    assert smtp_server.wait_for(1)[0].rcpt_tos == [RECIPIENT]
    assert status(store, item_id) == ("sent", 2, None)


def test_a_550_fails_the_message_for_good(store: Store, smtp_server: SmtpServer,
                                         caplog: pytest.LogCaptureFixture) -> None:
    item_id = queue(store)
    worker = smtp_worker(store, smtp_server)
    smtp_server.refuse(550)
    assert worker.deliver_due() == 0
    smtp_server.accept()
    assert worker.deliver_due() == 0  # not retried, even with the server accepting again
    state, attempts, error = status(store, item_id)
    assert (state, attempts) == ("failed", 1) and error is not None and "550" in error
    assert store.outbox.next_due(Kind.MAIL) is None
    assert smtp_server.messages == []
    [record] = [record for record in caplog.records if record.name == delivery.logger.name]
    assert record.levelno == logging.ERROR and "gave up" in record.getMessage()


def test_a_message_is_given_up_once_older_than_give_up_after(store: Store, smtp_server: SmtpServer,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    item_id = queue(store)
    with store.db.write() as tx:
        tx.execute("UPDATE outbox SET created = ? WHERE id = ?",
                   (stamp(dt.datetime.now(dt.UTC) - GIVE_UP_AFTER - dt.timedelta(minutes=1)), item_id))
    smtp_server.down()
    assert smtp_worker(store, smtp_server).deliver_due() == 0
    assert status(store, item_id)[:2] == ("failed", 1)
    assert any(record.levelno == logging.ERROR and "gave up" in record.getMessage() for record in caplog.records)


def test_two_workers_on_one_database_deliver_each_message_exactly_once(tmp_path: Path, store: Store,
                                                                       smtp_server: SmtpServer) -> None:
    ids = {queue(store, to=f"person{number}@customer.test") for number in range(24)}
    key = store.log._key
    stores = [Store(gate_database(tmp_path), key) for _ in range(2)]
    workers = [smtp_worker(each, smtp_server) for each in stores]
    start = threading.Barrier(2)
    counts: list[int] = []

    def run(worker: Worker) -> None:
        start.wait()
        counts.append(worker.deliver_due())

    threads = [threading.Thread(target=run, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for each in stores:
        each.close()
    assert sum(counts) == 24
    received = smtp_server.wait_for(24)
    assert len(received) == 24
    assert sorted(address for mail in received for address in mail.rcpt_tos) == sorted(
        f"person{number}@customer.test" for number in range(24))
    assert len({str(mail.message["Message-ID"]) for mail in received}) == 24
    assert {item.id for item in store.outbox.items() if item.status == "sent"} == ids


@pytest.mark.parametrize(("url", "expected"), [
    ("http://mail.example.test", "must start with smtp://"),
    ("smtp://", "names no host"),
    ("smtp://mail.example.test:99999", "port must be a number"),
    ("smtp://mail.example.test:25?tls=no", "query strings"),
    ("smtp://mail.example.test/relay", "a path is not supported"),
    ("smtp://user@mail.example.test", "give both user and password"),
])
def test_an_smtp_url_that_cannot_work_is_refused_clearly(url: str, expected: str) -> None:
    with pytest.raises(GateConfigError) as caught:
        SmtpTransport(MailSettings(smtp_url=url))
    assert expected in caught.value.message and "TRUSTCENTER_SMTP_URL" in caught.value.message


def test_an_smtp_url_error_never_repeats_the_password() -> None:
    with pytest.raises(GateConfigError) as caught:
        SmtpTransport(MailSettings(smtp_url="smtp://user:hunter2@mail.example.test:25?x=1"))
    assert "hunter2" not in caught.value.message


# ---------------------------------------------------------------- the demo's console


def test_the_console_prints_each_message_readably_and_keeps_it_private(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "state" / "mail"
    out = io.StringIO()
    item_id = queue(store, name="Alice \x1b[31mRed\x1b[0m")  # a name that tries to colour the terminal
    queued = store.outbox.item(item_id)
    assert queued is not None
    assert Worker(store.outbox, ConsoleTransport(folder, out), None).deliver_due() == 1
    printed = out.getvalue()
    saved = folder / f"{item_id}.eml"
    assert printed.splitlines()[0] == "=" * 72
    assert f"To:      {RECIPIENT}" in printed
    assert "Subject: Confirm your request" in printed
    assert CONFIRM_URL in printed  # the link to follow, from the decoded text part
    assert "=3D" not in printed and "<p>" not in printed  # the text part decoded, not the HTML
    assert f"saved as {saved}" in printed
    assert "\x1b" not in printed
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    item = store.outbox.item(item_id)
    assert saved.read_bytes() == queued.body  # the message as queued (the outbox keeps no body once it is sent)
    assert item is not None and item.status == "sent" and item.body == b""


# ---------------------------------------------------------------- the worker in the gate


def test_without_a_mail_transport_mail_stays_queued_and_the_start_warns(store: Store,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    item_id = queue(store)
    worker = Worker(store.outbox, None, None)
    assert worker.deliver_due() == 0
    worker.start()
    worker.stop()
    assert status(store, item_id) == ("queued", 0, None)
    assert [record.levelno for record in caplog.records if record.name == delivery.logger.name] == [logging.WARNING]


def test_a_request_that_queues_mail_wakes_the_worker(project: Path, tmp_path: Path, smtp_server: SmtpServer,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker sleeps until its next due row; a request that queued mail wakes it once it has committed. (Only
    such a request: a wake is a look at the outbox, and most requests queue nothing.)"""
    monkeypatch.setattr(delivery, "MAX_SLEEP_SECONDS", 600.0)  # only a wake can deliver within the test
    with request_gate(project, tmp_path, smtp_server) as running:
        gate = gate_app.current_of(running.app)
        gate.delivery.start()
        assert gate.delivery.idle.wait(10)  # the worker's first pass is over: it sleeps until woken
        assert send_request(running.browser(), email="jane@customer.example").status == 303
        [confirmation] = smtp_server.wait_for(1)
    assert confirmation.rcpt_tos == ["jane@customer.example"]
    assert confirmation.mail_from == "trust@trust.example.test"  # default sender: trust@ the trust center's host


def test_a_gate_with_an_smtp_url_that_cannot_work_does_not_start(project: Path, tmp_path: Path,
                                                               signer: Signer) -> None:
    settings = gate_settings(project, tmp_path, mail=MailSettings(smtp_url="smtp://mail.example.test:25/x"))
    with pytest.raises(GateConfigError):
        gate_app.create_app(settings)


# ---------------------------------------------------------------- `trustcenter outbox`


@pytest.fixture
def project_store(project: Path) -> Iterator[Store]:
    opened = open_store(Project.at(project), None, create=True)
    yield opened
    opened.close()


def outbox_command(project: Path, *options: str) -> Any:
    return CliRunner().invoke(main, ["outbox", "--project", str(project), *options])


def test_outbox_lists_messages_and_never_their_bodies(project: Path, project_store: Store) -> None:
    first = queue(project_store)
    second = queue(project_store, to="bob@customer.test", subject="Your request", template="denied")
    result = outbox_command(project)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["id", "created", "(UTC)", "kind", "target", "subject", "status", "attempts", "last",
                                "error"]
    assert lines[1].split()[0] == str(second) and "bob@customer.test" in lines[1] and "queued" in lines[1]
    assert lines[2].split()[0] == str(first) and "Confirm your request" in lines[2]
    assert TOKEN not in result.output


def test_outbox_json_has_the_fields_and_no_body(project: Path, project_store: Store, smtp_server: SmtpServer) -> None:
    item_id = queue(project_store)
    smtp_server.refuse(451)
    smtp_worker(project_store, smtp_server).deliver_due()
    result = outbox_command(project, "--json", "--id", str(item_id))
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.output)
    assert row["id"] == item_id and row["kind"] == "mail" and row["target"] == RECIPIENT
    assert row["status"] == "waiting" and row["attempts"] == 1 and "451" in row["last_error"]
    assert {"created", "subject", "next_attempt", "sent", "failed"} <= row.keys()
    assert "body" not in row and TOKEN not in result.output


def test_outbox_retry_sends_failed_messages_with_the_environments_mail_server(
        project: Path, project_store: Store, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> None:
    item_id = queue(project_store)
    smtp_server.refuse(550)
    smtp_worker(project_store, smtp_server).deliver_due()
    assert status(project_store, item_id)[0] == "failed"
    smtp_server.accept()
    monkeypatch.setenv("TRUSTCENTER_SMTP_URL", smtp_server.url)
    result = outbox_command(project, "--retry")
    assert result.exit_code == 0, result.output
    assert "1 message(s) due again; 1 delivered now" in result.output
    assert smtp_server.wait_for(1)[0].rcpt_tos == [RECIPIENT]
    assert status(project_store, item_id)[0] == "sent"


def test_outbox_retry_without_a_mail_server_leaves_mail_queued_and_says_so(
        project: Path, project_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRUSTCENTER_SMTP_URL", raising=False)
    item_id = queue(project_store)
    result = outbox_command(project, "--retry")
    assert result.exit_code == 0, result.output
    assert "TRUSTCENTER_SMTP_URL is not set, so e-mail stays queued" in result.output
    assert status(project_store, item_id) == ("queued", 0, None)


def test_outbox_with_an_unknown_id_is_an_error(project: Path, project_store: Store) -> None:
    result = outbox_command(project, "--id", "99")
    assert result.exit_code == 1
    assert result.output.startswith("error: there is no message 99 in the outbox")


# ---------------------------------------------------------------- `trustcenter gate --check`


@pytest.fixture
def deployment(project: Path, signer: Signer, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A deployment that passes every other check, with trust/access.yaml (so mail is needed)."""
    (project / "site").mkdir()
    (project / "site" / "index.html").write_text("<!doctype html><title>Trust</title><p>site</p>", encoding="utf-8")
    open_store(Project.at(project), None, create=True).close()
    (project / "trust" / "access.yaml").write_text(ACCESS_YAML, encoding="utf-8")
    for variable in ("TRUSTCENTER_SMTP_URL", "TRUSTCENTER_SMTP_CA_FILE", "TRUSTCENTER_MAIL_FROM",
                     "TRUSTCENTER_WEBHOOKS"):
        monkeypatch.delenv(variable, raising=False)
    return project


def mail_line(project: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["gate", "--check", "--project", str(project)])
    [line] = [line for line in result.output.splitlines() if ": mail:" in line]
    return result.exit_code, line


def test_gate_check_names_the_mail_server_after_starttls_and_sign_in_and_sends_nothing(
        deployment: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with SmtpServer(starttls=True, auth=("relay", "secret")) as server:
        monkeypatch.setenv("TRUSTCENTER_SMTP_URL", server.url)
        monkeypatch.setenv("TRUSTCENTER_SMTP_CA_FILE", str(server.ca_file))
        code, line = mail_line(deployment)
        assert code == 0, line
        assert line == (f"ok: mail: 127.0.0.1:{server.port} (STARTTLS, signed in as relay) answers; nothing was "
                        "sent; messages come from trust@trust.example.test")
        assert server.messages == [] and [attempt.over_tls for attempt in server.auth_attempts] == [True]


def test_gate_check_fails_when_access_yaml_needs_mail_and_none_is_configured(deployment: Path) -> None:
    code, line = mail_line(deployment)
    assert code == 1
    assert line.startswith("error: mail: ")
    assert line.endswith("the request form and staff sign-in need e-mail: set TRUSTCENTER_SMTP_URL")


def test_gate_check_fails_when_the_mail_server_cannot_be_reached(deployment: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    with SmtpServer() as server:
        server.down()
        monkeypatch.setenv("TRUSTCENTER_SMTP_URL", server.url)
        code, line = mail_line(deployment)
    assert code == 1
    assert line.startswith(f"error: mail: cannot reach 127.0.0.1:{server.port}")


def test_gate_check_fails_on_a_certificate_not_trusted(deployment: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with SmtpServer(implicit_tls=True) as server:
        monkeypatch.setenv("TRUSTCENTER_SMTP_URL", server.url)
        code, line = mail_line(deployment)
    assert code == 1
    assert line.startswith("error: mail: the certificate of 127.0.0.1:") and "TRUSTCENTER_SMTP_CA_FILE" in line
