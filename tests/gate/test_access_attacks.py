"""Attacks on access requests, grants, the staff page, subscriptions, the outbox and webhooks, each tried against a
real gate on loopback with a real SMTP server (and, where the attack needs many client addresses, behind a
trusted proxy as `deploy/nginx.conf` runs it). Each test is a finding of the attack review, said in its first
comment, and the proof of its fix; the last ones are attacks that failed, kept as guards."""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import waitress  # type: ignore[import-untyped]
from conftest import GATE_URL, GATED_ID, OTHER_GATED_ID
from loopback import Browser, Reply, RunningGate, settings
from smtp import ReceivedMail, SmtpServer
from support import REPO, git, git_repo, run_cli
from waitress import wasyncore

from generator.gate import app as gate_app
from generator.gate.audit import Kind, stamp
from generator.gate.grants import RequestStatus
from generator.gate.mail import MailSettings
from generator.gate.outbox import Kind as OutboxKind

# On SQLite and on PostgreSQL (`gate_store`, tests/conftest.py).
pytestmark = pytest.mark.usefixtures("gate_store")

ACCESS_YAML = """\
staff: [staff@example.com]
default_days: 30
max_days: 90
notify_staff: false
rules:
  - name: Customers
    domains: [customer.example]
    decision: approve
"""
VICTIM = "victim@elsewhere.example"


# ---------------------------------------------------------------- a gate, behind a proxy when the test needs one


@contextlib.contextmanager
def serve(project: Path, tmp_path: Path, smtp: SmtpServer, *, proxied: bool = False,
          **overrides: Any) -> Iterator[RunningGate]:
    """A gate with access.yaml and mail to `smtp`. `proxied`: waitress believes X-Forwarded-For from loopback, as
    `trustcenter gate --trusted-proxy` does behind nginx, so a test can be any client address it names."""
    access = project / "trust" / "access.yaml"
    if not access.exists():
        access.write_text(ACCESS_YAML, encoding="utf-8")
    app = gate_app.create_app(settings(project, tmp_path, mail=MailSettings(smtp_url=smtp.url), **overrides))
    proxy: dict[str, Any] = {}
    if proxied:
        proxy = {"trusted_proxy": "127.0.0.1", "trusted_proxy_count": 1,
                 "trusted_proxy_headers": {"x-forwarded-for", "x-forwarded-host", "x-forwarded-proto"},
                 "clear_untrusted_proxy_headers": True}
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=8, ident="", **gate_app.SERVER_LIMITS,
                                    **proxy)
    port = int(server.effective_port)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield RunningGate(f"http://127.0.0.1:{port}", "127.0.0.1", port, app)
    finally:
        server.task_dispatcher.shutdown()
        try:
            server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
        except OSError:
            wasyncore.close_all(server._map, ignore_all=True)
        thread.join(timeout=10)
        gate_app.close(app)


class Client(Browser):
    """A browser at one client address (as the trusted proxy reports it)."""

    def __init__(self, gate: RunningGate, address: str | None = None) -> None:
        super().__init__(gate.host, gate.port)
        self.address = address

    def request(self, method: str, path: str, **options: Any) -> Reply:
        if self.address is not None:
            options["headers"] = {"X-Forwarded-For": self.address, **(options.get("headers") or {})}
        return super().request(method, path, **options)


@pytest.fixture
def gate(project: Path, tmp_path: Path, smtp_server: SmtpServer) -> Iterator[RunningGate]:
    with serve(project, tmp_path, smtp_server) as running:
        yield running


@pytest.fixture
def proxied(project: Path, tmp_path: Path, smtp_server: SmtpServer) -> Iterator[RunningGate]:
    with serve(project, tmp_path, smtp_server, proxied=True) as running:
        yield running


def the_gate(running: RunningGate) -> gate_app.Gate:
    return gate_app.current_of(running.app)


def deliver(running: RunningGate) -> None:
    """One pass of the gate's outbox worker, as its thread makes when woken."""
    the_gate(running).delivery.deliver_due()


def mails_to(running: RunningGate, smtp: SmtpServer, address: str, count: int = 1) -> list[ReceivedMail]:
    """The messages to `address` once at least `count` arrived (10 s at most), delivering the outbox meanwhile."""
    deadline = time.monotonic() + 10
    while True:
        deliver(running)
        found = [m for m in smtp.messages if address in m.rcpt_tos]
        if len(found) >= count:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{count} message(s) to {address} expected, {len(found)} arrived")
        time.sleep(0.05)


def delivered_to(running: RunningGate, smtp: SmtpServer, address: str) -> list[ReceivedMail]:
    """Every message to `address` once the outbox has nothing left to deliver."""
    deliver(running)
    assert the_gate(running).store.outbox.next_due(OutboxKind.MAIL) is None
    return [m for m in smtp.messages if address in m.rcpt_tos]


def link_in(mail: ReceivedMail, prefix: str) -> str:
    [url] = [url for url in SmtpServer.links(mail) if urllib.parse.urlsplit(url).path.startswith(prefix)]
    assert url.startswith(GATE_URL + prefix), url
    return urllib.parse.urlsplit(url).path


def send_request(client: Browser, *, email: str, documents: tuple[str, ...] = (GATED_ID,), name: str = "Jane Doe",
                 company: str = "Customer Ltd", **extra: str) -> Reply:
    page = client.get("/request")
    assert page.status == 200, page.text
    form: list[tuple[str, str]] = [("csrf", client.csrf_from(page)), ("name", name), ("email", email),
                                   ("company", company), *(("documents", doc) for doc in documents),
                                   *extra.items()]
    return client.post("/request", form)


def confirm(client: Browser, path: str) -> Reply:
    page = client.get(path)
    assert page.status == 200, page.text
    return client.post(path, {"csrf": client.csrf_from(page)})


def requests_of(running: RunningGate, email: str) -> list[Any]:
    return [r for r in the_gate(running).store.access.requests() if r.email == email]


# ---------------------------------------------------------------- the request form: mail bombs and rewrites


def test_typing_a_strangers_address_from_many_networks_mails_it_three_times_at_most(
        proxied: RunningGate, smtp_server: SmtpServer) -> None:
    # Finding: every form sent again for an unconfirmed request mailed a new confirmation link, and added no row,
    # so no limit saw it: anyone could fill a stranger's mailbox with the company's messages.
    for number in range(8):
        client = Client(proxied, f"198.51.100.{number + 1}")
        assert send_request(client, email=VICTIM, documents=(GATED_ID, OTHER_GATED_ID)[number % 2:]).status == 303
    assert len(delivered_to(proxied, smtp_server, VICTIM)) == 3
    [request] = requests_of(proxied, VICTIM)
    assert request.status is RequestStatus.UNCONFIRMED
    refused = the_gate(proxied).log.events(request_id=request.id, kinds=[Kind.REQUESTED])[3:]
    assert len(refused) == 5 and all("nothing changed" in (event.detail or "") for event in refused)


def test_every_form_sent_counts_against_the_network_not_only_new_requests(
        gate: RunningGate, smtp_server: SmtpServer) -> None:
    # Finding: the limit per network counted rows, and the same address asked for again makes none.
    browser = gate.browser()
    for _ in range(5):
        assert send_request(browser, email=VICTIM).status == 303
    refused = send_request(browser, email="someone@elsewhere.example")
    assert refused.status == 429
    assert requests_of(gate, "someone@elsewhere.example") == []


def test_an_ipv6_network_cannot_rotate_its_addresses_past_the_request_limit(
        project: Path, tmp_path: Path, smtp_server: SmtpServer) -> None:
    # Finding: rows kept the client's whole address while the limit counted its /64, so no IPv6 client was ever
    # limited. The count in the database is what survives a restart, so the last form is sent after one.
    with serve(project, tmp_path, smtp_server, proxied=True) as running:
        for number in range(1, 6):
            client = Client(running, f"2001:db8:1:2::{number:x}")
            assert send_request(client, email=f"p{number}@elsewhere.example").status == 303
    with serve(project, tmp_path, smtp_server, proxied=True) as running:
        assert send_request(Client(running, "2001:db8:1:2:ffff::9"), email="p6@elsewhere.example").status == 429
        assert send_request(Client(running, "2001:db8:1:3::1"), email="p7@elsewhere.example").status == 303
        assert requests_of(running, "p6@elsewhere.example") == []


def test_a_confirmed_request_cannot_be_rewritten_by_someone_typing_its_address(
        gate: RunningGate, smtp_server: SmtpServer) -> None:
    # Finding: the form added to a request waiting for staff without any confirmation: anyone could change the
    # name and company a grant would be stamped with, add documents and claim an NDA on file for someone else.
    rita = gate.browser()
    send_request(rita, email="rita@prospect.example", name="Rita Prospect", company="Prospect Ltd")
    [mail] = mails_to(gate, smtp_server, "rita@prospect.example")
    assert "Request received" in confirm(rita, link_in(mail, "/request/confirm/")).text
    [pending] = requests_of(gate, "rita@prospect.example")
    assert pending.status is RequestStatus.PENDING

    mallory = gate.browser()
    assert send_request(mallory, email="rita@prospect.example", name="Mallory", company="Evil Corp",
                        documents=(OTHER_GATED_ID,), nda_on_file="yes", reason="already signed").status == 303
    store = the_gate(gate).store.access
    assert store.find_request(pending.id) == pending  # untouched
    [new] = [r for r in requests_of(gate, "rita@prospect.example") if r.id != pending.id]
    assert new.status is RequestStatus.UNCONFIRMED and new.name == "Mallory"  # it needs Rita's own click


def test_the_confirmation_mail_carries_no_text_typed_into_the_form(gate: RunningGate,
                                                                   smtp_server: SmtpServer) -> None:
    # Finding: the first line of the confirmation mail was the name typed into the form, sent to whatever address
    # was typed with it: a way to put anyone's words (a link, a phone number) into a message from the company.
    lure = "Your account is locked: call +1 555 0100 or see https://evil.example/login"
    send_request(gate.browser(), email=VICTIM, name=lure, company="Acme https://evil.example")
    [mail] = mails_to(gate, smtp_server, VICTIM)
    for part in ("plain", "html"):
        body = mail.message.get_body(preferencelist=(part,))
        assert body is not None
        text = str(body.get_content())
        assert "evil.example" not in text and "555" not in text and "Acme" not in text
    assert "evil.example" not in str(mail.message["Subject"])


def test_a_look_alike_domain_is_kept_and_mailed_in_its_ascii_form(gate: RunningGate,
                                                                  smtp_server: SmtpServer) -> None:
    # Finding: addresses were kept with their domain in Unicode: "cüstomer.example" (or one with a Cyrillic
    # "а") showed staff a domain that looks like a customer's, rules (ASCII domains) never matched one, and the
    # mail needed SMTPUTF8. The ASCII form (xn--) shows a look-alike for what it is.
    assert send_request(gate.browser(), email="Jane@Cüstomer.example").status == 303
    ascii_address = "jane@" + "cüstomer.example".encode("idna").decode()
    assert ascii_address.startswith("jane@xn--")
    [request] = requests_of(gate, ascii_address)
    assert request.email.isascii()
    [mail] = mails_to(gate, smtp_server, ascii_address)
    assert mail.rcpt_tos == [ascii_address]


# ---------------------------------------------------------------- the outbox: what a copy or a writer of the database gets


def granted(running: RunningGate, smtp: SmtpServer, email: str = "jane@customer.example") -> tuple[str, str]:
    """A request approved by the Customers rule: (the confirmation link's token, the grant link's token)."""
    client = running.browser()
    send_request(client, email=email)
    [confirmation] = mails_to(running, smtp, email)
    confirm_path = link_in(confirmation, "/request/confirm/")
    assert "Request approved" in confirm(client, confirm_path).text
    grant_mail = mails_to(running, smtp, email, 2)[1]
    return confirm_path.rsplit("/", 1)[1], link_in(grant_mail, "/grant/").rsplit("/", 1)[1]


def test_a_delivered_message_leaves_no_working_link_in_the_database(gate: RunningGate,
                                                                    smtp_server: SmtpServer) -> None:
    # Finding: the outbox kept every message whole after sending it, so a copy of the database (a backup, a
    # stolen disk) held every grant link still valid, though grants keep only their token's hash.
    _, grant = granted(gate, smtp_server)
    sent = [(kind, bytes(body)) for kind, body in the_gate(gate).store.db.read().all(
        "SELECT kind, body FROM outbox WHERE sent IS NOT NULL")]
    assert [kind for kind, _ in sent].count("mail") == 2  # the confirmation, the grant
    assert [body for _, body in sent] == [b""] * len(sent)
    assert the_gate(gate).store.access.grant_by_token(grant) is not None  # the link itself still works


def test_an_outbox_row_changed_in_the_database_is_never_delivered(gate: RunningGate, smtp_server: SmtpServer,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    # Finding: rows were delivered as the table said: someone who could write the database (not read the audit
    # key) could send a queued grant link to themselves, or any message from the company's address.
    send_request(gate.browser(), email="jane@customer.example")
    outbox = the_gate(gate).store.outbox
    [row] = outbox.items()
    with the_gate(gate).store.db.write() as db:
        body = bytes(db.scalar("SELECT body FROM outbox WHERE id = ?", (row.id,)))
        db.execute("UPDATE outbox SET target = ?, body = ? WHERE id = ?",
                   ("mallory@evil.example", body.replace(b"jane@customer.example", b"mallory@evil.example"), row.id))
        # ... and a message of their own, copied from a genuine row under a new id.
        db.execute("INSERT INTO outbox (created, kind, target, subject, body, mac, attempts, next_attempt) "
                   "SELECT created, kind, 'mallory@evil.example', subject, body, mac, 0, next_attempt FROM outbox "
                   "WHERE id = ?", (row.id,))
    deliver(gate)
    assert smtp_server.messages == []
    assert {item.status for item in outbox.items()} == {"failed"}
    assert all("changed in the database" in (item.last_error or "") for item in outbox.items())
    assert "the database cannot be trusted" in caplog.text


# ---------------------------------------------------------------- webhooks: a receiver that hardly answers


class DripReceiver:
    """An HTTP 'receiver' that reads a request, then answers one byte every 0.3 s and never finishes: each read
    of the gate gets something, so no per-read timeout ever fires."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.stopping = threading.Event()
        self.connected = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        self.listener.settimeout(0.2)
        while not self.stopping.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._drip, args=(connection,), daemon=True).start()

    def _drip(self, connection: socket.socket) -> None:
        with connection:
            connection.recv(65536)
            self.connected.set()
            answer = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10_000
            for byte in answer:
                if self.stopping.wait(0.3):
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return

    def __enter__(self) -> DripReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join(timeout=10)
        self.listener.close()


def test_a_webhook_receiver_that_hardly_answers_holds_up_no_mail_and_is_cut_off(
        project: Path, tmp_path: Path, smtp_server: SmtpServer) -> None:
    # Finding: one thread delivered mail and webhooks, and a receiver answering a byte at a time never tripped
    # the per-read timeout: confirmation, sign-in and grant mail waited behind it for hours.
    hooks = tmp_path / "webhooks.yaml"
    with DripReceiver() as receiver:
        hooks.write_text(f'[{{"name": "crm", "url": "http://127.0.0.1:{receiver.port}/hook", '
                         f'"secret": "whsec_{"A" * 44}"}}]', encoding="utf-8")
        with serve(project, tmp_path, smtp_server, webhooks_file=hooks) as running:
            worker = the_gate(running).delivery
            worker.transports[OutboxKind.WEBHOOK].timeout = 3.0  # type: ignore[union-attr]
            worker.start()
            client = running.browser()
            send_request(client, email="jane@customer.example")
            [mail] = smtp_server.wait_for(1)
            confirm(client, link_in(mail, "/request/confirm/"))  # access_request.received, .approved: webhooks
            assert receiver.connected.wait(10)  # the worker is inside the slow call now
            send_request(client, email="joe@customer.example")
            smtp_server.wait_for(3, timeout=2)  # the grant to jane, and joe's confirmation, meanwhile
            deadline = time.monotonic() + 15
            while not any("did not answer within" in (item.last_error or "")
                          for item in the_gate(running).store.outbox.items()):
                assert time.monotonic() < deadline, "the slow webhook call was never cut off"
                time.sleep(0.1)


# ---------------------------------------------------------------- who is staff, who subscribes: answers in even time


def timed_post(client: Browser, path: str, form: dict[str, str]) -> tuple[Reply, float]:
    started = time.monotonic()
    reply = client.post(path, form)
    return reply, time.monotonic() - started


def test_asking_for_a_staff_link_takes_as_long_for_an_address_not_on_the_list(gate: RunningGate,
                                                                             smtp_server: SmtpServer) -> None:
    # Finding: a link for a staff address was a database write and a rendered message (about 4 ms), any other
    # address nothing (about 2 ms): the time of the answer told who is on the staff list.
    browser = gate.browser()
    csrf = browser.csrf_from(browser.get("/staff"))
    for address in ("staff@example.com", "nobody@example.com", "Staff@example.com", "ceo@example.com"):
        reply, seconds = timed_post(browser, "/staff/sign-in", {"csrf": csrf, "email": address})
        assert reply.status == 200 and seconds >= gate_app.EVEN_ANSWER_SECONDS, (address, seconds)
    assert len(mails_to(gate, smtp_server, "staff@example.com", 2)) == 2


def test_subscribing_takes_as_long_for_an_address_already_subscribed(gate: RunningGate,
                                                                     smtp_server: SmtpServer) -> None:
    # Finding: the same, for the subscribe form, which promises not to tell who subscribes.
    browser = gate.browser()
    csrf = browser.csrf_from(browser.get("/subscribe"))
    assert browser.post("/subscribe", {"csrf": csrf, "email": "reader@elsewhere.example"}).status == 303
    [mail] = mails_to(gate, smtp_server, "reader@elsewhere.example")
    confirm(browser, link_in(mail, "/subscribe/confirm/"))
    for address in ("reader@elsewhere.example", "new@elsewhere.example"):
        reply, seconds = timed_post(browser, "/subscribe", {"csrf": csrf, "email": address})
        assert reply.status == 303 and seconds >= gate_app.EVEN_ANSWER_SECONDS, (address, seconds)


# ---------------------------------------------------------------- subscriptions: mail bombs


def test_subscribing_a_strangers_address_mails_it_three_times_a_day_at_most(
        proxied: RunningGate, smtp_server: SmtpServer) -> None:
    # Finding: a confirmation mail could be asked for every RESEND_MINUTES (10) for ever: 144 a day to anyone,
    # from one network, since asking again for one address adds no row to the per-network count.
    for number in range(5):
        client = Client(proxied, f"198.51.100.{number + 1}")
        csrf = client.csrf_from(client.get("/subscribe"))
        assert client.post("/subscribe", {"csrf": csrf, "email": VICTIM}).status == 303
        # RESEND_MINUTES pass (the confirmation was mailed 11 minutes ago, as far as the row says).
        with the_gate(proxied).store.db.write() as db:
            ago = dt.datetime.now(dt.UTC) + dt.timedelta(hours=48) - dt.timedelta(minutes=11)
            db.execute("UPDATE subscribers SET confirm_expires = ?", (stamp(ago),))
    assert len(delivered_to(proxied, smtp_server, VICTIM)) == 3


def test_every_subscribe_form_counts_against_the_network(gate: RunningGate, smtp_server: SmtpServer) -> None:
    # Finding: asking again for an address subscribed (or just mailed) changed nothing, so nothing counted it:
    # one client could send the form without end (each now also takes EVEN_ANSWER_SECONDS of a worker).
    browser = gate.browser()
    csrf = browser.csrf_from(browser.get("/subscribe"))
    for _ in range(10):
        assert browser.post("/subscribe", {"csrf": csrf, "email": VICTIM}).status == 303
    assert browser.post("/subscribe", {"csrf": csrf, "email": VICTIM}).status == 429
    assert len(delivered_to(gate, smtp_server, VICTIM)) == 1


# ---------------------------------------------------------------- a pull request that changes access.yaml


def test_a_pull_request_that_opens_the_documents_to_everyone_is_under_needs_review(project: Path) -> None:
    # Finding: `changes` said nothing at all about access.yaml, and CODEOWNERS did not name it: a pull request
    # approving every address without an NDA, or adding a staff member, passed as a change to nothing.
    access = project / "trust" / "access.yaml"
    access.write_text(ACCESS_YAML, encoding="utf-8")
    git_repo(project)
    git(project, "checkout", "-q", "-b", "feature")
    access.write_text(ACCESS_YAML.replace("staff: [staff@example.com]", "staff: [mallory@example.com]")
                      .replace("max_days: 90", "max_days: 365")
                      + "  - name: Everyone\n    everyone: true\n    decision: approve\n    nda: on_file\n",
                      encoding="utf-8")
    result = run_cli("changes", "--since", "main", cwd=project)
    assert result.returncode == 0, result.stderr
    review = result.stdout.split("Needs review", 1)[1]
    assert "rule Everyone APPROVES EVERY address" in review and "WITHOUT the NDA" in review
    assert "Staff member mallory@example.com added" in review
    assert "Staff member staff@example.com removed" in review
    assert "max_days changed from 90 to 365" in review
    owners = (REPO / "generator" / "publish" / "skeleton" / "CODEOWNERS").read_text(encoding="utf-8")
    assert any(line.split()[:1] == ["/trust/access.yaml"] for line in owners.splitlines())


# ---------------------------------------------------------------- held: kept as guards


def test_links_in_mails_never_come_from_the_host_the_client_names(proxied: RunningGate,
                                                                 smtp_server: SmtpServer) -> None:
    # Held: a Host or X-Forwarded-Host of the attacker's choosing does not reach a link in a mail.
    client = Client(proxied, "198.51.100.7")
    page = client.get("/request", headers={"Host": "evil.example", "X-Forwarded-Host": "evil.example"})
    form = [("csrf", client.csrf_from(page)), ("name", "Jane"), ("email", "jane@customer.example"),
            ("company", "Customer"), ("documents", GATED_ID)]
    assert client.post("/request", form, headers={"Host": "evil.example",
                                                  "X-Forwarded-Host": "evil.example"}).status == 303
    [mail] = mails_to(proxied, smtp_server, "jane@customer.example")
    links = SmtpServer.links(mail)
    assert links and {urllib.parse.urlsplit(url).netloc for url in links} == {urllib.parse.urlsplit(GATE_URL).netloc}

