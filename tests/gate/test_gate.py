"""The gate over real HTTP on loopback: the NDA flow, the download, refusals, headers, the static site."""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as dt
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pikepdf
import pytest
from click.testing import CliRunner
from conftest import NDA_TEXT, SALES
from loopback import (
    RECIPIENT,
    Browser,
    Reply,
    RunningGate,
    Signer,
    assert_gate_headers,
    assert_security_headers,
    running_gate,
    settings,
)
from stores import db_argument
from support import free_port, gate_database

from generator.cli import main
from generator.content.project import Project
from generator.errors import GateConfigError
from generator.gate import audit, keys, state
from generator.gate import settings as gate
from generator.gate.settings import open_log

# On SQLite and on PostgreSQL (`gate_store`, tests/conftest.py).
pytestmark = pytest.mark.usefixtures("gate_store")

SITE = {
    "index.html": "<!doctype html><html lang=en><title>Home</title><h1>Example Co trust center</h1>",
    "controls/index.html": "<!doctype html><html lang=en><title>Controls</title><h1>Controls</h1>",
    "404.html": "<!doctype html><html lang=en><title>Not found</title><h1>Site 404 page</h1>",
    "assets/site.css": "body { color: #111; }",
    "assets/site.js": "document.documentElement.dataset.js = 'yes';",
    "assets/logo.svg": "<svg xmlns='http://www.w3.org/2000/svg'/>",
    ".well-known/security.txt": "Contact: mailto:security@example.test\n",
    "feed.xml": "<?xml version='1.0'?><feed/>",
    "trust.json": "{}",
}


def build_site(project: Path) -> Path:
    """A small stand-in for the built MkDocs site (the real build is tested with the site)."""
    site = project / "site"
    for name, text in SITE.items():
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_text(text, encoding="utf-8")
    return site


@pytest.fixture
def running(project: Path, tmp_path: Path, signer: Signer) -> Iterator[RunningGate]:
    build_site(project)
    with running_gate(settings(project, tmp_path)) as started:
        yield started


def events(running: RunningGate) -> list[audit.Row]:
    return running.app.extensions["trustcenter.gate"].log.events()  # type: ignore[no-any-return]


# ---------------------------------------------------------------- the flow


def test_healthz_answers_ok(running: RunningGate) -> None:
    reply = running.browser().get("/healthz")
    assert (reply.status, reply.text) == (200, "ok")
    assert_gate_headers(reply)


def test_the_nda_page_shows_the_agreement_the_recipient_and_an_unchecked_required_checkbox(
        running: RunningGate, signer: Signer) -> None:
    reply = running.browser().get(f"/access/{signer.token()}")
    assert reply.status == 200
    assert_gate_headers(reply)
    page = reply.text
    assert '<html lang="en">' in page and "<main" in page and "<h1>" in page
    assert "Mutual non-disclosure agreement" in page and "<strong>recipient</strong>" in page
    assert "&lt;script&gt;alert" in page and "<script" not in page  # raw HTML in nda.md is shown as text
    assert RECIPIENT in page
    checkbox = re.search(r"<input id=\"accept\"[^>]*>", page)
    assert checkbox and "required" in checkbox[0] and "checked" not in checkbox[0]
    for field in ("name", "company", "accept"):
        assert f'<label for="{field}">' in page
    assert re.search(r'<input type="hidden" name="csrf" value="[\w-]{40,}">', page)
    assert " style=" not in page and "<style" not in page  # the CSP allows no inline style


def test_opening_a_link_changes_nothing_but_the_audit(running: RunningGate, signer: Signer) -> None:
    token = signer.token()
    browser = running.browser()
    for _ in range(3):  # mail scanners open links too
        assert browser.get(f"/access/{token}").status == 200
    assert [row.kind for row in events(running)] == ["opened"]  # reopened from one address: recorded once
    assert browser.get(f"/access/{token}/download").status == 403  # still not accepted


def test_accepting_records_who_what_when_where_and_redirects_303_to_the_download_offer(
        running: RunningGate, signer: Signer) -> None:
    token = signer.token()
    browser = running.browser()
    reply = browser.accept(token, name="Alice Example", company="Customer Inc")
    assert reply.status == 303 and reply.body == b""
    assert reply.header("Location") == f"/access/{token}"
    assert_gate_headers(reply)
    accepted = [row for row in events(running) if row.kind == "accepted"]
    assert len(accepted) == 1
    row = accepted[0]
    assert (row.recipient, row.name, row.company, row.ip) == (RECIPIENT, "Alice Example", "Customer Inc", "127.0.0.1")
    assert row.nda_sha256 == __import__("hashlib").sha256(NDA_TEXT.encode()).hexdigest()
    assert row.user_agent == "test-browser/1.0" and row.link_id and row.browser
    assert dt.datetime.fromisoformat(row.at.replace("Z", "+00:00")) <= dt.datetime.now(dt.UTC)
    offer = browser.get(reply.header("Location") or "")
    assert offer.status == 200 and "Download SOC 2 Type II report" in offer.text


def download(browser: Browser, token: str) -> Reply:
    offer = browser.get(f"/access/{token}")
    step = browser.post(f"/access/{token}", {"csrf": browser.csrf_from(offer), "step": "download"})
    assert step.status == 303 and step.header("Location") == f"/access/{token}/download"
    return browser.get(f"/access/{token}/download")


def test_the_download_is_a_watermarked_pdf_sent_as_an_attachment(running: RunningGate, signer: Signer,
                                                                 tmp_path: Path) -> None:
    link = signer.link()
    token = signer.token(link)
    browser = running.browser()
    browser.accept(token)
    reply = download(browser, token)
    assert reply.status == 200
    assert_gate_headers(reply)
    assert reply.header("Content-Type") == "application/pdf"
    assert reply.header("Content-Disposition") == f'attachment; filename="soc2-report-{link.link_id}.pdf"'
    pdf = tmp_path / "downloaded.pdf"
    pdf.write_bytes(reply.body)
    with pikepdf.open(pdf) as document:
        pages = len(document.pages)
        assert str(document.docinfo["/TrustCenterLinkId"]) == link.link_id
    for number in range(1, pages + 1):
        text = subprocess.run(["pdftotext", "-f", str(number), "-l", str(number), str(pdf), "-"],
                              capture_output=True, text=True, check=True).stdout
        assert RECIPIENT in text and link.link_id in text and "Customer Inc" in text
        assert dt.datetime.now(dt.UTC).date().isoformat() in text
    assert [row.kind for row in events(running)][-1] == "downloaded"


def test_a_link_with_the_nda_on_file_offers_the_download_at_once(running: RunningGate, signer: Signer) -> None:
    token = signer.token(nda_on_file=True)
    browser = running.browser()
    page = browser.get(f"/access/{token}")
    assert "Download SOC 2 Type II report" in page.text and 'name="accept"' not in page.text
    assert browser.get(f"/access/{token}/download").status == 200


def test_an_incomplete_form_is_shown_again_with_its_errors_and_nothing_is_recorded(
        running: RunningGate, signer: Signer) -> None:
    token = signer.token()
    browser = running.browser()
    page = browser.get(f"/access/{token}")
    reply = browser.post(f"/access/{token}", {"csrf": browser.csrf_from(page), "step": "accept",
                                              "name": "  ", "company": "Customer Inc"})
    assert reply.status == 400
    assert "Enter your full name." in reply.text and "Tick the box" in reply.text
    assert 'aria-invalid="true"' in reply.text and 'value="Customer Inc"' in reply.text
    assert "accepted" not in [row.kind for row in events(running)]


@pytest.mark.parametrize(("case", "heading"), [
    ("expired", "This link has expired"),
    ("revoked", "This link has been withdrawn"),
    ("used up", "download limit is reached"),
])
def test_expired_revoked_and_used_up_links_answer_410_naming_the_reason_and_whom_to_contact(
        running: RunningGate, signer: Signer, case: str, heading: str) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    log = running.app.extensions["trustcenter.gate"].log
    if case == "expired":
        link = signer.link(issued_at=now - dt.timedelta(days=2), expires_at=now - dt.timedelta(minutes=5))
    else:
        link = signer.link(max_downloads=1)
    token = signer.token(link)
    if case == "revoked":
        log.revoke(link.link_id, "sent to the wrong person")
    if case == "used up":
        browser = running.browser()
        browser.accept(token)
        assert download(browser, token).status == 200
    reply = running.browser().get(f"/access/{token}")
    assert reply.status == 410
    assert_gate_headers(reply)
    assert heading in reply.text and f"mailto:{SALES}" in reply.text
    assert "sent to the wrong person" not in reply.text  # the internal reason stays internal
    denied = events(running)[-1]
    assert (denied.kind, denied.status, denied.link_id) == ("denied", 410, link.link_id)


def test_a_revocation_takes_effect_at_once_in_a_running_gate(running: RunningGate, signer: Signer,
                                                            tmp_path: Path) -> None:
    link = signer.link()
    token = signer.token(link)
    browser = running.browser()
    browser.accept(token)
    result = CliRunner().invoke(main, ["link", "revoke", link.link_id, "--db", db_argument(gate_database(tmp_path))])
    assert result.exit_code == 0 and "revoked link" in result.output
    assert browser.get(f"/access/{token}/download").status == 410


def test_no_event_is_lost_under_concurrent_requests(running: RunningGate, signer: Signer) -> None:
    tokens = [signer.token() for _ in range(120)]  # a link each: one address's reopenings are recorded once
    paths = [f"/access/{token}" for token in tokens] + [f"/access/forged{index}.x.y" for index in range(30)]

    def fetch(path: str) -> int:
        return running.browser().get(path).status

    with concurrent.futures.ThreadPoolExecutor(max_workers=24) as pool:
        statuses = list(pool.map(fetch, paths))
    assert statuses.count(200) == 120 and statuses.count(403) + statuses.count(429) == 30
    rows = events(running)
    assert sum(row.kind == "opened" for row in rows) == 120
    assert sum(row.kind == "denied" for row in rows) >= 20  # a 429 flood is audited once per client
    assert running.app.extensions["trustcenter.gate"].log.verify_chain().ok


def test_a_burst_of_failures_from_one_address_gets_429_and_is_audited_once(running: RunningGate,
                                                                           signer: Signer) -> None:
    browser = running.browser()
    for index in range(20):  # each a different guess: the same one repeated is recorded once
        assert browser.get(f"/access/not.a{index}.token").status == 403
    blocked = browser.get(f"/access/{signer.token()}")  # even a good link, from that address, for a while
    assert blocked.status == 429 and int(blocked.header("Retry-After") or 0) > 0
    assert_gate_headers(blocked)
    assert browser.get("/access/not.a.token").status == 429
    assert browser.get("/").status == 200  # the static site is not throttled
    statuses = [row.status for row in events(running) if row.kind == "denied"]
    assert statuses == [403] * 20 + [429]


def test_the_session_cookie_is_httponly_secure_and_samesite_lax(running: RunningGate, signer: Signer) -> None:
    browser = running.browser()
    browser.get(f"/access/{signer.token()}")
    (name,) = browser.cookies
    assert name.startswith("__Host-")
    attributes = [part.strip().lower() for part in browser.cookie_attributes[name].split(";")]
    # Lax: a link clicked in a mail client is a cross-site navigation; CSRF token and Origin check guard POSTs.
    assert {"httponly", "secure", "samesite=lax", "path=/"} <= set(attributes)


def test_gate_pages_name_no_other_host(running: RunningGate, signer: Signer) -> None:
    browser = running.browser()
    pages = [browser.get(f"/access/{signer.token()}"), browser.get("/access/bad.to.ken"), browser.get("/nowhere")]
    for page in pages:
        assert not re.search(r"""(src|href|action)=["']?(https?:)?//""", page.text), page.text


def test_the_stylesheet_is_served_by_the_gate(running: RunningGate) -> None:
    reply = running.browser().get("/access/gate.css")
    assert reply.status == 200 and reply.header("Content-Type", ) == "text/css; charset=utf-8"
    assert_security_headers(reply)
    assert "@import" not in reply.text and "url(" not in reply.text


# ---------------------------------------------------------------- the static site beside the gate


@pytest.mark.parametrize(("path", "content_type", "marker"), [
    ("/", "text/html; charset=utf-8", "Example Co trust center"),
    ("/controls/", "text/html; charset=utf-8", "<h1>Controls</h1>"),
    ("/assets/site.css", "text/css; charset=utf-8", "color"),
    ("/assets/site.js", "text/javascript; charset=utf-8", "dataset"),
    ("/assets/logo.svg", "image/svg+xml; charset=utf-8", "<svg"),
    ("/.well-known/security.txt", "text/plain; charset=utf-8", "Contact:"),
    ("/feed.xml", "application/xml; charset=utf-8", "<feed/>"),
    ("/trust.json", "application/json", "{}"),
])
def test_the_built_site_is_served_with_its_content_types(running: RunningGate, path: str, content_type: str,
                                                         marker: str) -> None:
    reply = running.browser().get(path)
    assert reply.status == 200
    assert reply.header("Content-Type") == content_type
    assert marker in reply.text
    assert_security_headers(reply)
    assert reply.header("Cache-Control") != "no-store" and reply.header("ETag")
    assert reply.header("Set-Cookie") is None


def test_a_folder_without_its_slash_is_redirected(running: RunningGate) -> None:
    reply = running.browser().get("/controls?x=1")
    assert (reply.status, reply.header("Location")) == (308, "/controls/?x=1")
    assert_security_headers(reply)


def test_a_missing_page_gets_the_sites_404_page(running: RunningGate) -> None:
    reply = running.browser().get("/no/such/page/")
    assert reply.status == 404 and "Site 404 page" in reply.text
    assert_gate_headers(reply)


@pytest.mark.parametrize("path", [
    "/../trust/private/soc2.pdf",
    "/%2e%2e/trust/private/soc2.pdf",
    "/..%2ftrust%2fprivate%2fsoc2.pdf",
    "/assets/..%2f..%2ftrust/private/soc2.pdf",
    "/assets/../../trust/nda.md",
    "//etc/passwd",
    "/%00/etc/passwd",
    "/assets\\..\\..\\trust\\nda.md",
    "/trust/private/soc2.pdf",
    "/private/soc2.pdf",
])
def test_no_path_leads_out_of_the_site(running: RunningGate, path: str) -> None:
    reply = running.browser().get(path)
    assert reply.status in (400, 404), reply.status
    assert b"%PDF" not in reply.body and b"non-disclosure" not in reply.body.lower() and b"root:" not in reply.body


def test_a_symlink_out_of_the_site_is_not_followed(running: RunningGate, project: Path) -> None:
    (project / "site" / "report.pdf").symlink_to(project / "trust" / "private" / "soc2.pdf")
    reply = running.browser().get("/report.pdf")
    assert reply.status == 404 and b"%PDF" not in reply.body


def test_other_methods_on_the_site_are_refused_with_the_same_headers(running: RunningGate) -> None:
    reply = running.browser().post("/", {"x": "1"})
    assert reply.status == 405
    assert_gate_headers(reply)


def test_without_a_built_site_the_gate_answers_404_but_still_serves_links(project: Path, tmp_path: Path,
                                                                        signer: Signer) -> None:
    with running_gate(settings(project, tmp_path)) as started:
        browser = started.browser()
        reply = browser.get("/")
        assert reply.status == 404 and "Page not found" in reply.text
        assert_gate_headers(reply)
        assert browser.get(f"/access/{signer.token()}").status == 200


def test_the_session_secret_and_audit_key_are_kept_private_in_the_state_folder(project: Path, state_dir: Path,
                                                                               tmp_path: Path, gate_store: str) -> None:
    first = gate.settings_for(Project.at(project), create_db=True)
    second = gate.settings_for(Project.at(project), create_db=True)
    assert first.secret_key == second.secret_key and len(first.secret_key) == 32
    assert first.audit_key == second.audit_key and len(first.audit_key) == 32
    for name in ("gate-session.key", "audit.key"):
        assert (state_dir / name).stat().st_mode & 0o077 == 0
    if gate_store == "sqlite":  # the database beside them, out of the project
        assert first.db_path == state_dir / "gate.sqlite3" and not first.db_path.is_relative_to(project)
    else:  # the database TRUSTCENTER_DB names
        assert first.db_path == gate_database(tmp_path)


# ---------------------------------------------------------------- `trustcenter gate`


STARTUP_SECONDS = 60


@contextlib.contextmanager
def cli_gate(project: Path, *options: str) -> Iterator[tuple[Browser, list[str]]]:
    """`trustcenter gate` as a user starts it, in its own process; yields a client and, at the end, its output."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "generator", "gate", "--init", "--port", str(port), "--project",
                                str(project), *options], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    printed: list[str] = []
    try:
        browser = Browser("127.0.0.1", port)
        # Start-up is Python importing Flask, pikepdf and the content model, and opening the database: seconds
        # on a loaded machine (CI runs the suite on every core). Bounded, and an exit is said at once.
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert process.poll() is None, f"trustcenter gate exited with {process.returncode}"
            assert time.monotonic() < deadline, f"trustcenter gate not healthy within {STARTUP_SECONDS} s"
            try:
                if browser.get("/healthz").status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        yield browser, printed
    finally:
        process.terminate()
        printed.append(process.communicate(timeout=10)[0])


def test_trustcenter_gate_serves_links_and_the_site_from_one_process(project: Path, signer: Signer,
                                                                    state_dir: Path, gate_store: str) -> None:
    build_site(project)
    with cli_gate(project) as (browser, printed):
        assert browser.get("/").status == 200
        assert browser.get(f"/access/{signer.token()}").status == 200
        assert not (project / ".trustcenter").exists()
        assert (state_dir / "gate.sqlite3").is_file() == (gate_store == "sqlite")  # else in TRUSTCENTER_DB's
        log = open_log(Project.at(project), None)  # the default database: where the gate recorded the opening
        assert [row.kind for row in log.events()] == ["opened"]
        log.close()
    assert f"gate on http://127.0.0.1:{browser.port}/" in printed[0]


@pytest.mark.parametrize("proxy", [None, "127.0.0.1"])
def test_forwarded_addresses_are_believed_only_from_the_named_proxy(project: Path, signer: Signer,
                                                                    proxy: str | None) -> None:
    options = ["--trusted-proxy", proxy] if proxy else []
    with cli_gate(project, *options) as (browser, _):
        browser.get(f"/access/{signer.token()}", headers={"X-Forwarded-For": "203.0.113.9"})
    (row,) = open_log(Project.at(project), None).events()
    assert row.ip == ("203.0.113.9" if proxy else "127.0.0.1")


def test_trustcenter_gate_refuses_to_start_without_trusted_keys(project: Path) -> None:
    result = CliRunner().invoke(main, ["gate", "--init", "--project", str(project)])
    assert result.exit_code == 1 and "no public keys in trust/keys/" in result.output


# ---------------------------------------------------------------- found in review


def test_a_huge_request_body_is_refused_before_it_is_read(project: Path, signer: Signer) -> None:
    with cli_gate(project) as (browser, _):
        with socket.create_connection((browser.host, browser.port), timeout=10) as connection:
            connection.sendall(f"POST /access/{signer.token()} HTTP/1.1\r\nHost: {browser.host}\r\n"
                               "Content-Type: application/x-www-form-urlencoded\r\n"
                               f"Content-Length: {200 * 1024 * 1024}\r\n\r\n".encode() + b"name=x&" * 100)
            started = time.monotonic()
            answer = connection.recv(4096)  # times out if the gate waits for the other 200 MB
        assert answer.startswith(b"HTTP/1.1 413 "), answer[:80]
        assert time.monotonic() - started < 5


def secret_file(tmp_path: Path, content: bytes = bytes(range(32)), mode: int = 0o600) -> Path:
    file = tmp_path / "gate-state" / "gate-session.key"
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_bytes(content)
    file.chmod(mode)
    return file


def settings_beside(tmp_path: Path, project: Path) -> gate.GateSettings:
    return gate.settings_for(Project.at(project), db_path=gate_database(tmp_path), create_db=True)


def test_a_session_secret_file_others_can_read_is_refused(project: Path, tmp_path: Path) -> None:
    secret_file(tmp_path, mode=0o644)
    with pytest.raises(GateConfigError, match="chmod 600"):
        settings_beside(tmp_path, project)


def test_a_session_secret_file_owned_by_another_user_is_refused(project: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    owner = secret_file(tmp_path).stat().st_uid
    monkeypatch.setattr(state.os, "getuid", lambda: owner + 1)
    with pytest.raises(GateConfigError, match="belongs to another user"):
        settings_beside(tmp_path, project)


def test_a_short_session_secret_file_is_refused(project: Path, tmp_path: Path) -> None:
    secret_file(tmp_path, content=b"short")
    with pytest.raises(GateConfigError, match="shorter than 32 bytes"):
        settings_beside(tmp_path, project)


def test_a_short_session_secret_in_the_environment_is_refused(project: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(gate.SECRET_ENV, "x" * 31)
    with pytest.raises(GateConfigError, match="at least 32 bytes"):
        settings_beside(tmp_path, project)
    monkeypatch.setenv(gate.SECRET_ENV, "x" * 32)
    assert settings_beside(tmp_path, project).secret_key == b"x" * 32


def test_trustcenter_gate_refuses_an_unsafe_session_secret_in_one_sentence(project: Path, tmp_path: Path) -> None:
    secret_file(tmp_path, mode=0o644)
    result = CliRunner().invoke(main, ["gate", "--init", "--project", str(project), "--db",
                                       db_argument(gate_database(tmp_path))])
    assert result.exit_code == 1
    assert result.output.startswith("error: the secret ") and result.output.count("\n") == 1
    assert "gate-session.key can be read or changed by other users" in result.output


def test_trustcenter_gate_notes_that_it_does_not_trust_the_demo_key(project: Path) -> None:
    keys.ensure_demo_key(Project.at(project))
    # A process of its own, so a gate that did trust the demo key would time out instead of serving forever.
    finished = subprocess.run([sys.executable, "-m", "generator", "gate", "--init", "--port", str(free_port()),
                               "--project", str(project)], capture_output=True, text=True, timeout=30)
    assert "note: not trusting the demo key(s) demo-" in finished.stderr
    assert finished.returncode == 1 and "no public keys in trust/keys/" in finished.stderr


def test_the_gates_pages_carry_the_companys_brand_colour(running: RunningGate, signer: Signer) -> None:
    page = running.browser().get(f"/access/{signer.token()}")
    assert '<link rel="stylesheet" href="/access/brand.css">' in page.text
    reply = running.browser().get("/access/brand.css")
    assert reply.status == 200 and reply.header("Content-Type", ) and "text/css" in (reply.header("Content-Type") or "")
    assert "--accent: #3949ab;" in reply.text  # the default brand colour, dark enough for white text already
