"""The whole access loop as people do it, in Chromium, on the demo content: a prospect asks from the documents
page, confirms the address from the e-mail the SMTP server received, is approved by a rule, accepts one NDA and
downloads two watermarked reports; a second prospect waits for review, a staff member signs in by e-mail,
approves for 7 days and revokes; the mail server goes down and comes back; a webhook receiver checks every
signature with the Standard Webhooks reference implementation."""

from __future__ import annotations

import http.server
import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from loopback import RunningGate, running_gate, settings
from smtp import ReceivedMail, SmtpServer
from standardwebhooks.webhooks import Webhook
from support import chromium as launch_chromium
from support import copy_demo, free_port, run_cli

from generator.gate import app as gate_app
from generator.gate.grants import parse_stamp
from generator.gate.mail import MailSettings

pytestmark = pytest.mark.browser

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw1234567890ab"  # 32+ bytes once decoded
STAFF = "security@halyard.example"


class Receiver(http.server.ThreadingHTTPServer):
    """The company's webhook endpoint: verifies every delivery as Standard Webhooks prescribes."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.events: list[dict[str, Any]] = []
        self.rejected: list[str] = []
        self.verifier = Webhook(SECRET)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        try:
            self.server.events.append(self.server.verifier.verify(body, dict(self.headers)))
            self.send_response(204)
        except Exception as error:  # the reference implementation refused it: a bad signature or time
            self.server.rejected.append(str(error))
            self.send_response(400)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with launch_chromium() as browser:
        yield browser


@pytest.fixture
def loop(tmp_path: Path, smtp_server: SmtpServer) -> Iterator[tuple[RunningGate, Receiver]]:
    project = copy_demo(tmp_path / "demo")
    assert run_cli("build", cwd=project).returncode == 0
    receiver = Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    hooks = tmp_path / "webhooks.yaml"
    hooks.write_text(f"- name: crm\n  url: http://127.0.0.1:{receiver.server_port}/hooks\n  secret: {SECRET}\n")
    port = free_port()
    gate_settings = settings(project, tmp_path, mail=MailSettings(smtp_url=smtp_server.url), webhooks_file=hooks,
                             public_url=f"http://127.0.0.1:{port}")
    with running_gate(gate_settings, port=port) as running:
        worker = gate_app.current_of(running.app).delivery
        worker.start()  # as `trustcenter gate` does: mail and webhooks go out in the background
        try:
            yield running, receiver
        finally:
            worker.stop()
            receiver.shutdown()


def mail(smtp: SmtpServer, to: str, subject: str) -> ReceivedMail:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for received in smtp.messages:
            if to in received.rcpt_tos and subject in str(received.message["Subject"]):
                return received
        time.sleep(0.05)
    raise AssertionError(f"no e-mail to {to} about '{subject}'; got {[str(m.message['Subject']) for m in smtp.messages]}")


def link(received: ReceivedMail, path: str) -> str:
    [found] = [url for url in SmtpServer.links(received) if urllib.parse.urlsplit(url).path.startswith(path)]
    return found


def request_access(page: Any, base: str, *, email: str, name: str, company: str, extra: tuple[str, ...] = ()) -> None:
    page.goto(f"{base}/documents/")
    page.get_by_role("link", name="Request access to SOC 2 Type II report").click()
    page.wait_for_url(f"{base}/request?document=soc2-type2-report")
    assert page.get_by_label("SOC 2 Type II report").is_checked()  # pre-selected from the link
    for title in extra:
        page.get_by_label(title).check()
    page.get_by_label("Your full name").fill(name)
    page.get_by_label("Work e-mail address").fill(email)
    page.get_by_label("Your company").fill(company)
    page.get_by_role("button", name="Send the request").click()
    page.wait_for_url(f"{base}/request/sent")
    assert page.locator("h1").inner_text() == "Check your inbox"


def test_the_access_loop_end_to_end(loop: tuple[RunningGate, Receiver], smtp_server: SmtpServer, chromium: Any,
                                    tmp_path: Path) -> None:
    running, receiver = loop
    base = running.base_url
    gate = gate_app.current_of(running.app)

    # 1. A customer: approved by the domain rule, one NDA, two watermarked documents.
    prospect = chromium.new_context(accept_downloads=True)
    page = prospect.new_page()
    request_access(page, base, email="jane@customer.example", name="Jane Doe", company="Customer Ltd",
                   extra=("Penetration test executive summary 2026",))
    page.goto(link(mail(smtp_server, "jane@customer.example", "Confirm your request"), "/request/confirm/"))
    page.get_by_role("button", name="Confirm my request").click()
    assert page.locator("h1").inner_text() == "Request approved"
    page.goto(link(mail(smtp_server, "jane@customer.example", "Your access"), "/grant/"))
    assert page.get_by_label("Your full name").input_value() == "Jane Doe"
    page.get_by_label("I have read the agreement above").check()
    page.get_by_role("button", name="Accept and continue").click()
    assert page.locator("h1").inner_text() == "Your documents"
    for title in ("SOC 2 Type II report", "Penetration test executive summary 2026"):
        with page.expect_download() as download_info:
            page.get_by_role("button", name=f"Download {title}").click()
        saved = tmp_path / download_info.value.suggested_filename
        download_info.value.save_as(saved)
        with pikepdf.open(saved) as pdf:
            assert str(pdf.docinfo["/TrustCenterRecipient"]) == "jane@customer.example"
    prospect.close()

    # 2. A free-mail address: staff review; a staff member signs in by e-mail, approves for 7 days, revokes.
    second = chromium.new_context()
    page = second.new_page()
    request_access(page, base, email="sam.reviewer@gmail.com", name="Sam Reviewer", company="Prospect GmbH")
    page.goto(link(mail(smtp_server, "sam.reviewer@gmail.com", "Confirm your request"), "/request/confirm/"))
    page.get_by_role("button", name="Confirm my request").click()
    assert page.locator("h1").inner_text() == "Request received"
    review = mail(smtp_server, STAFF, "Access request to review")
    staff = chromium.new_context().new_page()
    staff.goto(link(review, "/staff"))
    staff.get_by_label("Your e-mail address").fill(STAFF)
    staff.get_by_role("button", name="Send me a sign-in link").click()
    staff.goto(link(mail(smtp_server, STAFF, "Sign in"), "/staff/sign-in/"))
    staff.get_by_role("button", name="Sign in").click()
    staff.wait_for_url(f"{base}/staff")
    pending = staff.locator("article", has_text="Sam Reviewer")
    pending.get_by_label("Days of access").fill("7")
    pending.get_by_role("button", name="Approve").click()
    assert staff.get_by_role("status").inner_text().startswith("Approved: sam.reviewer@gmail.com")
    grant_url = link(mail(smtp_server, "sam.reviewer@gmail.com", "Your access"), "/grant/")
    [grant] = [g for g in gate.store.access.grants() if g.email == "sam.reviewer@gmail.com"]
    assert (grant.expires_at - parse_stamp(grant.created)).days == 7 and grant.approved_by == STAFF
    page.goto(grant_url)
    assert page.locator("h1").inner_text() == "Non-disclosure agreement"
    staff.locator("tr", has_text="sam.reviewer@gmail.com").get_by_role("button", name="Revoke grant").click()
    assert "Revoked" in staff.get_by_role("status").inner_text()
    response = page.goto(grant_url)
    assert response is not None and response.status == 410
    assert page.locator("h1").inner_text() == "This access has been withdrawn"
    second.close()

    # 3. The mail server is down: the request still completes; the e-mail arrives once it is back.
    smtp_server.down()
    third = chromium.new_context().new_page()
    request_access(third, base, email="lee@customer.example", name="Lee Example", company="Customer Ltd")
    deadline = time.monotonic() + 15  # the delivery thread tries, and the server refuses it
    while not any(item.target == "lee@customer.example" and item.attempts and item.last_error
                  for item in gate.store.outbox.items(pending_only=True)):
        assert time.monotonic() < deadline, "no failed delivery attempt while the mail server was down"
        time.sleep(0.05)
    smtp_server.up()
    gate.store.outbox.retry()  # the next attempt of the backoff, now rather than in 30 s
    gate.delivery.wake()
    assert mail(smtp_server, "lee@customer.example", "Confirm your request")

    # 4. The webhook receiver got every event, each with a valid signature.
    deadline = time.monotonic() + 15
    wanted = {"access_request.received", "access_request.approved", "document.downloaded", "grant.revoked"}
    while not wanted <= {event["type"] for event in receiver.events} and time.monotonic() < deadline:
        time.sleep(0.1)
    assert receiver.rejected == []
    types = [event["type"] for event in receiver.events]
    assert wanted <= set(types), types
    assert types.count("document.downloaded") == 2
    assert json.dumps(receiver.events).count("jane@customer.example") >= 3
    assert gate.log.verify_chain().ok


def test_a_denied_request_reaches_the_webhook_and_the_requester(loop: tuple[RunningGate, Receiver],
                                                                 smtp_server: SmtpServer, chromium: Any) -> None:
    running, receiver = loop
    page = chromium.new_context().new_page()
    request_access(page, running.base_url, email="x@mailinator.com", name="X", company="X")
    page.goto(link(mail(smtp_server, "x@mailinator.com", "Confirm your request"), "/request/confirm/"))
    page.get_by_role("button", name="Confirm my request").click()
    assert page.locator("h1").inner_text() == "Request not approved"
    assert mail(smtp_server, "x@mailinator.com", "Your request to Halyard")
    deadline = time.monotonic() + 15
    while "access_request.denied" not in [e["type"] for e in receiver.events] and time.monotonic() < deadline:
        time.sleep(0.1)
    [denied] = [e for e in receiver.events if e["type"] == "access_request.denied"]
    assert denied["data"]["email"] == "x@mailinator.com" and denied["data"]["by"] == "rule:Throwaway addresses"
