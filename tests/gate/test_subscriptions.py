"""Subscriptions to the change notices, tried as readers do it: the form, the confirmation mailed to them (read from a
real SMTP server on loopback), the click that confirms it, and the one-click unsubscribe a mail provider posts."""

from __future__ import annotations

import contextlib
import datetime as dt
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from loopback import Browser, Reply, RunningGate, assert_gate_headers, running_gate, settings
from smtp import ReceivedMail, SmtpServer
from support import chromium, copy_demo, edit, run_cli

from generator.content.project import Project
from generator.content.validate import load_valid
from generator.gate import app as gate_app
from generator.gate import audit
from generator.gate.mail import MailSettings
from generator.gate.subscribers import Subscriber
from generator.site import pages, structure

# On SQLite and on PostgreSQL (`gate_store`, tests/conftest.py).
pytestmark = pytest.mark.usefixtures("gate_store")

READER = "reader@customer.example"
PUBLIC = "https://trust.example.test"


@contextlib.contextmanager
def subscription_gate(project: Path, tmp_path: Path, smtp: SmtpServer | None, **overrides: Any
                      ) -> Iterator[RunningGate]:
    mail = MailSettings(smtp_url=smtp.url) if smtp is not None else None
    with running_gate(settings(project, tmp_path, mail=mail, **overrides)) as gate:
        yield gate


@pytest.fixture
def gate(project: Path, tmp_path: Path, smtp_server: SmtpServer) -> Iterator[RunningGate]:
    with subscription_gate(project, tmp_path, smtp_server) as running:
        yield running


def deliver(gate: RunningGate) -> None:
    """What the gate's delivery thread does when woken: one pass over the outbox."""
    gate_app.current_of(gate.app).delivery.deliver_due()


def mails_to(gate: RunningGate, smtp: SmtpServer, address: str, count: int = 1) -> list[ReceivedMail]:
    """The messages to `address`, once `count` of them have arrived (10 s at most)."""
    deadline = time.monotonic() + 10
    while True:
        deliver(gate)
        found = [m for m in smtp.messages if address.lower() in (to.lower() for to in m.rcpt_tos)]
        if len(found) >= count:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{count} message(s) to {address} expected, {len(found)} arrived")
        time.sleep(0.05)


def queued_mail(gate: RunningGate) -> int:
    """Messages the gate has queued so far (sent or not): what a refused form must not add to."""
    return len(gate_app.current_of(gate.app).store.outbox.items())


def path_of(url: str) -> str:
    """A link from an e-mail, as a path on the test gate (the e-mail names the gate's public address)."""
    parts = urllib.parse.urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == PUBLIC, url
    return parts.path


def confirmation_path(mail: ReceivedMail) -> str:
    [link] = [url for url in SmtpServer.links(mail) if "/subscribe/confirm/" in url]
    return path_of(link)


def subscribe(browser: Browser, email: str, **extra: str) -> Reply:
    page = browser.get("/subscribe")
    assert page.status == 200, page.text
    return browser.post("/subscribe", {"csrf": browser.csrf_from(page), "email": email, **extra})


def confirm(browser: Browser, path: str) -> Reply:
    page = browser.get(path)
    assert page.status == 200, page.text
    return browser.post(path, {"csrf": browser.csrf_from(page)})


def subscribed(gate: RunningGate, smtp: SmtpServer, email: str) -> Subscriber:
    """Subscribe and confirm `email` as its owner does; the subscriber as stored."""
    browser = gate.browser()
    assert subscribe(browser, email).status == 303
    [mail] = mails_to(gate, smtp, email)
    assert confirm(browser, confirmation_path(mail)).status == 200
    found = subscriber(gate, email)
    assert found is not None and found.active
    return found


def subscriber(gate: RunningGate, email: str) -> Subscriber | None:
    store = gate_app.current_of(gate.app).store
    return store.subscribers.by_email(store.db.read(), email)


def unsubscribe_path(gate: RunningGate, found: Subscriber) -> str:
    token = gate_app.current_of(gate.app).store.subscribers.unsubscribe_token(found.id)
    return f"/subscribe/unsubscribe/{token}"


def events(gate: RunningGate, *kinds: audit.Kind) -> list[audit.Row]:
    return gate_app.current_of(gate.app).log.events(kinds=kinds)


# ---------------------------------------------------------------- subscribing


def test_a_reader_subscribes_through_the_link_mailed_to_them_and_it_is_audited(gate: RunningGate,
                                                                               smtp_server: SmtpServer) -> None:
    browser = gate.browser()
    form = browser.get("/subscribe")
    assert form.status == 200
    assert_gate_headers(form)
    assert 'type="email"' in form.text and 'autocomplete="email"' in form.text
    reply = browser.post("/subscribe", {"csrf": browser.csrf_from(form), "email": " Reader@Customer.Example "})
    assert reply.status == 303 and reply.header("Location") == "/subscribe/sent"
    sent = browser.get("/subscribe/sent")
    assert sent.status == 200 and "Check your inbox" in sent.text and READER in sent.text

    [mail] = mails_to(gate, smtp_server, READER)
    assert mail.rcpt_tos == [READER]  # as every form of the gate keeps an address: trimmed, in lower case
    assert mail.message["Subject"] == "Confirm your subscription to Example Co's trust center updates"
    assert mail.message["List-Unsubscribe"] is None  # not a notice: nothing to unsubscribe from yet
    path = confirmation_path(mail)
    assert path.startswith("/subscribe/confirm/")

    page = browser.get(path)  # what a mail scanner does: it changes nothing
    assert page.status == 200 and "Yes, subscribe" in page.text
    assert_gate_headers(page)
    pending = subscriber(gate, READER)
    assert pending is not None and not pending.active
    assert events(gate, audit.Kind.SUBSCRIBED) == []

    done = browser.post(path, {"csrf": browser.csrf_from(page)})
    assert done.status == 200 and "You are subscribed" in done.text
    found = subscriber(gate, READER)
    assert found is not None and found.active
    [event] = events(gate, audit.Kind.SUBSCRIBED)
    assert event.recipient == READER and event.detail == f"subscriber {found.id}"
    assert event.ip == "127.0.0.1"
    assert gate_app.current_of(gate.app).log.verify_chain().ok


def test_the_form_answers_every_address_alike_and_mails_only_who_needs_a_confirmation(
        gate: RunningGate, smtp_server: SmtpServer) -> None:
    subscribed(gate, smtp_server, "already@customer.example")
    pending = gate.browser()
    assert subscribe(pending, "pending@customer.example").status == 303
    mails_to(gate, smtp_server, "pending@customer.example")
    before = len(smtp_server.messages)

    answers = []
    for email in ("already@customer.example", "pending@customer.example", "new@customer.example"):
        browser = gate.browser()
        reply = subscribe(browser, email)
        page = browser.get(reply.header("Location") or "")
        answers.append((reply.status, reply.header("Location"), page.status, page.text.replace(email, "ADDRESS")))
    assert answers[0] == answers[1] == answers[2]

    mails_to(gate, smtp_server, "new@customer.example")
    deliver(gate)
    assert [m.rcpt_tos for m in smtp_server.messages[before:]] == [["new@customer.example"]]


def test_an_unconfirmed_address_gets_a_new_confirmation_after_a_while_and_the_old_link_stops_working(
        gate: RunningGate, smtp_server: SmtpServer) -> None:
    browser = gate.browser()
    subscribe(browser, READER)
    [first] = mails_to(gate, smtp_server, READER)
    # Ten minutes later (the resend pause): the confirmation was mailed 48 h before its expiry.
    with gate_app.current_of(gate.app).store.db.write() as db:
        db.execute("UPDATE subscribers SET confirm_expires = ?",
                   (audit.stamp(dt.datetime.now(dt.UTC) + dt.timedelta(hours=47)),))
    subscribe(browser, READER)
    _, second = mails_to(gate, smtp_server, READER, 2)
    assert confirmation_path(first) != confirmation_path(second)
    assert browser.get(confirmation_path(first)).status == 403
    assert confirm(browser, confirmation_path(second)).status == 200


def test_a_confirmation_link_works_once_and_not_after_48_hours(gate: RunningGate, smtp_server: SmtpServer) -> None:
    browser = gate.browser()
    subscribe(browser, READER)
    path = confirmation_path(mails_to(gate, smtp_server, READER)[0])
    assert confirm(browser, path).status == 200
    used = browser.get(path)
    assert used.status == 403 and "cannot be used" in used.text
    assert path.rpartition("/")[2] not in used.text

    subscribe(browser, "late@customer.example")
    late = confirmation_path(mails_to(gate, smtp_server, "late@customer.example")[0])
    with gate_app.current_of(gate.app).store.db.write() as db:
        db.execute("UPDATE subscribers SET confirm_expires = '2020-01-01T00:00:00Z' WHERE email = ?",
                   ("late@customer.example",))
    assert browser.get(late).status == 410
    page_csrf = browser.csrf_from(browser.get("/subscribe"))
    assert browser.post(late, {"csrf": page_csrf}).status == 410
    late_subscriber = subscriber(gate, "late@customer.example")
    assert late_subscriber is not None and not late_subscriber.active
    assert browser.get("/subscribe/confirm/not-a-token").status == 403


def test_subscribing_again_after_unsubscribing_needs_a_new_confirmation(gate: RunningGate,
                                                                      smtp_server: SmtpServer) -> None:
    found = subscribed(gate, smtp_server, READER)
    assert Browser(gate.host, gate.port).post(unsubscribe_path(gate, found),
                                              {"List-Unsubscribe": "One-Click"}).status == 200
    browser = gate.browser()
    assert subscribe(browser, READER).status == 303
    _, again = mails_to(gate, smtp_server, READER, 2)
    still = subscriber(gate, READER)
    assert still is not None and not still.active  # someone else cannot put the address back on the list
    assert confirm(browser, confirmation_path(again)).status == 200
    back = subscriber(gate, READER)
    assert back is not None and back.active and back.id == found.id
    assert [e.kind for e in events(gate, audit.Kind.SUBSCRIBED, audit.Kind.UNSUBSCRIBED)] == [
        "subscribed", "unsubscribed", "subscribed"]


# ---------------------------------------------------------------- hostile input


@pytest.mark.parametrize(("email", "message"), [
    ("reader@customer.example\r\nBcc: victim@elsewhere.example", "Enter one e-mail address, on one line"),
    ("reader@customer.example\nX-Injected: yes", "Enter one e-mail address, on one line"),
    ("r" * 250 + "@customer.example", "Enter an e-mail address of at most 254 characters"),
    ("not an address", "Enter a valid e-mail address"),
    ("reader@localhost", "Enter a valid e-mail address"),
    ("", "Enter your e-mail address."),
])
def test_a_bad_address_gets_the_form_back_with_the_error_and_nothing_is_recorded(
        gate: RunningGate, email: str, message: str) -> None:
    reply = subscribe(gate.browser(), email)
    assert reply.status == 400
    assert message in reply.text
    assert 'aria-invalid="true"' in reply.text and 'href="#email"' in reply.text
    field = reply.text[reply.text.index('<input id="email"'):]
    value = field[field.index('value="') + 7: field.index('"', field.index('value="') + 7)]
    assert "\r" not in value and "\n" not in value and len(value) <= 254
    assert subscriber(gate, "reader@customer.example") is None
    assert queued_mail(gate) == 0


def test_a_filled_honeypot_gets_the_same_answer_and_nothing_happens(gate: RunningGate,
                                                                    smtp_server: SmtpServer) -> None:
    browser = gate.browser()
    reply = subscribe(browser, READER, website="https://spam.example")
    assert reply.status == 303 and reply.header("Location") == "/subscribe/sent"
    assert browser.get("/subscribe/sent").status == 200
    assert subscriber(gate, READER) is None
    assert queued_mail(gate) == 0


def test_the_honeypot_is_hidden_from_people_assistive_technology_and_autofill(gate: RunningGate) -> None:
    page = gate.browser().get("/subscribe").text
    trap = page[page.index('<div class="trap"'): page.index("</div>", page.index('<div class="trap"'))]
    assert 'aria-hidden="true"' in trap and 'tabindex="-1"' in trap and 'autocomplete="off"' in trap
    css = gate.browser().get("/access/gate.css").text
    assert ".trap { position: absolute; left: -10000px;" in css


def test_a_form_from_another_site_or_another_browser_is_refused(gate: RunningGate) -> None:
    browser = gate.browser()
    csrf = browser.csrf_from(browser.get("/subscribe"))
    form = {"csrf": csrf, "email": READER}
    assert browser.post("/subscribe", {"email": READER}).status == 403  # no token
    assert browser.post("/subscribe", {**form, "csrf": "x" * 43}).status == 403  # not this browser's
    assert gate.browser().post("/subscribe", form).status == 403  # another browser (no session)
    assert browser.post("/subscribe", form, headers={"Origin": "https://evil.example"}).status == 403
    assert browser.post("/subscribe", form, headers={"Sec-Fetch-Site": "cross-site"}).status == 403
    assert subscriber(gate, READER) is None
    assert queued_mail(gate) == 0
    refusals = events(gate, audit.Kind.DENIED)
    assert refusals and all(event.status == 403 for event in refusals)


def test_a_confirmation_from_another_site_is_refused(gate: RunningGate, smtp_server: SmtpServer) -> None:
    browser = gate.browser()
    subscribe(browser, READER)
    path = confirmation_path(mails_to(gate, smtp_server, READER)[0])
    csrf = browser.csrf_from(browser.get(path))
    assert browser.post(path, {"csrf": csrf}, headers={"Origin": "https://evil.example"}).status == 403
    assert browser.post(path, {"csrf": "forged"}).status == 403
    pending = subscriber(gate, READER)
    assert pending is not None and not pending.active
    assert browser.post(path, {"csrf": csrf}).status == 200


def test_one_network_cannot_ask_for_more_than_five_confirmations_an_hour(gate: RunningGate,
                                                                        smtp_server: SmtpServer) -> None:
    browser = gate.browser()
    for number in range(5):
        assert subscribe(browser, f"reader{number}@customer.example").status == 303
    refused = subscribe(browser, "victim@customer.example")
    assert refused.status == 429 and "Too many subscriptions" in refused.text
    assert subscriber(gate, "victim@customer.example") is None
    assert queued_mail(gate) == 5


def retry_after(reply: Reply) -> int:
    """The Retry-After of a 429: delta-seconds (RFC 9110), a whole positive number, nothing else."""
    value = reply.header("Retry-After") or ""
    assert value.isascii() and value.isdigit() and int(value) > 0, f"Retry-After: {value!r}"
    return int(value)


def test_too_many_confirmations_from_one_network_say_when_to_come_back(gate: RunningGate) -> None:
    browser = gate.browser()
    for number in range(5):
        assert subscribe(browser, f"reader{number}@customer.example").status == 303
    refused = subscribe(browser, "victim@customer.example")
    assert refused.status == 429
    assert retry_after(refused) <= 3600 + 1  # counted over an hour: waiting that long always helps
    assert_gate_headers(refused)


def test_too_many_forms_from_one_network_say_when_to_come_back(gate: RunningGate, smtp_server: SmtpServer) -> None:
    browser = gate.browser()
    # The same address again and again: one confirmation, no new row; only the count of forms stops it.
    for _ in range(10):
        assert subscribe(browser, READER).status == 303
    refused = subscribe(browser, READER)
    assert refused.status == 429 and "Too many subscriptions" in refused.text
    assert retry_after(refused) <= 3600 + 1
    assert queued_mail(gate) == 1


def test_the_form_is_closed_without_e_mail(project: Path, tmp_path: Path) -> None:
    with subscription_gate(project, tmp_path, None) as gate:
        browser = gate.browser()
        page = browser.get("/subscribe")
        assert page.status == 503 and "paused" in page.text
        assert browser.post("/subscribe", {"email": READER}).status == 503


# ---------------------------------------------------------------- unsubscribing


def test_a_one_click_post_without_cookies_unsubscribes_and_is_audited(gate: RunningGate,
                                                                      smtp_server: SmtpServer) -> None:
    found = subscribed(gate, smtp_server, READER)
    path = unsubscribe_path(gate, found)
    provider = Browser(gate.host, gate.port)  # a mail provider's server: no cookie, no CSRF token, no Origin check
    reply = provider.post(path, {"List-Unsubscribe": "One-Click"}, headers={"Origin": "https://mail.example"})
    assert reply.status == 200 and "You are unsubscribed" in reply.text
    assert reply.header("Set-Cookie") is None
    gone = subscriber(gate, READER)
    assert gone is not None and not gone.active
    [event] = events(gate, audit.Kind.UNSUBSCRIBED)
    assert event.recipient == READER and event.detail == f"subscriber {found.id}"
    again = provider.post(path, {"List-Unsubscribe": "One-Click"})  # providers retry: the same answer, once audited
    assert again.status == 200
    assert len(events(gate, audit.Kind.UNSUBSCRIBED)) == 1


def test_the_unsubscribe_link_opened_in_a_browser_asks_for_the_click(gate: RunningGate,
                                                                     smtp_server: SmtpServer) -> None:
    found = subscribed(gate, smtp_server, READER)
    browser = gate.browser()
    page = browser.get(unsubscribe_path(gate, found))
    assert page.status == 200 and READER in page.text
    assert '<input type="hidden" name="List-Unsubscribe" value="One-Click">' in page.text
    still = subscriber(gate, READER)
    assert still is not None and still.active
    assert browser.post(unsubscribe_path(gate, found), {"List-Unsubscribe": "One-Click"}).status == 200
    after = browser.get(unsubscribe_path(gate, found))
    assert after.status == 200 and "does not receive" in after.text


def test_an_unsubscribe_post_needs_its_token_and_the_one_click_body(gate: RunningGate,
                                                                    smtp_server: SmtpServer) -> None:
    found = subscribed(gate, smtp_server, READER)
    provider = Browser(gate.host, gate.port)
    assert provider.post("/subscribe/unsubscribe/not-a-token", {"List-Unsubscribe": "One-Click"}).status == 403
    assert provider.post(f"/subscribe/unsubscribe/{found.id}", {"List-Unsubscribe": "One-Click"}).status == 403
    assert provider.post(unsubscribe_path(gate, found), {"List-Unsubscribe": "yes"}).status == 400
    assert provider.get("/subscribe/unsubscribe/not-a-token").status == 403
    still = subscriber(gate, READER)
    assert still is not None and still.active
    assert events(gate, audit.Kind.UNSUBSCRIBED) == []


# ---------------------------------------------------------------- the pages themselves


@pytest.fixture
def page_files(gate: RunningGate, smtp_server: SmtpServer, tmp_path: Path) -> Path:
    """Every subscription page as the gate serves it, saved as files."""
    folder = tmp_path / "pages"
    folder.mkdir()
    browser = gate.browser()
    pages = {"form": browser.get("/subscribe"), "form-error": subscribe(browser, "not an address")}
    subscribe(browser, READER)
    path = confirmation_path(mails_to(gate, smtp_server, READER)[0])
    pages |= {"sent": browser.get("/subscribe/sent"), "confirm": browser.get(path)}
    pages["done"] = browser.post(path, {"csrf": browser.csrf_from(pages["confirm"])})
    found = subscriber(gate, READER)
    assert found is not None
    pages["unsubscribe"] = browser.get(unsubscribe_path(gate, found))
    pages["unsubscribed"] = browser.post(unsubscribe_path(gate, found), {"List-Unsubscribe": "One-Click"})
    pages["unsubscribed-page"] = browser.get(unsubscribe_path(gate, found))
    pages["refused"] = browser.get("/subscribe/confirm/not-a-token")
    for name, reply in pages.items():
        assert "<style" not in reply.text and " style=" not in reply.text and "<script" not in reply.text, name
        (folder / f"{name}.html").write_bytes(reply.body)
    return folder


def test_every_subscription_page_is_valid_html(page_files: Path) -> None:
    import quality

    quality.require_tools()
    errors = quality.vnu_errors(page_files)
    assert errors == [], "\n".join(errors)


@pytest.mark.browser
def test_a_person_subscribes_in_chromium_and_the_pages_have_no_axe_violation(
        gate: RunningGate, smtp_server: SmtpServer) -> None:
    import quality

    quality.require_tools()
    with chromium() as browser:
        # The gate's CSP forbids inline scripts, axe-core's injection included: bypassed for the check only.
        context = browser.new_context(bypass_csp=True)
        page = context.new_page()
        page.goto(gate.base_url + "/subscribe")
        assert quality.axe_violations(page) == []
        page.get_by_label("E-mail address").fill("not an address")
        page.get_by_role("button", name="Subscribe").click()
        assert page.get_by_role("alert").is_visible()
        assert quality.axe_violations(page) == []
        page.get_by_label("E-mail address").fill(READER)
        page.get_by_role("button", name="Subscribe").click()
        page.get_by_role("heading", name="Check your inbox").wait_for()
        path = confirmation_path(mails_to(gate, smtp_server, READER)[0])
        page.goto(gate.base_url + path)
        assert quality.axe_violations(page) == []
        page.get_by_role("button", name="Yes, subscribe").click()
        page.get_by_role("heading", name="You are subscribed").wait_for()
        assert quality.axe_violations(page) == []
        context.close()
    found = subscriber(gate, READER)
    assert found is not None and found.active


# ---------------------------------------------------------------- the way in, from the site


def test_the_built_updates_page_links_to_the_subscribe_form_on_the_gates_host(tmp_path: Path) -> None:
    project = copy_demo(tmp_path / "demo")
    edit(project / "trust" / "company.yaml", "gate_url: https://trust.halyard.example",
         "gate_url: https://gate.halyard.example")
    result = run_cli("build", cwd=project)
    assert result.returncode == 0, result.stderr
    page = (project / "site" / "updates" / "index.html").read_text(encoding="utf-8")
    feed = page.index('href="../feed.xml"')
    link = page.index('<a href="https://gate.halyard.example/subscribe">subscribe by e-mail</a>')
    assert 0 < link - feed < 200  # beside the feed's link


def test_the_subscribe_link_is_relative_where_the_gate_serves_the_site_and_absent_without_a_gate(
        tmp_path: Path) -> None:
    tc = load_valid(Project.at(copy_demo(tmp_path / "demo")))
    assert tc.company.gate_url == tc.company.trust_center_url
    updates = pages.render_pages(structure.build(tc))["updates.md"]
    assert '<a href="../subscribe">subscribe by e-mail</a>' in updates
    without_gate = tc.model_copy(update={"company": tc.company.model_copy(update={"gate_url": None})})
    updates = pages.render_pages(structure.build(without_gate))["updates.md"]
    assert "subscribe" not in updates.replace("Subscribe with the", "")
    assert 'href="../feed.xml"' in updates
