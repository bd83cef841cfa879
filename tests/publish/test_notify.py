"""`trustcenter notify`, run as the deploy hook runs it: the real CLI on a git repository whose content changes,
the gate's database with subscribers who signed up through a real gate, the notices read from a real SMTP server."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import sqlite3
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from loopback import Browser, RunningGate, running_gate, settings
from smtp import ReceivedMail, SmtpServer
from support import edit, git, git_repo, run_cli

from generator.gate import app as gate_app
from generator.gate.mail import MailSettings
from generator.publish.notify import plain_text

TODAY = dt.date.today()
PUBLIC = "https://trust.example.test"
FIRST, SECOND, PENDING, GONE = ("first@customer.example", "second@customer.example", "pending@customer.example",
                                "gone@customer.example")
UPDATE = f"""\
updates:
  - date: {TODAY}
    title: New processing region in Frankfurt
    body: |
      Customers can now keep their data in Frankfurt. See [our controls](controls/).
"""
NEW_SUBPROCESSOR = f"""\
  - name: Example Mail
    purpose: Transactional email
    data_categories: [email addresses]
    locations: [IE]
    website: https://mail.example.test
    added: {TODAY}
"""


@dataclasses.dataclass
class World:
    project: Path
    db: Path
    gate: RunningGate
    smtp: SmtpServer

    def notify(self, *args: str, mail: bool = True) -> str:
        env = {"TRUSTCENTER_SMTP_URL": self.smtp.url if mail else ""}
        result = run_cli("notify", "--db", str(self.db), *args, cwd=self.project, env=env)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def commit(self, message: str) -> None:
        git(self.project, "add", "-A")
        git(self.project, "commit", "-q", "-m", message, date=str(TODAY))

    def rows(self, sql: str) -> list[tuple[object, ...]]:
        with contextlib.closing(sqlite3.connect(self.db)) as db:
            return db.execute(sql).fetchall()


def path_of(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == PUBLIC, url
    return parts.path


def deliver(gate: RunningGate) -> None:
    gate_app.current_of(gate.app).delivery.deliver_due()


def wait_for_mail(gate: RunningGate, smtp: SmtpServer, address: str) -> ReceivedMail:
    deadline = time.monotonic() + 10
    while True:
        deliver(gate)
        found = [m for m in smtp.messages if m.rcpt_tos == [address]]
        if found:
            return found[-1]
        assert time.monotonic() < deadline, f"no message to {address}"
        time.sleep(0.05)


def sign_up(gate: RunningGate, smtp: SmtpServer, email: str, *, confirm: bool = True) -> None:
    """Subscribe through the gate's form, and confirm through the link mailed, as the reader does."""
    browser = gate.browser()
    form = browser.get("/subscribe")
    assert browser.post("/subscribe", {"csrf": browser.csrf_from(form), "email": email}).status == 303
    mail = wait_for_mail(gate, smtp, email)
    if confirm:
        [link] = [url for url in SmtpServer.links(mail) if "/subscribe/confirm/" in url]
        page = browser.get(path_of(link))
        assert browser.post(path_of(link), {"csrf": browser.csrf_from(page)}).status == 200


def unsubscribe_by_header(gate: RunningGate, mail: ReceivedMail) -> None:
    """What a mail provider does for the "Unsubscribe" button: a POST from its own server, no cookies."""
    url = str(mail.message["List-Unsubscribe"]).strip("<>")
    reply = Browser(gate.host, gate.port).post(path_of(url), {"List-Unsubscribe": "One-Click"})
    assert reply.status == 200


def notices_to(smtp: SmtpServer, since: int) -> dict[str, list[ReceivedMail]]:
    found: dict[str, list[ReceivedMail]] = {}
    for mail in smtp.messages[since:]:
        for to in mail.rcpt_tos:
            found.setdefault(to, []).append(mail)
    return found


@pytest.fixture
def world(project: Path, tmp_path: Path, smtp_server: SmtpServer) -> Iterator[World]:
    """A trust center in git; its gate with two confirmed subscribers, one who never confirmed and one who left."""
    git_repo(project, date=str(TODAY - dt.timedelta(days=10)))
    with running_gate(settings(project, tmp_path, mail=MailSettings(smtp_url=smtp_server.url))) as gate:
        for address in (FIRST, SECOND, GONE):
            sign_up(gate, smtp_server, address)
        sign_up(gate, smtp_server, PENDING, confirm=False)
        store = gate_app.current_of(gate.app).store
        gone = store.subscribers.by_email(store.db.read(), GONE)
        assert gone is not None
        token = store.subscribers.unsubscribe_token(gone.id)
        assert Browser(gate.host, gate.port).post(f"/subscribe/unsubscribe/{token}",
                                                  {"List-Unsubscribe": "One-Click"}).status == 200
        yield World(project, tmp_path / "state" / "gate.sqlite3", gate, smtp_server)


def test_the_first_run_records_every_notice_and_sends_none(world: World) -> None:
    before = len(world.smtp.messages)
    out = world.notify()
    assert out == "first run: 2 notice(s) recorded, none sent; later ones will be\n"
    assert len(world.smtp.messages) == before
    assert sorted(str(title) for title, sent in world.rows("SELECT title, sent FROM notices") if sent is None) == [
        "Report issued: SOC 2 Type II", "Subprocessor added: Example Cloud"]
    assert world.notify() == "no new notices (2 recorded before); nothing sent\n"
    assert len(world.smtp.messages) == before


def test_a_committed_change_goes_once_to_each_confirmed_subscriber_with_their_own_unsubscribe_link(
        world: World) -> None:
    world.notify()
    (world.project / "trust" / "updates.yaml").write_text(UPDATE, encoding="utf-8")
    world.commit("Announce Frankfurt")
    before = len(world.smtp.messages)

    out = world.notify()
    assert out.splitlines() == [
        "sent 1 notice(s) to 2 subscriber(s) (2 message(s)):",
        f"  {TODAY.isoformat()}  New processing region in Frankfurt",
        "delivered 2 message(s) now",
    ]
    received = notices_to(world.smtp, before)
    assert sorted(received) == [FIRST, SECOND]  # not the one who never confirmed, nor the one who left
    assert all(len(mails) == 1 for mails in received.values())
    links = set()
    for address, [mail] in received.items():
        message = mail.message
        assert message["Subject"] == "Example Co trust center: New processing region in Frankfurt"
        unsubscribe = str(message["List-Unsubscribe"])
        assert unsubscribe.startswith(f"<{PUBLIC}/subscribe/unsubscribe/") and unsubscribe.endswith(">")
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        links.add(unsubscribe)
        text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
        assert "Customers can now keep their data in Frankfurt. See our controls (https://trust.example.test/controls/)." \
            in text
        assert f"{PUBLIC}/updates/#{TODAY.isoformat()}-new-processing-region-in-frankfurt" in text
        assert unsubscribe.strip("<>") in text
        html_part = message.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
        assert '<a href="https://trust.example.test/controls/">our controls</a>' in html_part
        assert address in mail.rcpt_tos
    assert len(links) == 2  # each subscriber's own link

    assert world.notify() == "no new notices (3 recorded before); nothing sent\n"
    assert len(world.smtp.messages) == before + 2
    assert world.rows("SELECT COUNT(*) FROM notices WHERE sent IS NOT NULL") == [(1,)]


def test_a_dry_run_says_what_would_go_out_and_changes_nothing(world: World) -> None:
    assert world.notify("--dry-run") == ("first run: 2 notice(s) would be recorded, none sent; later ones will be "
                                         "(dry run: nothing was changed)\n")
    assert world.rows("SELECT COUNT(*) FROM notices") == [(0,)]
    world.notify()
    subs = world.project / "trust" / "subprocessors.yaml"
    subs.write_text(subs.read_text(encoding="utf-8") + NEW_SUBPROCESSOR, encoding="utf-8")
    world.commit("Add Example Mail")
    outbox = world.rows("SELECT COUNT(*) FROM outbox")
    before = len(world.smtp.messages)

    assert world.notify("--dry-run").splitlines() == [
        "would send 1 notice(s) to 2 subscriber(s) (2 message(s)):",
        f"  {TODAY.isoformat()}  Subprocessor added: Example Mail",
        "dry run: nothing was recorded or queued",
    ]
    assert world.rows("SELECT COUNT(*) FROM notices") == [(2,)]
    assert world.rows("SELECT COUNT(*) FROM outbox") == outbox
    assert len(world.smtp.messages) == before
    assert world.notify().startswith("sent 1 notice(s) to 2 subscriber(s)")


def test_after_a_one_click_unsubscribe_no_more_notices_go_to_that_address(world: World) -> None:
    world.notify()
    (world.project / "trust" / "updates.yaml").write_text(UPDATE, encoding="utf-8")
    world.commit("Announce Frankfurt")
    before = len(world.smtp.messages)
    world.notify()
    [first_notice] = notices_to(world.smtp, before)[FIRST]
    unsubscribe_by_header(world.gate, first_notice)

    edit(world.project / "trust" / "subprocessors.yaml", "    added: 2024-01-01\n",
         f"    added: 2024-01-01\n    removed: {TODAY}\n")
    world.commit("Example Cloud no longer processes data")
    before = len(world.smtp.messages)
    out = world.notify()
    assert out.splitlines()[:2] == ["sent 1 notice(s) to 1 subscriber(s) (1 message(s)):",
                                    f"  {TODAY.isoformat()}  Subprocessor removed: Example Cloud"]
    assert sorted(notices_to(world.smtp, before)) == [SECOND]


def test_without_e_mail_configured_notify_fails_and_marks_nothing_sent(world: World) -> None:
    world.notify()
    (world.project / "trust" / "updates.yaml").write_text(UPDATE, encoding="utf-8")
    world.commit("Announce Frankfurt")
    result = run_cli("notify", "--db", str(world.db), cwd=world.project, env={"TRUSTCENTER_SMTP_URL": ""})
    assert result.returncode == 1
    assert result.stderr.startswith("error: e-mail is not configured: set TRUSTCENTER_SMTP_URL")
    assert "Traceback" not in result.stderr
    assert world.rows("SELECT COUNT(*) FROM notices WHERE sent IS NOT NULL") == [(0,)]
    assert world.notify().startswith("sent 1 notice(s) to 2 subscriber(s)")


def test_a_base_url_that_is_not_the_gates_address_is_refused(world: World) -> None:
    result = run_cli("notify", "--db", str(world.db), "--base-url", "javascript:alert(1)", cwd=world.project)
    assert result.returncode == 1
    assert result.stderr.startswith("error: --base-url must be the gate's address")


def test_an_entry_becomes_readable_plain_text_with_absolute_links() -> None:
    html = ('<p>Hello <strong>all</strong> &amp; <a href="controls/">our controls</a>.</p>\n<ul>\n<li>one</li>\n'
            '<li>two: <a href="https://x.example/">https://x.example/</a></li>\n</ul>\n<p>Last<br>line</p>')
    assert plain_text(html, "https://trust.example.test/") == (
        "Hello all & our controls (https://trust.example.test/controls/).\n\n- one\n- two: https://x.example/\n\n"
        "Last\nline")
