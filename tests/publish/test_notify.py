"""`trustcenter notify`, run as the deploy hook runs it: the real CLI on a git repository whose content changes,
the gate's database with subscribers who signed up through a real gate, the notices read from a real SMTP server."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from loopback import Browser, RunningGate, running_gate, settings
from smtp import ReceivedMail, SmtpServer
from support import edit, gate_database, git, git_repo, run_cli

from generator.content.project import Project
from generator.gate import app as gate_app
from generator.gate.db import Location, PostgresUrl, Tx
from generator.gate.mail import MailSettings
from generator.gate.subscribers import Subscriber, SubscriberStore
from generator.publish.notify import Outcome, notify, plain_text

# On SQLite and on PostgreSQL (`gate_store`, tests/conftest.py).
pytestmark = pytest.mark.usefixtures("gate_store")

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
    db: Location
    gate: RunningGate
    smtp: SmtpServer

    @property
    def db_argument(self) -> str:
        """`--db` for the CLI: the path, or the whole URL (a PostgresUrl's str() leaves its password out)."""
        return self.db.url if isinstance(self.db, PostgresUrl) else str(self.db)

    def notify(self, *args: str, mail: bool = True) -> str:
        env = {"TRUSTCENTER_SMTP_URL": self.smtp.url if mail else ""}
        result = run_cli("notify", "--db", self.db_argument, *args, cwd=self.project, env=env)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def commit(self, message: str) -> None:
        git(self.project, "add", "-A")
        git(self.project, "commit", "-q", "-m", message, date=str(TODAY))

    def rows(self, sql: str) -> list[tuple[object, ...]]:
        return gate_app.current_of(self.gate.app).store.db.read().all(sql)


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
        yield World(project, gate_database(tmp_path), gate, smtp_server)


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
    result = run_cli("notify", "--db", world.db_argument, cwd=world.project, env={"TRUSTCENTER_SMTP_URL": ""})
    assert result.returncode == 1
    assert result.stderr.startswith("error: e-mail is not configured: set TRUSTCENTER_SMTP_URL")
    assert "Traceback" not in result.stderr
    assert world.rows("SELECT COUNT(*) FROM notices WHERE sent IS NOT NULL") == [(0,)]
    assert world.notify().startswith("sent 1 notice(s) to 2 subscriber(s)")


def test_a_base_url_that_is_not_the_gates_address_is_refused(world: World) -> None:
    result = run_cli("notify", "--db", world.db_argument, "--base-url", "javascript:alert(1)", cwd=world.project)
    assert result.returncode == 1
    assert result.stderr.startswith("error: --base-url must be the gate's address")


def test_an_entry_becomes_readable_plain_text_with_absolute_links() -> None:
    html = ('<p>Hello <strong>all</strong> &amp; <a href="controls/">our controls</a>.</p>\n<ul>\n<li>one</li>\n'
            '<li>two: <a href="https://x.example/">https://x.example/</a></li>\n</ul>\n<p>Last<br>line</p>')
    assert plain_text(html, "https://trust.example.test/") == (
        "Hello all & our controls (https://trust.example.test/controls/).\n\n- one\n- two: https://x.example/\n\n"
        "Last\nline")


# ---------------------------------------------------------------- in chunks, and resumed

READERS = tuple(f"reader{number}@customer.example" for number in range(3))
EVERYONE = sorted((FIRST, SECOND, *READERS))
TITLES = ["New processing region in Frankfurt", "Subprocessor added: Example Mail"]
RESUMED = " (resumed: an earlier run stopped half-way; nobody gets it twice)"


def add_readers(world: World) -> None:
    """Three more confirmed subscribers (five in all), written as the subscription pages write them."""
    store = gate_app.current_of(world.gate.app).store
    with store.db.write() as tx:
        for address in READERS:
            store.subscribers.confirm(tx, store.subscribers.subscribe(tx, address, None).subscriber)


def two_new_notices(world: World) -> None:
    world.notify()  # the first run: the baseline
    (world.project / "trust" / "updates.yaml").write_text(UPDATE, encoding="utf-8")
    subs = world.project / "trust" / "subprocessors.yaml"
    subs.write_text(subs.read_text(encoding="utf-8") + NEW_SUBPROCESSOR, encoding="utf-8")
    world.commit("Announce Frankfurt and Example Mail")


class DiskFull(Exception):
    """The database failing part-way through a transaction (a full disk, on either store)."""


def notify_here(world: World, monkeypatch: pytest.MonkeyPatch, chunk: int) -> Outcome:
    """`trustcenter notify` in this process, so that a test can choose the chunk size or break a chunk."""
    monkeypatch.setenv("TRUSTCENTER_SMTP_URL", world.smtp.url)
    return notify(Project.at(world.project), world.db, chunk=chunk)


def subjects_to(world: World, since: int) -> dict[str, list[str]]:
    return {address: sorted(str(mail.message["Subject"]) for mail in mails)
            for address, mails in notices_to(world.smtp, since).items()}


def test_in_chunks_every_subscriber_gets_each_new_notice_exactly_once(world: World,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    add_readers(world)
    two_new_notices(world)
    before = len(world.smtp.messages)

    lines = notify_here(world, monkeypatch, chunk=2).lines()
    assert lines[0] == "sent 2 notice(s) to 5 subscriber(s) (10 message(s)):"
    assert sorted(lines[1:3]) == [f"  {TODAY.isoformat()}  {title}" for title in TITLES]
    assert lines[3:] == ["delivered 10 message(s) now"]
    world.smtp.wait_for(before + 10)
    assert subjects_to(world, before) == {address: [f"Example Co trust center: {title}" for title in TITLES]
                                          for address in EVERYONE}
    assert world.rows("SELECT notice_id, COUNT(*) FROM notice_sends GROUP BY notice_id ORDER BY notice_id") == [
        (notice_id, 5) for (notice_id,) in world.rows("SELECT id FROM notices WHERE sent IS NOT NULL ORDER BY id")]

    assert world.notify() == "no new notices (4 recorded before); nothing sent\n"
    assert len(world.smtp.messages) == before + 10


def test_a_run_that_stops_half_way_is_finished_by_the_next_and_nobody_gets_a_notice_twice(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    add_readers(world)
    two_new_notices(world)
    before = len(world.smtp.messages)
    outbox = world.rows("SELECT COUNT(*) FROM outbox")[0][0]
    queued: list[str] = []
    record = SubscriberStore.notice_queued

    def disk_full_in_the_second_chunk(self: SubscriberStore, tx: Tx, notice_id: str, subscriber: Subscriber) -> None:
        if len(queued) == 2:  # the first chunk committed; the second fails part-way, after queueing a message
            raise DiskFull("database or disk is full")
        record(self, tx, notice_id, subscriber)
        queued.append(subscriber.email)

    with monkeypatch.context() as patch:
        patch.setattr(SubscriberStore, "notice_queued", disk_full_in_the_second_chunk)
        with pytest.raises(DiskFull):
            notify_here(world, patch, chunk=2)
    # The first chunk stands (its two messages queued, not yet delivered); the second left nothing behind.
    [(half_sent, title)] = world.rows("SELECT id, title FROM notices WHERE sent IS NULL AND id IN "
                                      "(SELECT notice_id FROM notice_sends)")
    assert sorted(str(address) for (address,) in world.rows("SELECT target FROM outbox WHERE subject LIKE "
                                                            "'%trust center:%'")) == sorted(queued)
    assert world.rows("SELECT COUNT(*) FROM outbox")[0][0] == outbox + 2
    assert world.rows("SELECT COUNT(*) FROM notices") == [(3,)]  # the other notice: not begun, not recorded
    assert len(world.smtp.messages) == before
    other = next(each for each in TITLES if each != title)
    expected = sorted([f"  {TODAY.isoformat()}  {title}{RESUMED}", f"  {TODAY.isoformat()}  {other}"])

    dry = world.notify("--dry-run").splitlines()
    assert dry[0] == "would send 2 notice(s) to 5 subscriber(s) (8 message(s)):"  # 3 to finish one, 5 of the other
    assert sorted(dry[1:3]) == expected
    assert dry[3:] == ["dry run: nothing was recorded or queued"]
    assert world.rows("SELECT COUNT(*) FROM outbox")[0][0] == outbox + 2

    done = world.notify().splitlines()
    assert done[0] == "sent 2 notice(s) to 5 subscriber(s) (8 message(s)):"
    assert sorted(done[1:3]) == expected
    assert done[3:] == ["delivered 10 message(s) now"]  # the first chunk's two, and this run's eight
    world.smtp.wait_for(before + 10)
    assert subjects_to(world, before) == {address: [f"Example Co trust center: {each}" for each in TITLES]
                                          for address in EVERYONE}
    assert world.rows("SELECT notice_id, COUNT(*) FROM notice_sends GROUP BY notice_id ORDER BY notice_id") == sorted(
        (notice_id, 5) for (notice_id,) in world.rows("SELECT id FROM notices WHERE sent IS NOT NULL"))
    assert half_sent in {notice_id for (notice_id,) in world.rows("SELECT notice_id FROM notice_sends")}

    assert world.notify() == "no new notices (4 recorded before); nothing sent\n"
    assert world.notify("--dry-run") == "no new notices (4 recorded before); nothing would be sent\n"
    assert len(world.smtp.messages) == before + 10
