"""The staff page on a real gate on loopback, with a real SMTP server: sign-in by a mailed one-time link, the
session and its ends, each action audited with the staff member's address, and every refusal."""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import quality
from conftest import GATE_URL, GATED_ID, OTHER_GATED_ID
from loopback import Browser, Reply, RunningGate, Signer, assert_gate_headers, running_gate, settings
from smtp import ReceivedMail, SmtpServer
from support import chromium as launch_chromium

from generator.gate import app as gate_app
from generator.gate import links
from generator.gate.audit import Kind, stamp
from generator.gate.grants import AccessRequest, GrantStatus, RequestStatus, token_hash
from generator.gate.mail import MailSettings

# On SQLite and on PostgreSQL (`gate_store`, tests/conftest.py).
pytestmark = pytest.mark.usefixtures("gate_store")

STAFF = "staff@company.example"
OTHER_STAFF = "lead@company.example"
REQUESTER = "rita@prospect.test"
COOKIE = "__Host-trustcenter-staff"


def write_access(project: Path, staff: list[str]) -> None:
    listed = "\n".join(f"  - {address}" for address in staff)
    (project / "trust" / "access.yaml").write_text(
        f"staff:\n{listed}\ndefault_days: 30\nmax_days: 90\nnotify_staff: false\n", encoding="utf-8")


@dataclasses.dataclass
class Staffed:
    """A running gate with access.yaml (staff: Staff@Company.example, lead@company.example) and mail to a real server."""

    running: RunningGate
    smtp: SmtpServer
    project: Path

    @property
    def gate(self) -> gate_app.Gate:
        return gate_app.current_of(self.running.app)

    def browser(self) -> Browser:
        return self.running.browser()

    def mail(self, to: str, subject: str, timeout: float = 10) -> ReceivedMail:
        """The first message to `to` whose subject contains `subject`, waiting for it if need be."""
        deadline = time.monotonic() + timeout
        count = 1
        while True:
            received = self.smtp.wait_for(count, timeout=max(0.1, deadline - time.monotonic()))
            for message in received:
                if to in message.rcpt_tos and subject in str(message.message["Subject"]):
                    return message
            count = len(received) + 1

    def pending_request(self, *, email: str = REQUESTER, name: str = "Rita Prospect", company: str = "Prospect Ltd",
                        documents: tuple[str, ...] = (GATED_ID,), nda_claim: bool = False) -> AccessRequest:
        """A request as the form and the confirmation leave it: confirmed, waiting for staff."""
        store = self.gate.store
        with store.db.write() as tx:
            request, _ = store.access.create_request(tx, email=email, name=name, company=company,
                                                     documents=documents, reason="Vendor security review",
                                                     nda_on_file=nda_claim, ip="192.0.2.10")
            store.access.confirm(tx, request)
        found = store.access.find_request(request.id)
        assert found is not None and found.status is RequestStatus.PENDING
        return found

    def events(self, kind: Kind) -> list[Any]:
        return self.gate.log.events(kinds=[kind])


def start(project: Path, tmp_path: Path, smtp: SmtpServer, **overrides: Any) -> Any:
    gate_settings = settings(project, tmp_path, mail=MailSettings(smtp_url=smtp.url), **overrides)
    return running_gate(gate_settings)


@pytest.fixture
def staffed(project: Path, tmp_path: Path, smtp_server: SmtpServer) -> Iterator[Staffed]:
    write_access(project, ["Staff@Company.example", OTHER_STAFF])
    with start(project, tmp_path, smtp_server) as running:
        gate_app.current_of(running.app).delivery.start()  # as `trustcenter gate` does: the outbox is delivered
        yield Staffed(running, smtp_server, project)


def ask_for_link(browser: Browser, email: str) -> Reply:
    form = browser.get("/staff")
    assert form.status == 200, form.text
    return browser.post("/staff/sign-in", {"csrf": browser.csrf_from(form), "email": email})


def sign_in_path(message: ReceivedMail) -> str:
    [url] = [url for url in SmtpServer.links(message) if "/staff/sign-in/" in url]
    assert url.startswith(f"{GATE_URL}/staff/sign-in/")
    return urlsplit(url).path


def mailed_sign_in(staffed: Staffed, browser: Browser, email: str = STAFF) -> str:
    """Ask for a sign-in link and return its path, as read from the message that arrived."""
    assert ask_for_link(browser, email).status == 200
    return sign_in_path(staffed.mail(email.lower(), "Sign in"))


def sign_in(staffed: Staffed, browser: Browser, email: str = STAFF) -> str:
    """Sign in as a person does; returns the staff session's CSRF token, from the staff page."""
    path = mailed_sign_in(staffed, browser, email)
    page = browser.get(path)
    assert page.status == 200, page.text
    signed = browser.post(path, {"csrf": browser.csrf_from(page)})
    assert signed.status == 303 and signed.header("Location") == "/staff"
    staff_page = browser.get("/staff")
    assert "Signed in as" in staff_page.text
    return browser.csrf_from(staff_page)


def flash(browser: Browser) -> str:
    """The one-line result the staff page shows after an action."""
    page = browser.get("/staff")
    found = re.search(r'<(?:p class="notice" role="status"|div class="problems" role="alert"><p)>([^<]*)<', page.text)
    assert found, page.text
    return found[1]


# ---------------------------------------------------------------- signing in


def test_a_staff_member_signs_in_with_the_link_mailed_to_them(staffed: Staffed) -> None:
    browser = staffed.browser()
    form = browser.get("/staff")
    assert form.status == 200 and "Send me a sign-in link" in form.text
    assert_gate_headers(form)
    sent = browser.post("/staff/sign-in", {"csrf": browser.csrf_from(form), "email": STAFF})
    assert sent.status == 200 and "If this address is on the staff list, a sign-in link is on its way" in sent.text
    message = staffed.mail(STAFF, "Sign in")
    assert message.rcpt_tos == [STAFF]
    path = sign_in_path(message)
    token = path.rsplit("/", 1)[1]
    assert token not in str(message.message["Subject"])
    # The page behind the link changes nothing (mail scanners open links): the link still works afterwards.
    page = browser.get(path)
    assert page.status == 200 and "Sign in as <strong>staff@company.example</strong>" in page.text
    assert browser.get(path).status == 200
    assert COOKIE not in browser.cookies and staffed.events(Kind.SIGNED_IN) == []
    signed = browser.post(path, {"csrf": browser.csrf_from(page)})
    assert signed.status == 303 and signed.header("Location") == "/staff"
    attributes = browser.cookie_attributes[COOKIE].lower()
    for attribute in ("httponly", "secure", "samesite=strict", "path=/"):
        assert attribute in attributes, attributes
    assert "domain=" not in attributes and len(browser.cookies[COOKIE]) >= 40
    staff_page = browser.get("/staff")
    assert staff_page.status == 200 and "Signed in as <strong>staff@company.example</strong>" in staff_page.text
    assert_gate_headers(staff_page)
    [sent_event] = staffed.events(Kind.SIGN_IN_SENT)
    [signed_in] = staffed.events(Kind.SIGNED_IN)
    assert sent_event.actor == signed_in.actor == STAFF and signed_in.ip == "127.0.0.1"
    # Only hashes are kept: neither the sign-in token nor the session id is in the database.
    db = staffed.gate.store.db.read()
    assert db.scalar("SELECT COUNT(*) FROM sign_ins WHERE token_hash = ?", (token_hash(token),)) == 1
    assert db.scalar("SELECT COUNT(*) FROM staff_sessions WHERE token_hash = ?",
                     (token_hash(browser.cookies[COOKIE]),)) == 1


def test_the_staff_list_is_compared_without_regard_to_case(staffed: Staffed) -> None:
    browser = staffed.browser()
    # access.yaml lists Staff@Company.example; the form gets STAFF@company.EXAMPLE; the link goes to one address.
    assert ask_for_link(browser, "  STAFF@company.EXAMPLE ").status == 200
    assert staffed.mail(STAFF, "Sign in").rcpt_tos == [STAFF]


def test_an_address_not_on_the_staff_list_gets_the_same_answer_and_no_mail(staffed: Staffed) -> None:
    outsider = ask_for_link(staffed.browser(), "mallory@company.example")
    insider = ask_for_link(staffed.browser(), OTHER_STAFF)
    assert outsider.status == insider.status == 200
    assert outsider.body == insider.body
    staffed.mail(OTHER_STAFF, "Sign in")
    assert [item.target for item in staffed.gate.store.outbox.items()] == [OTHER_STAFF]
    assert [message.rcpt_tos for message in staffed.smtp.messages] == [[OTHER_STAFF]]
    assert [event.actor for event in staffed.events(Kind.SIGN_IN_SENT)] == [OTHER_STAFF]


def test_a_malformed_address_is_asked_for_again(staffed: Staffed) -> None:
    browser = staffed.browser()
    form = browser.get("/staff")
    reply = browser.post("/staff/sign-in", {"csrf": browser.csrf_from(form), "email": "not an address\r\nBcc: x@y"})
    assert reply.status == 400 and 'aria-invalid="true"' in reply.text and "like name@company.com" in reply.text
    assert staffed.gate.store.outbox.items() == []


def test_a_sign_in_link_works_once(staffed: Staffed) -> None:
    browser = staffed.browser()
    path = mailed_sign_in(staffed, browser)
    page = browser.get(path)
    assert browser.post(path, {"csrf": browser.csrf_from(page)}).status == 303
    again = staffed.browser()
    assert again.get(path).status == 410
    form = again.get("/staff")
    used = again.post(path, {"csrf": again.csrf_from(form)})
    assert used.status == 410 and "works once" in used.text
    assert COOKIE not in again.cookies
    assert len(staffed.events(Kind.SIGNED_IN)) == 1


def test_an_expired_sign_in_link_is_refused(staffed: Staffed) -> None:
    browser = staffed.browser()
    path = mailed_sign_in(staffed, browser)
    page = browser.get(path)
    past = stamp(dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    with staffed.gate.store.db.write() as tx:  # its 15 minutes have passed
        tx.execute("UPDATE sign_ins SET expires = ?", (past,))
    assert browser.get(path).status == 410
    refused = browser.post(path, {"csrf": browser.csrf_from(page)})
    assert refused.status == 410 and COOKIE not in browser.cookies
    assert staffed.events(Kind.SIGNED_IN) == []
    denied = staffed.events(Kind.DENIED)
    assert denied and all(path.rsplit("/", 1)[1] not in (event.detail or "") for event in denied)


def test_a_sign_in_link_is_valid_for_15_minutes(staffed: Staffed) -> None:
    mailed_sign_in(staffed, staffed.browser())
    created, expires = staffed.gate.store.db.read().one("SELECT created, expires FROM sign_ins")  # type: ignore[misc]
    lifetime = dt.datetime.fromisoformat(expires) - dt.datetime.fromisoformat(created)
    assert lifetime == dt.timedelta(minutes=15)


def test_guessed_sign_in_tokens_are_refused_and_count_toward_the_throttle(
        project: Path, tmp_path: Path, smtp_server: SmtpServer) -> None:
    write_access(project, [STAFF])
    with start(project, tmp_path, smtp_server, failure_limit=3) as running:
        browser = running.browser()
        for guess in ("a" * 43, "b" * 43, "c" * 43):
            refused = browser.get(f"/staff/sign-in/{guess}")
            assert refused.status == 403 and guess not in refused.text
        blocked = browser.get("/staff")
        assert blocked.status == 429 and blocked.header("Retry-After")


def test_sign_in_links_for_one_address_are_limited_and_say_so(staffed: Staffed) -> None:
    for address in (STAFF, "mallory@company.example"):  # the same limit, on the list or not: no answer tells them apart
        for _ in range(3):
            assert ask_for_link(staffed.browser(), address).status == 200
        refused = ask_for_link(staffed.browser(), address)
        assert refused.status == 429 and "Too many sign-in links" in refused.text
        assert int(refused.header("Retry-After") or 0) > 0
    assert len([item for item in staffed.gate.store.outbox.items() if item.target == STAFF]) == 3


def test_sign_in_links_asked_for_from_one_client_are_limited(staffed: Staffed) -> None:
    browser = staffed.browser()
    for number in range(10):
        assert ask_for_link(browser, f"person{number}@company.example").status == 200
    refused = ask_for_link(browser, STAFF)
    assert refused.status == 429
    assert staffed.gate.store.outbox.items() == []


def test_too_many_sign_in_links_answer_with_retry_after_in_whole_seconds(staffed: Staffed) -> None:
    for _ in range(3):
        assert ask_for_link(staffed.browser(), STAFF).status == 200
    per_address = ask_for_link(staffed.browser(), STAFF)
    client = staffed.browser()
    for number in range(7):  # ten from this network in all
        assert ask_for_link(client, f"person{number}@company.example").status == 200
    per_client = ask_for_link(client, OTHER_STAFF)
    for refused, window in ((per_address, 15 * 60), (per_client, 60 * 60)):
        assert refused.status == 429 and "Too many sign-in links" in refused.text
        value = refused.header("Retry-After") or ""
        assert value.isascii() and value.isdigit() and 0 < int(value) <= window + 1, value
        assert_gate_headers(refused)


# ---------------------------------------------------------------- forms from elsewhere, no session


def test_the_sign_in_form_needs_this_browsers_csrf_token(staffed: Staffed) -> None:
    browser = staffed.browser()
    browser.get("/staff")
    refused = browser.post("/staff/sign-in", {"csrf": "forged", "email": STAFF})
    assert refused.status == 403
    assert staffed.gate.store.outbox.items() == [] and staffed.events(Kind.SIGN_IN_SENT) == []


@pytest.mark.parametrize("header", [{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}])
def test_a_cross_site_post_is_refused(staffed: Staffed, header: dict[str, str]) -> None:
    request = staffed.pending_request()
    browser = staffed.browser()
    csrf = sign_in(staffed, browser)
    refused = browser.post(f"/staff/requests/{request.id}/approve",
                           {"csrf": csrf, "documents": GATED_ID, "days": "30"}, headers=header)
    assert refused.status == 403
    form = staffed.browser()
    page = form.get("/staff")
    assert form.post("/staff/sign-in", {"csrf": form.csrf_from(page), "email": STAFF}, headers=header).status == 403
    assert staffed.gate.store.access.find_request(request.id).status is RequestStatus.PENDING  # type: ignore[union-attr]
    assert staffed.events(Kind.APPROVED) == []


def test_a_staff_form_without_the_sessions_csrf_token_is_refused(staffed: Staffed) -> None:
    request = staffed.pending_request()
    browser = staffed.browser()
    path = mailed_sign_in(staffed, browser)
    page = browser.get(path)
    browser_csrf = browser.csrf_from(page)  # this browser's token for the signed-out forms (Flask's session)
    assert browser.post(path, {"csrf": browser_csrf}).status == 303
    for form in ({"documents": GATED_ID, "days": "30"}, {"csrf": browser_csrf, "documents": GATED_ID, "days": "30"}):
        refused = browser.post(f"/staff/requests/{request.id}/approve", form)
        assert refused.status == 403 and "nothing was done" in refused.text
    assert staffed.gate.store.access.find_request(request.id).status is RequestStatus.PENDING  # type: ignore[union-attr]


def test_a_staff_action_without_a_session_is_refused(staffed: Staffed) -> None:
    request = staffed.pending_request()
    browser = staffed.browser()
    refused = browser.post(f"/staff/requests/{request.id}/approve", {"csrf": "x", "documents": GATED_ID, "days": "30"})
    assert refused.status == 403 and "You are not signed in" in refused.text
    forged = staffed.browser()
    forged.cookies[COOKIE] = "f" * 43
    assert forged.post(f"/staff/requests/{request.id}/deny", {"csrf": "x", "reason": "no"}).status == 403
    assert staffed.gate.store.access.find_request(request.id).status is RequestStatus.PENDING  # type: ignore[union-attr]


# ---------------------------------------------------------------- actions


def test_approving_a_request_makes_a_grant_mails_its_link_and_audits_the_staff_member(staffed: Staffed) -> None:
    request = staffed.pending_request(documents=(GATED_ID,))
    browser = staffed.browser()
    csrf = sign_in(staffed, browser)
    page = browser.get("/staff").text
    assert "Rita Prospect, Prospect Ltd" in page and "Vendor security review" in page
    # The documents asked for are ticked, the other gated ones offered unticked.
    assert re.search(rf'value="{GATED_ID}" checked', page) and re.search(rf'value="{OTHER_GATED_ID}">', page)
    done = browser.post(f"/staff/requests/{request.id}/approve",
                        [("csrf", csrf), ("documents", GATED_ID), ("documents", OTHER_GATED_ID), ("days", "14")])
    assert done.status == 303 and done.header("Location") == "/staff"
    assert flash(browser).startswith(f"Approved: {REQUESTER} has access to SOC 2 Type II report, Penetration test")
    decided = staffed.gate.store.access.find_request(request.id)
    assert decided is not None and decided.status is RequestStatus.APPROVED and decided.decided_by == STAFF
    grant = staffed.gate.store.access.grant(str(decided.grant_id))
    assert grant is not None and grant.approved_by == STAFF and grant.documents == (GATED_ID, OTHER_GATED_ID)
    assert not grant.nda_on_file and 13 <= (grant.expires_at - dt.datetime.now(dt.UTC)).days <= 14
    [approved] = staffed.events(Kind.APPROVED)
    assert approved.actor == STAFF and approved.grant_id == grant.id and approved.request_id == request.id
    message = staffed.mail(REQUESTER, "Your access")
    [url] = [url for url in SmtpServer.links(message) if "/grant/" in url]
    assert re.fullmatch(rf"{re.escape(GATE_URL)}/grant/[A-Za-z0-9_-]{{40,}}", url)
    found = staffed.gate.store.access.grant_by_token(url.rsplit("/", 1)[1])
    assert found is not None and found.id == grant.id


def test_approving_with_an_nda_on_file_needs_the_box_ticked_whatever_the_requester_claims(staffed: Staffed) -> None:
    claimed = staffed.pending_request(nda_claim=True)
    ticked = staffed.pending_request(email="tom@prospect.test", name="Tom")
    browser = staffed.browser()
    csrf = sign_in(staffed, browser)
    assert "They say an NDA is on file" in browser.get("/staff").text
    for request, form in ((claimed, []), (ticked, [("nda_on_file", "yes")])):
        reply = browser.post(f"/staff/requests/{request.id}/approve",
                             [("csrf", csrf), ("documents", GATED_ID), ("days", "30"), *form])
        assert reply.status == 303
    grants = {grant.email: grant for grant in staffed.gate.store.access.grants()}
    assert grants[REQUESTER].nda_on_file is False and grants["tom@prospect.test"].nda_on_file is True


def test_denying_a_request_needs_a_reason_tells_the_requester_and_audits_the_staff_member(staffed: Staffed) -> None:
    request = staffed.pending_request()
    browser = staffed.browser()
    csrf = sign_in(staffed, browser)
    assert browser.post(f"/staff/requests/{request.id}/deny", {"csrf": csrf, "reason": "  "}).status == 303
    assert flash(browser) == "Enter the reason for the denial."
    assert staffed.gate.store.access.find_request(request.id).status is RequestStatus.PENDING  # type: ignore[union-attr]
    assert browser.post(f"/staff/requests/{request.id}/deny",
                        {"csrf": csrf, "reason": "Not a customer yet"}).status == 303
    assert flash(browser) == f"Denied the request of {REQUESTER}; they have been told."
    denied = staffed.gate.store.access.find_request(request.id)
    assert denied is not None and denied.status is RequestStatus.DENIED and denied.decided_by == STAFF
    [rejected] = staffed.events(Kind.REJECTED)
    assert rejected.actor == STAFF and rejected.detail == "Not a customer yet"
    staffed.mail(REQUESTER, "Your request to Example Co")


def test_revoking_a_grant_audits_the_staff_member_and_ends_the_grant(staffed: Staffed) -> None:
    request = staffed.pending_request()
    grant = staffed.gate.desk.approve(request.id, "rule:test", days=30)
    browser = staffed.browser()
    csrf = sign_in(staffed, browser)
    page = browser.get("/staff").text
    assert f"Revoke grant {grant.id}" in page
    assert browser.post(f"/staff/grants/{grant.id}/revoke", {"csrf": csrf, "reason": "left the company"}).status == 303
    assert flash(browser) == f"Revoked grant {grant.id}: its link no longer opens."
    revoked = staffed.gate.store.access.grant(grant.id)
    assert revoked is not None and revoked.status is GrantStatus.REVOKED and revoked.revoked == "left the company"
    [event] = staffed.events(Kind.REVOKED)
    assert event.actor == STAFF and event.grant_id == grant.id
    assert f"Revoke grant {grant.id}" not in browser.get("/staff").text
    browser.post(f"/staff/grants/{grant.id}/revoke", {"csrf": csrf})
    assert flash(browser) == f"Grant {grant.id} was already revoked."


def test_revoking_a_sales_link_from_the_staff_page(signer: Signer, staffed: Staffed, tmp_path: Path) -> None:
    created = links.create(staffed.gate.settings.project, links.LinkRequest(GATED_ID, "bob@customer.test", "Customer"),
                           private_key_path=tmp_path / "secrets" / "test-key.pem",
                           record=links.Record(staffed.gate.settings.db_path, actor="cli:sales"))
    assert created.recorded_in == staffed.gate.settings.db_path
    browser = staffed.browser()
    csrf = sign_in(staffed, browser)
    page = browser.get("/staff").text
    assert created.link.link_id in page and "bob@customer.test" in page
    assert browser.get(f"/access/{created.token}").status == 200  # opened once
    assert ">1</td>" in browser.get("/staff").text
    reply = browser.post(f"/staff/links/{created.link.link_id}/revoke", {"csrf": csrf, "reason": ""})
    assert reply.status == 303
    assert flash(browser) == f"Revoked link {created.link.link_id}: it no longer opens."
    assert staffed.gate.log.revocation(created.link.link_id) == f"revoked by {STAFF}"
    [event] = staffed.events(Kind.REVOKED)
    assert event.actor == STAFF and event.link_id == created.link.link_id
    assert browser.get(f"/access/{created.token}").status == 410


def test_what_the_desk_refuses_is_shown_as_a_message_not_an_error(staffed: Staffed) -> None:
    request = staffed.pending_request()
    browser = staffed.browser()
    csrf = sign_in(staffed, browser)
    cases = [
        (f"/staff/requests/{request.id}/approve", {"documents": GATED_ID, "days": "500"}, "a grant lasts 1 to 90 days"),
        (f"/staff/requests/{request.id}/approve", {"documents": GATED_ID, "days": "ten"}, "whole number from 1 to 90"),
        (f"/staff/requests/{request.id}/approve", {"days": "30"}, "choose at least one document"),
        (f"/staff/requests/{request.id}/approve", {"documents": "overview", "days": "30"}, "not a gated document"),
        ("/staff/requests/r-000000000000/deny", {"reason": "spam"}, "there is no request r-000000000000"),
        ("/staff/grants/g-000000000000/revoke", {"reason": "x"}, "there is no grant g-000000000000"),
    ]
    for path, form, message in cases:
        reply = browser.post(path, {"csrf": csrf, **form})
        assert reply.status == 303, (path, reply.status)
        assert message.lower() in flash(browser).lower(), message
    staffed.gate.desk.deny(request.id, "rule:test", "decided elsewhere")
    browser.post(f"/staff/requests/{request.id}/approve", {"csrf": csrf, "documents": GATED_ID, "days": "30"})
    assert flash(browser) == (f"Request {request.id} is denied, not pending; only a pending request can be "
                              "approved or denied")


def test_hostile_text_from_a_request_is_shown_as_text(staffed: Staffed) -> None:
    staffed.pending_request(name='<script>alert(1)</script>', company='"><img src=x onerror=alert(1)>')
    browser = staffed.browser()
    sign_in(staffed, browser)
    page = browser.get("/staff").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page


def test_the_staff_page_shows_grants_links_and_recent_activity(staffed: Staffed) -> None:
    grant = staffed.gate.desk.approve(staffed.pending_request().id, "rule:test", days=30)
    browser = staffed.browser()
    sign_in(staffed, browser)
    page = browser.get("/staff").text
    assert "No request is waiting for review." in page
    assert grant.email in page and "rule:test" in page
    assert "No sales link of the last" in page
    activity = page[page.index('id="activity-title"'):]
    assert "signed_in" in activity and "approved" in activity and STAFF in activity


# ---------------------------------------------------------------- the lists, however long the log


@dataclasses.dataclass(frozen=True)
class ListedLink:
    """One row of the staff page's sales links, as a person reads it."""

    recipient: str
    expires: str
    opened: str
    downloads: str
    status: str
    revocable: bool  # the row has a revoke form


def listed_links(page: str) -> dict[str, ListedLink]:
    """The rows of the "Sales links" table, by link id (each id once: a second row for an id would be a bug)."""
    section = page[page.index('id="links-title"'):page.index('id="activity-title"')]
    found: dict[str, ListedLink] = {}
    for row in section.split("<tr>")[2:]:  # before the first: the section's start; then the header row
        cells = {label: html.unescape(re.sub(r"<[^>]+>", " ", text)).split()
                 for label, text in re.findall(r'data-label="([^"]+)">(.*?)</t[dh]>', row, re.DOTALL)}
        [link_id] = cells["Link"]
        assert link_id not in found, f"{link_id} listed twice"
        found[link_id] = ListedLink(" ".join(cells["Recipient"]), " ".join(cells["Expires"]),
                                    " ".join(cells["Opened"]), " ".join(cells["Downloads"]),
                                    " ".join(cells["Status"]), f"Revoke link {link_id}</button>" in row)
    return found


def listed_grants(page: str) -> set[str]:
    """The grants the "Active grants" table offers to revoke."""
    section = page[page.index('id="grants-title"'):page.index('id="links-title"')]
    return set(re.findall(r"Revoke grant (g-[0-9a-f]+)</button>", section))


def test_the_staff_page_lists_every_open_grant_and_link_and_nothing_ended_however_long_the_log(
        signer: Signer, staffed: Staffed) -> None:
    """A log of a few thousand events: every grant in force and every link that may still open is listed (and can
    be revoked); nothing revoked, expired or used up is offered as open. What is counted, not how fast."""
    from generator.gate.audit import Event

    gate = staffed.gate
    store, log = gate.store, gate.log
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    soon, gone = now + dt.timedelta(days=10), now - dt.timedelta(days=1)
    expected: dict[str, tuple[str, bool]] = {}  # link id -> (status shown, revocable)
    active_grants: set[str] = set()
    ended_grants: set[str] = set()

    def minted(tx: Any, number: int, *, expires: dt.datetime, max_downloads: int = 5) -> str:
        link = signer.link(recipient=f"p{number}@customer.test", expires_at=expires, max_downloads=max_downloads)
        log.append(tx, Event(Kind.MINTED, link_id=link.link_id, recipient=link.recipient, document=GATED_ID,
                             company=link.company, actor="cli:sales", detail=links.minted_detail(link)))
        return link.link_id

    def used(tx: Any, link_id: str, number: int, kind: Kind, *, status: int = 200, detail: str | None = None,
             grant_id: str | None = None) -> None:
        log.append(tx, Event(kind, status=status, link_id=link_id, recipient=f"p{number}@customer.test",
                             document=GATED_ID, company="Customer Inc", ip="192.0.2.7", detail=detail,
                             grant_id=grant_id))

    with store.db.write() as tx:
        for number in range(1000):
            match number % 10:
                case 0 | 1 | 2 | 3:  # recorded, in use, downloads left
                    link_id = minted(tx, number, expires=soon)
                    for kind in (Kind.OPENED, Kind.ACCEPTED, Kind.DOWNLOADED):
                        used(tx, link_id, number, kind)
                    expected[link_id] = ("active", True)
                case 4:  # revoked after being opened
                    link_id = minted(tx, number, expires=soon)
                    used(tx, link_id, number, Kind.OPENED)
                    log.append(tx, Event(Kind.REVOKED, link_id=link_id, detail="deal lost", actor=STAFF))
                    expected[link_id] = ("revoked: deal lost", False)
                case 5:  # past its expiry, however much it was used
                    link_id = minted(tx, number, expires=gone)
                    used(tx, link_id, number, Kind.OPENED)
                    expected[link_id] = ("expired", False)
                case 6:  # every download it allowed was made
                    link_id = minted(tx, number, expires=soon, max_downloads=2)
                    for kind in (Kind.OPENED, Kind.ACCEPTED, Kind.DOWNLOADED, Kind.DOWNLOADED):
                        used(tx, link_id, number, kind)
                    expected[link_id] = ("used up", False)
                case 7:  # minted elsewhere, opened here: open as far as the gate knows
                    link_id = signer.link().link_id
                    used(tx, link_id, number, Kind.OPENED)
                    used(tx, link_id, number, Kind.ACCEPTED)
                    expected[link_id] = ("open, as far as the gate knows", True)
                case 8:  # minted elsewhere, first seen when the gate refused it as expired
                    link_id = signer.link().link_id
                    used(tx, link_id, number, Kind.DENIED, status=410,
                         detail=f"expired at {gone.isoformat()}; token sha256:{'ab' * 8}")
                    expected[link_id] = ("expired", False)
                case _:  # minted elsewhere, opened, then revoked here
                    link_id = signer.link().link_id
                    used(tx, link_id, number, Kind.OPENED)
                    log.append(tx, Event(Kind.REVOKED, link_id=link_id, detail="wrong person", actor=STAFF))
                    expected[link_id] = ("revoked: wrong person", False)
        for number in range(400):
            ended = max(0, number % 4 - 1)  # 0: in force (half of them), 1: revoked, 2: expired
            grant, _ = store.access.create_grant(
                tx, email=f"g{number}@prospect.test", name=f"Grantee {number}", company="Prospect Ltd",
                documents=(GATED_ID,), days=-1 if ended == 2 else 30, nda_on_file=False, approved_by="rule:test",
                request_id=None)
            # A grant's own events name no link: they must not count as, nor make, a sales link.
            log.append(tx, Event(Kind.OPENED, status=200, grant_id=grant.id, recipient=grant.email, document=GATED_ID))
            log.append(tx, Event(Kind.DOWNLOADED, status=200, grant_id=grant.id, recipient=grant.email,
                                 document=GATED_ID))
            if ended == 1:
                log.append(tx, Event(Kind.REVOKED, grant_id=grant.id, detail="left the company", actor=STAFF))
            (ended_grants if ended else active_grants).add(grant.id)
    assert int(store.db.read().scalar("SELECT COUNT(*) FROM events")) > 3000

    browser = staffed.browser()
    sign_in(staffed, browser)
    page = browser.get("/staff")
    assert page.status == 200
    assert listed_grants(page.text) == active_grants and len(active_grants) == 200
    lists = page.text[:page.text.index('id="activity-title"')]  # the activity below may name any of them
    assert not any(grant_id in lists for grant_id in ended_grants)
    shown = listed_links(page.text)
    assert {link_id: (row.status, row.revocable) for link_id, row in shown.items()} == expected
    assert f"Active grants ({len(active_grants)})" in page.text and f"Sales links ({len(expected)})" in page.text
    # The counts are the link's own: a used link's row says what became of it.
    active = next(link_id for link_id, (status, _) in expected.items() if status == "active")
    assert (shown[active].opened, shown[active].downloads) == ("1", "1 of 5")


def test_a_link_minted_elsewhere_shows_once_the_gate_has_seen_it_and_can_be_revoked(
        signer: Signer, staffed: Staffed, tmp_path: Path) -> None:
    # A sales laptop: no gate database there, so `link create` records nothing (its "not recorded" note).
    laptop = links.create(staffed.gate.settings.project, links.LinkRequest(GATED_ID, "bob@customer.test", "Customer"),
                          private_key_path=tmp_path / "secrets" / "test-key.pem",
                          record=links.Record(tmp_path / "laptop" / "gate.sqlite3", actor="cli:sales"))
    assert laptop.recorded_in is None
    link_id = laptop.link.link_id
    browser = staffed.browser()
    csrf = sign_in(staffed, browser)
    assert link_id not in browser.get("/staff").text  # the gate knows nothing of it yet

    recipient = staffed.browser()
    assert recipient.get(f"/access/{laptop.token}").status == 200
    row = listed_links(browser.get("/staff").text)[link_id]
    assert row == ListedLink("bob@customer.test", "unknown (minted elsewhere)", "1", "0",
                             "open, as far as the gate knows", True)

    assert browser.post(f"/staff/links/{link_id}/revoke", {"csrf": csrf, "reason": "sent to the wrong Bob"}).status == 303
    assert flash(browser) == f"Revoked link {link_id}: it no longer opens."
    refused = recipient.get(f"/access/{laptop.token}")
    assert refused.status == 410 and "withdrawn" in refused.text
    [revoked] = staffed.events(Kind.REVOKED)
    assert (revoked.link_id, revoked.actor, revoked.detail) == (link_id, STAFF, "sent to the wrong Bob")
    row = listed_links(browser.get("/staff").text)[link_id]
    assert row.status == "revoked: sent to the wrong Bob" and not row.revocable


def test_a_link_minted_elsewhere_and_refused_as_expired_shows_expired(signer: Signer, staffed: Staffed,
                                                                      tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    laptop = links.create(staffed.gate.settings.project, links.LinkRequest(GATED_ID, "old@customer.test",
                                                                           expires="1d"),
                          private_key_path=tmp_path / "secrets" / "test-key.pem", now=now - dt.timedelta(days=2))
    assert laptop.recorded_in is None
    refused = staffed.browser().get(f"/access/{laptop.token}")
    assert refused.status == 410 and "expired" in refused.text
    browser = staffed.browser()
    sign_in(staffed, browser)
    row = listed_links(browser.get("/staff").text)[laptop.link.link_id]
    assert (row.recipient, row.expires, row.opened, row.status, row.revocable) == (
        "old@customer.test", "unknown (minted elsewhere)", "0", "expired", False)


# ---------------------------------------------------------------- how sessions end


def test_removal_from_the_staff_list_ends_the_session_at_once(staffed: Staffed) -> None:
    request = staffed.pending_request()
    browser = staffed.browser()
    csrf = sign_in(staffed, browser)
    write_access(staffed.project, [OTHER_STAFF])
    assert staffed.gate.reloader.reload()
    page = browser.get("/staff")
    assert page.status == 200 and "Send me a sign-in link" in page.text
    assert "max-age=0" in browser.cookie_attributes[COOKIE].lower() or browser.cookies[COOKIE] == ""
    [ended] = staffed.events(Kind.SIGNED_OUT)
    assert ended.actor == STAFF and ended.detail == "no longer on the staff list in access.yaml"
    refused = browser.post(f"/staff/requests/{request.id}/approve", {"csrf": csrf, "documents": GATED_ID, "days": "30"})
    assert refused.status == 403


def test_the_old_session_stays_ended_when_the_address_is_back_on_the_list(staffed: Staffed) -> None:
    browser = staffed.browser()
    sign_in(staffed, browser)
    session_cookie = browser.cookies[COOKIE]
    write_access(staffed.project, [OTHER_STAFF])
    assert staffed.gate.reloader.reload()
    browser.get("/staff")
    write_access(staffed.project, ["Staff@Company.example", OTHER_STAFF])
    assert staffed.gate.reloader.reload()
    browser.cookies[COOKIE] = session_cookie
    assert "Send me a sign-in link" in browser.get("/staff").text


def test_a_session_idle_for_30_minutes_ends(staffed: Staffed) -> None:
    browser = staffed.browser()
    sign_in(staffed, browser)
    session_hash = token_hash(browser.cookies[COOKIE])
    with staffed.gate.store.db.write() as tx:  # the last request was 31 minutes ago
        tx.execute("UPDATE staff_sessions SET seen = ? WHERE token_hash = ?",
                   (stamp(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=31)), session_hash))
    assert "Send me a sign-in link" in browser.get("/staff").text
    [ended] = staffed.events(Kind.SIGNED_OUT)
    assert ended.actor == STAFF and ended.detail == "no activity for 30 minutes"


def test_activity_keeps_a_session_alive_and_it_ends_8_hours_after_sign_in(staffed: Staffed) -> None:
    browser = staffed.browser()
    sign_in(staffed, browser)
    session_hash = token_hash(browser.cookies[COOKIE])
    db = staffed.gate.store.db
    created, expires = db.read().one("SELECT created, expires FROM staff_sessions WHERE token_hash = ?",  # type: ignore[misc]
                                     (session_hash,))
    assert dt.datetime.fromisoformat(expires) - dt.datetime.fromisoformat(created) == dt.timedelta(hours=8)
    with db.write() as tx:
        tx.execute("UPDATE staff_sessions SET seen = ? WHERE token_hash = ?",
                   (stamp(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=29)), session_hash))
    assert "Signed in as" in browser.get("/staff").text  # 29 minutes idle: still on, and seen now
    with db.write() as tx:
        tx.execute("UPDATE staff_sessions SET expires = ? WHERE token_hash = ?",
                   (stamp(dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)), session_hash))
    assert "Send me a sign-in link" in browser.get("/staff").text
    [ended] = staffed.events(Kind.SIGNED_OUT)
    assert ended.detail == "the session reached its 8 hours"


def test_signing_out_ends_the_session(staffed: Staffed) -> None:
    browser = staffed.browser()
    csrf = sign_in(staffed, browser)
    session_cookie = browser.cookies[COOKIE]
    out = browser.post("/staff/sign-out", {"csrf": csrf})
    assert out.status == 303 and "max-age=0" in browser.cookie_attributes[COOKIE].lower()
    page = browser.get("/staff").text
    assert "You are signed out." in page and "Send me a sign-in link" in page
    [ended] = staffed.events(Kind.SIGNED_OUT)
    assert ended.actor == STAFF and ended.detail == "signed out"
    browser.cookies[COOKIE] = session_cookie  # a copy of the old cookie opens nothing
    assert "Send me a sign-in link" in browser.get("/staff").text


# ---------------------------------------------------------------- closed, cookie name


def test_without_access_yaml_there_is_no_staff_page(project: Path, tmp_path: Path, smtp_server: SmtpServer) -> None:
    with start(project, tmp_path, smtp_server) as running:
        assert running.browser().get("/staff").status == 404


def test_without_mail_staff_sign_in_is_unavailable(project: Path, tmp_path: Path) -> None:
    write_access(project, [STAFF])
    with running_gate(settings(project, tmp_path, mail=None)) as running:
        page = running.browser().get("/staff")
        assert page.status == 503 and "cannot send e-mail" in page.text


def test_without_secure_cookies_the_cookie_drops_the_host_prefix(project: Path, tmp_path: Path,
                                                                 smtp_server: SmtpServer) -> None:
    write_access(project, [STAFF])
    with start(project, tmp_path, smtp_server, secure_cookies=False) as running:
        gate_app.current_of(running.app).delivery.start()
        staffed = Staffed(running, smtp_server, project)
        browser = running.browser()
        sign_in(staffed, browser)
        assert "trustcenter-staff" in browser.cookies and COOKIE not in browser.cookies
        assert "secure" not in browser.cookie_attributes["trustcenter-staff"].lower()


# ---------------------------------------------------------------- the pages: valid HTML


def test_every_staff_page_is_valid_html(signer: Signer, staffed: Staffed, tmp_path: Path) -> None:
    assert quality.VNU_JAR.exists(), "run `make test` (npm ci installs the Nu HTML Checker)"
    folder = tmp_path / "pages"
    folder.mkdir()
    browser = staffed.browser()
    (folder / "sign-in-form.html").write_bytes(browser.get("/staff").body)
    (folder / "sent.html").write_bytes(ask_for_link(browser, STAFF).body)
    path = sign_in_path(staffed.mail(STAFF, "Sign in"))
    page = browser.get(path)
    (folder / "sign-in.html").write_bytes(page.body)
    browser.post(path, {"csrf": browser.csrf_from(page)})
    (folder / "used-410.html").write_bytes(browser.get(path).body)
    staffed.pending_request(nda_claim=True)
    staffed.gate.desk.approve(staffed.pending_request(email="tom@prospect.test").id, "rule:test", days=30)
    links.create(staffed.gate.settings.project, links.LinkRequest(GATED_ID, "bob@customer.test"),
                 private_key_path=tmp_path / "secrets" / "test-key.pem", record=links.Record(staffed.gate.settings.db_path))
    (folder / "staff.html").write_bytes(browser.get("/staff").body)
    errors = quality.vnu_errors(folder)
    assert errors == [], "\n".join(errors)


# ---------------------------------------------------------------- as a person does it, in Chromium


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with launch_chromium() as browser:
        yield browser


@pytest.mark.browser
def test_a_staff_member_signs_in_and_approves_a_request_in_chromium(staffed: Staffed, chromium: Any) -> None:
    request = staffed.pending_request()
    context = chromium.new_context()
    page = context.new_page()
    console: list[str] = []
    failed: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.on("response", lambda response: failed.append(f"{response.status} {response.url}")
            if response.status >= 400 else None)
    base = staffed.running.base_url
    try:
        page.goto(f"{base}/staff")
        page.get_by_label("Your e-mail address").fill(STAFF)
        page.get_by_role("button", name="Send me a sign-in link").click()
        page.wait_for_url(f"{base}/staff/sign-in")
        assert page.locator("h1").inner_text() == "Check your e-mail"
        page.goto(base + sign_in_path(staffed.mail(STAFF, "Sign in")))  # as if clicked in the mail client
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{base}/staff")
        assert "Signed in as staff@company.example" in page.locator("main").inner_text()
        article = page.locator("article", has_text="Rita Prospect")
        article.get_by_label("Days of access").fill("21")
        article.get_by_role("button", name="Approve").click()
        page.wait_for_url(f"{base}/staff")
        assert page.get_by_role("status").inner_text().startswith(f"Approved: {REQUESTER} has access to")
        decided = staffed.gate.store.access.find_request(request.id)
        assert decided is not None and decided.status is RequestStatus.APPROVED and decided.decided_by == STAFF
        staffed.mail(REQUESTER, "Your access")
        # No CSP violation, no script error; the only thing missing is the favicon of a site not built here.
        assert [line for line in failed if not line.endswith("/favicon.ico")] == []
        assert [line for line in console if line.startswith("error") and "404" not in line] == []
    finally:
        context.close()


@pytest.mark.browser
def test_the_staff_page_has_no_axe_violation(staffed: Staffed, chromium: Any) -> None:
    staffed.pending_request(nda_claim=True)
    staffed.gate.desk.approve(staffed.pending_request(email="tom@prospect.test").id, "rule:test", days=30)
    browser = staffed.browser()
    sign_in(staffed, browser)
    failures = []
    for scheme in ("light", "dark"):
        # axe-core is injected through DevTools, which the page's CSP does not govern; bypassed for the check only.
        context = chromium.new_context(color_scheme=scheme, bypass_csp=True)
        context.add_cookies([{"name": COOKIE, "value": browser.cookies[COOKIE], "domain": "127.0.0.1", "path": "/",
                              "secure": True, "httpOnly": True, "sameSite": "Strict"}])
        page = context.new_page()
        for width in (1280, 390):
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(f"{staffed.running.base_url}/staff", wait_until="networkidle")
            assert "Signed in as" in page.locator("main").inner_text()
            failures += [f"{scheme} {width}px: {violation}" for violation in quality.axe_violations(page)]
            overflow = page.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth")
            assert not overflow, f"the staff page scrolls sideways at {width} px ({scheme})"
        context.close()
    assert failures == [], "\n".join(failures)
