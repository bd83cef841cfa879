"""The NDA flow as a person does it, in a real headless Chromium against a real gate on loopback."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pikepdf
import pytest
from loopback import RECIPIENT, RunningGate, Signer, add_signing_key, running_gate, settings
from support import chromium as launch_chromium
from support import copy_demo, run_cli, serve_directory

pytestmark = [pytest.mark.usefixtures("gate_store"), pytest.mark.browser]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with launch_chromium() as browser:
        yield browser


@pytest.fixture
def running(project: Path, tmp_path: Path, signer: Signer) -> Iterator[RunningGate]:
    with running_gate(settings(project, tmp_path)) as started:
        yield started


class Watched:
    """A fresh browser context (its own cookies) whose every request and console message is kept."""

    def __init__(self, chromium: Any) -> None:
        self.context = chromium.new_context(accept_downloads=True)
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.console: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("console", lambda message: self.console.append(f"{message.type}: {message.text}"))
        self.page.on("pageerror", lambda error: self.console.append(f"pageerror: {error}"))

    def other_hosts(self) -> set[str]:
        return {urlsplit(url).hostname or url for url in self.requests} - {"127.0.0.1"}

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def watched(chromium: Any) -> Iterator[Watched]:
    session = Watched(chromium)
    yield session
    session.close()


def test_a_recipient_accepts_the_nda_and_downloads_a_report_watermarked_on_every_page(
        running: RunningGate, signer: Signer, watched: Watched, tmp_path: Path) -> None:
    link = signer.link()
    page = watched.page
    page.goto(f"{running.base_url}/access/{signer.token(link)}")
    assert page.locator("h1").inner_text() == "Non-disclosure agreement"
    assert RECIPIENT in page.locator("main").inner_text()
    page.get_by_label("Your full name").fill("Alice Example")
    page.get_by_label("Your company").fill("Customer Inc")
    checkbox = page.locator("#accept")
    assert not checkbox.is_checked()
    page.locator("label[for=accept]").click()
    assert checkbox.is_checked()
    page.get_by_role("button", name="Accept and continue").click()
    page.wait_for_url(re.compile(r"/access/[^/]+$"))
    assert page.locator("h1").inner_text() == "Download SOC 2 Type II report"
    with page.expect_download() as started:
        page.get_by_role("button", name=re.compile("^Download")).click()
    saved = tmp_path / "report.pdf"
    started.value.save_as(saved)
    assert started.value.suggested_filename == f"soc2-report-{link.link_id}.pdf"
    with pikepdf.open(saved) as pdf:
        pages = len(pdf.pages)
    assert pages == 3
    for number in range(1, pages + 1):
        text = subprocess.run(["pdftotext", "-f", str(number), "-l", str(number), str(saved), "-"],
                              capture_output=True, text=True, check=True).stdout
        assert RECIPIENT in text, f"page {number} lacks the recipient"
        assert link.link_id in text, f"page {number} lacks the link id"
    assert watched.other_hosts() == set()
    assert not [line for line in watched.console if "Content Security Policy" in line or "pageerror" in line]


def test_chromium_keeps_the_secure_session_cookie_on_http_loopback(running: RunningGate, signer: Signer,
                                                                   watched: Watched) -> None:
    watched.page.goto(f"{running.base_url}/access/{signer.token()}")
    (cookie,) = watched.context.cookies()
    assert cookie["name"].startswith("__Host-")
    assert (cookie["secure"], cookie["httpOnly"], cookie["sameSite"]) == (True, True, "Lax")


def test_after_accepting_a_link_clicked_in_a_mail_client_goes_straight_to_the_download(
        running: RunningGate, signer: Signer, watched: Watched, tmp_path: Path) -> None:
    token = signer.token()
    page = watched.page
    page.goto(f"{running.base_url}/access/{token}")
    page.get_by_label("Your full name").fill("Alice Example")
    page.get_by_label("Your company").fill("Customer Inc")
    page.locator("label[for=accept]").click()
    page.get_by_role("button", name="Accept and continue").click()
    page.wait_for_url(re.compile(r"/access/[^/]+$"))
    # The same link in a webmail on another site: a cross-site navigation, as a click in a mail client is.
    mail = tmp_path / "mail"
    mail.mkdir()
    (mail / "index.html").write_text(f'<!doctype html><title>Inbox</title><a id="link" '
                                     f'href="{running.base_url}/access/{token}">Your SOC 2 report</a>')
    server, base = serve_directory(mail)
    try:
        page.goto(base.replace("127.0.0.1", "localhost"))
        page.click("#link")
        page.wait_for_url(re.compile(r"/access/[^/]+$"))
        assert page.locator("h1").inner_text() == "Download SOC 2 Type II report"
    finally:
        server.shutdown()
    log = running.app.extensions["trustcenter.gate"].log
    assert [row.kind for row in log.events()].count("accepted") == 1


def test_the_form_cannot_be_sent_without_ticking_the_box(running: RunningGate, signer: Signer,
                                                         watched: Watched) -> None:
    page = watched.page
    page.goto(f"{running.base_url}/access/{signer.token()}")
    page.get_by_label("Your full name").fill("Alice Example")
    page.get_by_label("Your company").fill("Customer Inc")
    page.get_by_role("button", name="Accept and continue").click()
    assert page.locator("h1").inner_text() == "Non-disclosure agreement"
    assert page.locator("#accept").evaluate("box => box.validity.valueMissing")
    log = running.app.extensions["trustcenter.gate"].log
    assert "accepted" not in [row.kind for row in log.events()]


def test_no_gate_page_makes_a_request_to_another_host(running: RunningGate, signer: Signer,
                                                      watched: Watched) -> None:
    page = watched.page
    token = signer.token(nda_on_file=True)
    for path in (f"/access/{token}", "/access/not.a.link", "/no-such-page", "/healthz"):
        page.goto(f"{running.base_url}{path}")
        page.wait_for_load_state("networkidle")
    assert len(watched.requests) >= 4
    assert watched.other_hosts() == set()
    assert not [line for line in watched.console if "Content Security Policy" in line]


@pytest.fixture(scope="module")
def demo_behind_the_gate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGate]:
    """The demo content built by `trustcenter build`, served by the gate with its CSP."""
    root = tmp_path_factory.mktemp("demo-gate")
    project = copy_demo(root / "project")
    result = run_cli("build", cwd=project)
    assert result.returncode == 0, result.stderr
    add_signing_key(project, root)
    with running_gate(settings(project, root)) as started:
        yield started


# strict: once overrides/ load Material's inline snippets from files, this passes and the marker must go.
@pytest.mark.parametrize("path", ["/", "/controls/", "/subprocessors/"])
def test_the_built_site_works_under_the_gates_content_security_policy(demo_behind_the_gate: RunningGate,
                                                                      watched: Watched, path: str) -> None:
    watched.page.goto(f"{demo_behind_the_gate.base_url}{path}")
    watched.page.wait_for_load_state("networkidle")
    blocked = [line for line in watched.console if "Content Security Policy" in line or line.startswith("pageerror")]
    assert blocked == [], "\n".join(blocked)
    assert watched.other_hosts() == set()
