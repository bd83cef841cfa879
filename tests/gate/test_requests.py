"""Access requests, tried as prospects do it: the form, the confirmation mailed to them (read from a real SMTP
server on loopback), the rules of access.yaml, the grant link, one NDA for several documents, the downloads."""

from __future__ import annotations

import contextlib
import io
import re
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from conftest import GATED_ID, OTHER_GATED_ID, PUBLIC_ID
from loopback import Browser, RunningGate, assert_gate_headers, running_gate, settings
from smtp import ReceivedMail, SmtpServer

from generator.gate import app as gate_app
from generator.gate.grants import RequestStatus
from generator.gate.mail import MailSettings

# On SQLite and on PostgreSQL (`gate_store`, tests/conftest.py).
pytestmark = pytest.mark.usefixtures("gate_store")

ACCESS_YAML = f"""\
staff: [staff@example.com]
default_days: 30
max_days: 90
rules:
  - name: Customers
    domains: [customer.example]
    decision: approve
    days: 14
  - name: Partners
    domains: [partner.example]
    decision: approve
    nda: on_file
    documents: [{GATED_ID}]
  - name: Throwaway
    disposable: true
    decision: deny
    message: Please ask from your work address.
  - name: Free mail
    free_mail: true
    decision: review
"""


@contextlib.contextmanager
def request_gate(project: Path, tmp_path: Path, smtp: SmtpServer | None, **overrides: Any) -> Iterator[RunningGate]:
    (project / "trust" / "access.yaml").write_text(ACCESS_YAML, encoding="utf-8")
    mail = MailSettings(smtp_url=smtp.url) if smtp is not None else None
    with running_gate(settings(project, tmp_path, mail=mail, **overrides)) as gate:
        yield gate


@pytest.fixture
def gate(project: Path, tmp_path: Path, smtp_server: SmtpServer) -> Iterator[RunningGate]:
    with request_gate(project, tmp_path, smtp_server) as running:
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


def path_of(url: str) -> str:
    """A link from an e-mail, as a path on the test gate (the e-mail names the gate's public address)."""
    parts = urllib.parse.urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == "https://trust.example.test", url
    return parts.path


def link_in(mail: ReceivedMail, prefix: str) -> str:
    [link] = [url for url in SmtpServer.links(mail) if urllib.parse.urlsplit(url).path.startswith(prefix)]
    return path_of(link)


def send_request(browser: Browser, *, email: str, documents: tuple[str, ...] = (GATED_ID,), name: str = "Jane Doe",
                 company: str = "Customer Ltd", **extra: str) -> Any:
    page = browser.get("/request?document=" + documents[0])
    assert page.status == 200, page.text
    form: list[tuple[str, str]] = [("csrf", browser.csrf_from(page)), ("name", name), ("email", email),
                                   ("company", company), *(("documents", doc) for doc in documents)]
    form += list(extra.items())
    return browser.post("/request", form)


def confirm(browser: Browser, path: str) -> Any:
    page = browser.get(path)
    assert page.status == 200, page.text
    return browser.post(path, {"csrf": browser.csrf_from(page)})


def accept_grant(browser: Browser, path: str, name: str = "Jane Doe", company: str = "Customer Ltd") -> Any:
    page = browser.get(path)
    assert page.status == 200, page.text
    assert "Non-disclosure agreement" in page.text
    return browser.post(path, {"csrf": browser.csrf_from(page), "step": "accept", "name": name, "company": company,
                               "accept": "yes"})


def download(browser: Browser, path: str, document: str) -> Any:
    page = browser.get(path)
    chosen = browser.post(path, {"csrf": browser.csrf_from(page), "step": "download", "document": document})
    assert chosen.status == 303, chosen.text
    location = chosen.header("Location") or ""
    return browser.get(urllib.parse.urlsplit(location).path)


def store_of(gate: RunningGate) -> Any:
    return gate_app.current_of(gate.app).store


# ---------------------------------------------------------------- the three paths a request takes


def test_a_customer_is_approved_by_rule_and_downloads_two_documents_after_one_nda(
        gate: RunningGate, smtp_server: SmtpServer) -> None:
    browser = gate.browser()
    form = browser.get(f"/request?document={OTHER_GATED_ID}")
    assert_gate_headers(form)
    assert re.search(rf'value="{OTHER_GATED_ID}" checked', form.text)  # pre-selected from the link
    assert not re.search(rf'value="{GATED_ID}" checked', form.text)
    sent = send_request(browser, email="Jane.Doe@Customer.EXAMPLE", documents=(GATED_ID, OTHER_GATED_ID))
    assert sent.status == 303 and (sent.header("Location") or "").endswith("/request/sent")
    assert "jane.doe@customer.example" in browser.get("/request/sent").text.lower()

    [confirmation] = mails_to(gate, smtp_server, "Jane.Doe@customer.example")
    confirm_path = link_in(confirmation, "/request/confirm/")
    page = browser.get(confirm_path)  # what a mail scanner does: nothing changes
    assert "Confirm my request" in page.text
    [request] = store_of(gate).access.requests()
    assert request.status is RequestStatus.UNCONFIRMED
    done = browser.post(confirm_path, {"csrf": browser.csrf_from(page)})
    assert done.status == 200 and "Request approved" in done.text
    token = confirm_path.rsplit("/", 1)[1]
    assert token not in done.text

    [granted] = mails_to(gate, smtp_server, "Jane.Doe@customer.example", 2)[1:]
    assert "SOC 2 Type II report" in granted.message.get_body(("plain",)).get_content()
    grant_path = link_in(granted, "/grant/")
    grant_token = grant_path.rsplit("/", 1)[1]
    accepted = accept_grant(browser, grant_path)
    assert accepted.status == 303
    listing = browser.get(grant_path)
    assert "Your documents" in listing.text and grant_token not in listing.text  # the credential is never in a page
    for document in (GATED_ID, OTHER_GATED_ID):
        pdf = download(browser, grant_path, document)
        assert pdf.status == 200 and pdf.header("Content-Type") == "application/pdf"
        with pikepdf.open(io.BytesIO(pdf.body)) as stamped:  # stamped for this recipient and this grant
            assert str(stamped.docinfo["/TrustCenterRecipient"]) == "jane.doe@customer.example"
            assert str(stamped.docinfo["/TrustCenterLinkId"]).startswith("g-")

    store = store_of(gate)
    [request] = store.access.requests()
    assert request.status is RequestStatus.APPROVED and request.decided_by == "rule:Customers"
    grant = store.access.grant(request.grant_id)
    assert grant is not None and grant.documents == (GATED_ID, OTHER_GATED_ID)
    kinds = [(row.kind, row.actor) for row in store.log.events(request_id=request.id)]
    assert kinds[:3] == [("requested", None), ("confirmed", None), ("approved", "rule:Customers")]
    by_grant = [row.kind for row in store.log.events(grant_id=grant.id)]
    assert by_grant.count("accepted") == 1 and by_grant.count("downloaded") == 2
    assert store.log.verify_chain().ok


def test_a_free_mail_address_goes_to_staff_review_and_staff_are_told(gate: RunningGate,
                                                                      smtp_server: SmtpServer) -> None:
    browser = gate.browser()
    send_request(browser, email="someone@gmail.com", company="Prospect GmbH", reason="Vendor review")
    [confirmation] = mails_to(gate, smtp_server, "someone@gmail.com")
    done = confirm(browser, link_in(confirmation, "/request/confirm/"))
    assert "Request received" in done.text
    [notice] = mails_to(gate, smtp_server, "staff@example.com")
    text = notice.message.get_body(("plain",)).get_content()
    assert "someone@gmail.com" in text and "Prospect GmbH" in text and "Vendor review" in text
    # The staff page and the trust center: never an approve-by-GET link, which a mail scanner would follow.
    assert sorted(path_of(url) for url in SmtpServer.links(notice)) == ["", "/staff"]
    [received] = mails_to(gate, smtp_server, "someone@gmail.com", 2)[1:]
    assert "reviews it" in received.message.get_body(("plain",)).get_content()
    [request] = store_of(gate).access.requests()
    assert request.status is RequestStatus.PENDING and request.grant_id is None


def test_a_throwaway_address_is_denied_with_the_rules_message(gate: RunningGate, smtp_server: SmtpServer) -> None:
    browser = gate.browser()
    send_request(browser, email="x@mailinator.com")
    [confirmation] = mails_to(gate, smtp_server, "x@mailinator.com")
    done = confirm(browser, link_in(confirmation, "/request/confirm/"))
    assert "Request not approved" in done.text and "Please ask from your work address." in done.text
    [request] = store_of(gate).access.requests()
    assert request.status is RequestStatus.DENIED and request.decided_by == "rule:Throwaway"
    assert [row.kind for row in store_of(gate).log.events(request_id=request.id)][-1] == "rejected"
    assert store_of(gate).access.grants() == []


def test_an_nda_on_file_rule_grants_only_its_documents_and_skips_the_agreement(
        gate: RunningGate, smtp_server: SmtpServer) -> None:
    browser = gate.browser()
    send_request(browser, email="pat@partner.example", documents=(GATED_ID, OTHER_GATED_ID))
    [confirmation] = mails_to(gate, smtp_server, "pat@partner.example")
    confirm(browser, link_in(confirmation, "/request/confirm/"))
    [granted] = mails_to(gate, smtp_server, "pat@partner.example", 2)[1:]
    page = browser.get(link_in(granted, "/grant/"))
    assert "Your documents" in page.text and "Non-disclosure agreement" not in page.text
    assert "Penetration test summary" not in page.text  # the rule grants the SOC 2 report only


# ---------------------------------------------------------------- hostile input


def test_bad_input_gets_the_form_back_with_each_fields_error_and_nothing_is_recorded(
        gate: RunningGate, smtp_server: SmtpServer) -> None:
    browser = gate.browser()
    reply = send_request(browser, email="jane@customer.example\r\nBcc: all@victim.test", name="x" * 201,
                         company="  ", documents=(PUBLIC_ID,), reason="r" * 1001)
    assert reply.status == 400
    for message in ("Enter your full name in at most 200 characters", "Enter one e-mail address",
                    "Enter your company.", "Choose documents from the list.", "Keep the reason to 1000"):
        assert message in reply.text, message
    assert 'aria-invalid="true"' in reply.text
    reply = send_request(browser, email="not-an-address", documents=("no-such-document",))
    assert reply.status == 400 and "Enter a valid e-mail address" in reply.text
    deliver(gate)
    assert store_of(gate).access.requests() == [] and smtp_server.messages == []


def test_a_filled_honeypot_gets_the_same_answer_and_nothing_happens(gate: RunningGate,
                                                                     smtp_server: SmtpServer) -> None:
    reply = send_request(gate.browser(), email="bot@customer.example", website="https://spam.example")
    assert reply.status == 303 and (reply.header("Location") or "").endswith("/request/sent")
    deliver(gate)
    assert store_of(gate).access.requests() == [] and smtp_server.messages == []


def test_a_form_without_this_browsers_csrf_token_or_from_another_site_is_refused(gate: RunningGate) -> None:
    browser = gate.browser()
    browser.get("/request")
    no_token = browser.post("/request", {"name": "A", "email": "a@customer.example", "company": "C",
                                         "documents": GATED_ID})
    assert no_token.status == 403
    page = browser.get("/request")
    cross = browser.post("/request", {"csrf": browser.csrf_from(page), "name": "A", "email": "a@customer.example",
                                      "company": "C", "documents": GATED_ID},
                         headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
    assert cross.status == 403
    assert store_of(gate).access.requests() == []


def test_one_network_sending_many_requests_is_slowed_down(gate: RunningGate) -> None:
    browser = gate.browser()
    for number in range(5):
        assert send_request(browser, email=f"p{number}@customer.example").status == 303
    refused = send_request(browser, email="p6@customer.example")
    assert refused.status == 429
    assert len(store_of(gate).access.requests()) == 5


def retry_after(reply: Any) -> int:
    """The Retry-After of a 429: delta-seconds (RFC 9110), a whole positive number, nothing else."""
    value = reply.header("Retry-After") or ""
    assert re.fullmatch(r"[1-9][0-9]*", value), f"Retry-After: {value!r}"
    return int(value)


def test_too_many_requests_says_when_to_come_back_in_a_header_and_on_the_page(gate: RunningGate) -> None:
    browser = gate.browser()
    for number in range(5):
        assert send_request(browser, email=f"p{number}@customer.example").status == 303
    refused = send_request(browser, email="p6@customer.example")
    assert refused.status == 429 and "Too many requests" in refused.text
    wait = retry_after(refused)
    assert wait <= 3600 + 1  # the form counts over an hour: waiting that long always helps
    assert_gate_headers(refused)
    assert re.search(r"try again in [1-9][0-9]* (minute|hour)s?\.", refused.text)  # the page names a wait too
    assert len(store_of(gate).access.requests()) == 5


def test_the_same_address_asking_again_within_a_day_is_one_request(gate: RunningGate,
                                                                    smtp_server: SmtpServer) -> None:
    browser = gate.browser()
    send_request(browser, email="jane@customer.example", documents=(GATED_ID,))
    [first] = mails_to(gate, smtp_server, "jane@customer.example")
    send_request(browser, email="jane@customer.example", documents=(OTHER_GATED_ID,))
    second = mails_to(gate, smtp_server, "jane@customer.example", 2)[1]
    [request] = store_of(gate).access.requests()
    assert request.documents == (GATED_ID, OTHER_GATED_ID)
    stale = browser.get(link_in(first, "/request/confirm/"))
    assert stale.status == 403  # the newer link replaced it
    assert "Request approved" in confirm(browser, link_in(second, "/request/confirm/")).text


# ---------------------------------------------------------------- confirmation and grant links


def test_confirmation_links_are_single_use_expire_and_unknown_ones_are_refused(
        gate: RunningGate, smtp_server: SmtpServer) -> None:
    browser = gate.browser()
    assert browser.get("/request/confirm/" + "A" * 43).status == 403
    send_request(browser, email="jane@customer.example")
    [mail] = mails_to(gate, smtp_server, "jane@customer.example")
    path = link_in(mail, "/request/confirm/")
    confirm(browser, path)
    spent = browser.get(path)  # the requester's own link again: told it was used, not counted as a guess
    assert spent.status == 410 and "used already" in spent.text

    send_request(browser, email="late@customer.example")
    [late] = mails_to(gate, smtp_server, "late@customer.example")
    store = store_of(gate)
    with store.db.write() as database:
        database.execute("UPDATE requests SET confirm_expires = '2000-01-01T00:00:00.000000Z' "
                         "WHERE email = 'late@customer.example'")
    expired = browser.get(link_in(late, "/request/confirm/"))
    assert expired.status == 410 and "24 hours" in expired.text


def _approved_grant(gate: RunningGate, smtp: SmtpServer, browser: Browser, email: str = "jane@customer.example") -> str:
    send_request(browser, email=email, documents=(GATED_ID, OTHER_GATED_ID))
    [confirmation] = mails_to(gate, smtp, email)
    confirm(browser, link_in(confirmation, "/request/confirm/"))
    return link_in(mails_to(gate, smtp, email, 2)[1], "/grant/")


def test_a_forwarded_grant_link_asks_for_the_agreement_again_and_the_audit_shows_both(
        gate: RunningGate, smtp_server: SmtpServer) -> None:
    first = gate.browser()
    path = _approved_grant(gate, smtp_server, first)
    accept_grant(first, path)
    second = gate.browser()  # the colleague the link was forwarded to
    page = second.get(path)
    assert "Non-disclosure agreement" in page.text
    refused = second.get(path + f"/documents/{GATED_ID}")
    assert refused.status == 403
    accept_grant(second, path, name="Colleague", company="Customer Ltd")
    [request] = store_of(gate).access.requests()
    accepted = [row for row in store_of(gate).log.events(grant_id=request.grant_id) if row.kind == "accepted"]
    assert [row.name for row in accepted] == ["Jane Doe", "Colleague"]
    assert accepted[0].browser != accepted[1].browser


def test_a_revoked_or_expired_grant_answers_410_pages_and_downloads(gate: RunningGate,
                                                                      smtp_server: SmtpServer) -> None:
    browser = gate.browser()
    path = _approved_grant(gate, smtp_server, browser)
    accept_grant(browser, path)
    [request] = store_of(gate).access.requests()
    desk = gate_app.current_of(gate.app).desk
    assert desk.revoke_grant(request.grant_id, "staff@example.com", "deal lost") is True
    assert desk.revoke_grant(request.grant_id, "staff@example.com", "again") is False
    assert browser.get(path).status == 410
    assert browser.get(path + f"/documents/{GATED_ID}").status == 410
    revoked = [row for row in store_of(gate).log.events(grant_id=request.grant_id) if row.kind == "revoked"]
    assert [(row.actor, row.detail) for row in revoked] == [("staff@example.com", "deal lost")]


def test_a_grant_widened_in_the_database_without_the_key_is_refused(gate: RunningGate,
                                                                    smtp_server: SmtpServer) -> None:
    browser = gate.browser()
    send_request(browser, email="pat@partner.example", documents=(GATED_ID, OTHER_GATED_ID))
    [confirmation] = mails_to(gate, smtp_server, "pat@partner.example")
    confirm(browser, link_in(confirmation, "/request/confirm/"))
    path = link_in(mails_to(gate, smtp_server, "pat@partner.example", 2)[1], "/grant/")
    widened = f'["{GATED_ID}", "{OTHER_GATED_ID}"]'
    with store_of(gate).db.write() as database:
        database.execute("UPDATE grants SET documents = ?", (widened,))
    assert browser.get(path).status == 503


def test_the_form_is_closed_without_access_rules_or_without_mail(project: Path, tmp_path: Path) -> None:
    with running_gate(settings(project, tmp_path, mail=MailSettings(smtp_url="smtp://127.0.0.1:1"))) as gate:
        page = gate.browser().get("/request")
        assert page.status == 404 and "sales@example.test" in page.text
    with request_gate(project, tmp_path, None) as gate:
        page = gate.browser().get("/request")
        assert page.status == 503 and "sales@example.test" in page.text


def test_a_request_made_while_the_mail_server_is_down_is_mailed_when_it_is_back(
        gate: RunningGate, smtp_server: SmtpServer) -> None:
    smtp_server.down()
    browser = gate.browser()
    assert send_request(browser, email="jane@customer.example").status == 303
    deliver(gate)
    [waiting] = store_of(gate).outbox.items(pending_only=True)
    assert waiting.attempts == 1 and waiting.last_error
    smtp_server.up()
    store_of(gate).outbox.retry()  # the backoff's next attempt, without waiting for it
    [confirmation] = mails_to(gate, smtp_server, "jane@customer.example")
    assert "Request approved" in confirm(browser, link_in(confirmation, "/request/confirm/")).text


def test_every_step_is_an_audit_event(gate: RunningGate, smtp_server: SmtpServer) -> None:
    browser = gate.browser()
    path = _approved_grant(gate, smtp_server, browser)
    accept_grant(browser, path)
    download(browser, path, GATED_ID)
    store = store_of(gate)
    [request] = store.access.requests()
    kinds = [row.kind for row in store.log.events() if row.request_id == request.id or row.grant_id == request.grant_id]
    assert kinds[:3] == ["requested", "confirmed", "approved"]
    assert {"opened", "accepted", "downloaded"} <= set(kinds)
    [downloaded] = [row for row in store.log.events(grant_id=request.grant_id) if row.kind == "downloaded"]
    assert (downloaded.document, downloaded.recipient) == (GATED_ID, "jane@customer.example")


def test_a_document_removed_after_the_grant_answers_410_and_the_others_still_download(
        gate: RunningGate, smtp_server: SmtpServer, project: Path) -> None:
    browser = gate.browser()
    path = _approved_grant(gate, smtp_server, browser)
    accept_grant(browser, path)
    documents = project / "trust" / "documents.yaml"  # the penetration test summary withdrawn from the content
    text = documents.read_text()
    start = text.index(f"  - id: {OTHER_GATED_ID}")
    end = text.index("  - id: ", start + 1)
    documents.write_text(text[:start] + text[end:])
    gate_app.current_of(gate.app).reloader.reload()
    removed = browser.get(path + f"/documents/{OTHER_GATED_ID}")
    assert removed.status == 410 and "no longer offers this document" in removed.text
    assert download(browser, path, GATED_ID).status == 200
    listing = browser.get(path)
    assert "SOC 2 Type II report" in listing.text and "Penetration test summary" not in listing.text


def test_closing_the_form_between_request_and_confirmation_says_so_on_the_confirmation_page(
        gate: RunningGate, smtp_server: SmtpServer, project: Path) -> None:
    browser = gate.browser()
    send_request(browser, email="jane@customer.example")
    [mail] = mails_to(gate, smtp_server, "jane@customer.example")
    (project / "trust" / "access.yaml").unlink()
    gate_app.current_of(gate.app).reloader.reload()
    page = browser.get(link_in(mail, "/request/confirm/"))
    assert page.status == 404 and "sales@example.test" in page.text


def test_staff_approving_without_choosing_grants_what_is_still_gated_and_requires_the_nda(
        gate: RunningGate, smtp_server: SmtpServer) -> None:
    browser = gate.browser()
    send_request(browser, email="someone@gmail.com", documents=(GATED_ID, OTHER_GATED_ID), nda_on_file="yes")
    [confirmation] = mails_to(gate, smtp_server, "someone@gmail.com")
    confirm(browser, link_in(confirmation, "/request/confirm/"))
    [request] = store_of(gate).access.requests()
    assert request.nda_on_file  # the requester's claim, shown to staff
    grant = gate_app.current_of(gate.app).desk.approve(request.id, "staff@example.com", days=7)
    assert grant.documents == (GATED_ID, OTHER_GATED_ID)
    assert grant.nda_on_file is False  # a claim is not a signed NDA: only the approver can say so
