"""The access loop's latency: from a prospect's request to the downloaded PDF, on the auto-approve path, against a
sales link's path (open, accept, download) in the same run. Prints figures; asserts nothing.

    .venv/bin/python bench/bench_requests.py [--runs 10]

A real gate on loopback (waitress, its delivery thread running as under `trustcenter gate`) and a real SMTP
server (aiosmtpd, tests/smtp.py). The client does what a person does with no pause in between: the form, the
confirmation link from the received mail, the button, the grant link from the next mail, the NDA, two downloads.
What it measures is the machine's part of the wait: the gate's work, the outbox, SMTP; a person reading the mail
adds their own.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from conftest import GATED_ID, OTHER_GATED_ID, make_project  # noqa: E402
from loopback import Browser, add_signing_key, running_gate, settings  # noqa: E402
from smtp import SmtpServer  # noqa: E402

from generator.gate import app as gate_app  # noqa: E402
from generator.gate import request_form  # noqa: E402
from generator.gate.mail import MailSettings  # noqa: E402

ACCESS_YAML = "staff: [staff@example.com]\nrules:\n  - domains: [customer.example]\n    decision: approve\n"


def _mail(smtp: SmtpServer, to: str, subject: str, seen: int) -> tuple[str, int]:
    """The path of the first link in the next mail to `to` about `subject`, and how many mails there are now."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for received in smtp.messages[seen:]:
            if to in received.rcpt_tos and subject in str(received.message["Subject"]):
                url = next(u for u in SmtpServer.links(received) if "/request/" in u or "/grant/" in u)
                return urllib.parse.urlsplit(url).path, len(smtp.messages)
        time.sleep(0.002)
    raise RuntimeError(f"no mail to {to} about {subject}")


def request_to_download(browser: Browser, smtp: SmtpServer, email: str) -> float:
    started = time.perf_counter()
    form = browser.get(f"/request?document={GATED_ID}")
    reply = browser.post("/request", [("csrf", browser.csrf_from(form)), ("name", "Jane Doe"), ("email", email),
                                      ("company", "Customer Ltd"), ("documents", GATED_ID),
                                      ("documents", OTHER_GATED_ID)])
    assert reply.status == 303, reply.text
    confirm, seen = _mail(smtp, email, "Confirm your request", 0)
    page = browser.get(confirm)
    assert browser.post(confirm, {"csrf": browser.csrf_from(page)}).status == 200
    grant, _ = _mail(smtp, email, "Your access", seen)
    page = browser.get(grant)
    assert browser.post(grant, {"csrf": browser.csrf_from(page), "step": "accept", "name": "Jane Doe",
                                "company": "Customer Ltd", "accept": "yes"}).status == 303
    for document in (GATED_ID, OTHER_GATED_ID):
        page = browser.get(grant)
        chosen = browser.post(grant, {"csrf": browser.csrf_from(page), "step": "download", "document": document})
        pdf = browser.get(urllib.parse.urlsplit(chosen.header("Location") or "").path)
        assert pdf.status == 200 and pdf.body.startswith(b"%PDF")
    return time.perf_counter() - started


def link_to_download(browser: Browser, token: str) -> float:
    started = time.perf_counter()
    assert browser.accept(token).status == 303
    page = browser.get(f"/access/{token}")
    chosen = browser.post(f"/access/{token}", {"csrf": browser.csrf_from(page), "step": "download"})
    pdf = browser.get(urllib.parse.urlsplit(chosen.header("Location") or "").path)
    assert pdf.status == 200 and pdf.body.startswith(b"%PDF")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    # Every run comes from 127.0.0.1: the per-network brake against bots would stop the sixth.
    request_form.REQUESTS_PER_HOUR = 10_000
    with tempfile.TemporaryDirectory() as folder, SmtpServer() as smtp:
        tmp = Path(folder)
        project = make_project(tmp)
        (project / "trust" / "access.yaml").write_text(ACCESS_YAML)
        signer = add_signing_key(project, tmp)
        gate_settings = settings(project, tmp, mail=MailSettings(smtp_url=smtp.url))
        with running_gate(gate_settings) as gate:
            worker = gate_app.current_of(gate.app).delivery
            worker.start()
            try:
                request_to_download(gate.browser(), smtp, "warm-up@customer.example")
                loop = [request_to_download(gate.browser(), smtp, f"p{n}@customer.example") for n in range(runs)]
                links = [link_to_download(gate.browser(), signer.token(max_downloads=5)) for _ in range(runs)]
            finally:
                worker.stop()
    print(f"request to download, auto-approve path (2 documents, {runs} runs): median "
          f"{statistics.median(loop) * 1000:.0f} ms, max {max(loop) * 1000:.0f} ms")
    print(f"sales link to download (1 document, same gate, same run): median "
          f"{statistics.median(links) * 1000:.0f} ms, max {max(links) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
