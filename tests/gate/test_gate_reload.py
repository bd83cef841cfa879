"""A running gate follows trust/: keys, documents and the NDA reloaded as they change, a broken edit kept out,
every refusal logged with its reason; `trustcenter gate --check`; SIGHUP."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import write_pdf
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from loopback import Browser, RunningGate, Signer, add_signing_key, running_gate, settings
from stores import tamper
from support import free_port, gate_database

from generator.cli import main
from generator.content.project import Project
from generator.errors import StoreError
from generator.gate import app as gate_app
from generator.gate import audit, db, keys, tokens
from generator.gate.settings import open_log

# On SQLite and on PostgreSQL (`gate_store`, tests/conftest.py).
pytestmark = pytest.mark.usefixtures("gate_store")

NEW_ID = "iso-certificate"
NEW_DOCUMENT = f"""\
  - id: {NEW_ID}
    title: ISO 27001 certificate
    access: gated
    file: private/iso.pdf
    updated: {dt.date.today() - dt.timedelta(days=3)}
"""
NEW_NDA = ("# Mutual non-disclosure agreement, version 2\n\n"
           "The recipient keeps the report confidential for five years.\n")


@pytest.fixture
def running(project: Path, tmp_path: Path, signer: Signer) -> Iterator[RunningGate]:
    # Looks every 0.2 s so each test takes about a second; polling with refused links must not trip the throttle.
    with running_gate(settings(project, tmp_path, reload_seconds=0.2, failure_limit=1000)) as started:
        yield started


def eventually(probe: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not probe():
        assert time.monotonic() < deadline, f"not within {seconds} s"
        time.sleep(0.2)


def status(gate: RunningGate, token: str) -> int:
    return gate.browser().get(f"/access/{token}").status


def logged_after_a_request(gate: RunningGate, caplog: pytest.LogCaptureFixture, text: str) -> bool:
    """Whether `text` is in the log once a request has given the gate a chance to look (a gate made by
    `running_gate` looks on requests only; `trustcenter gate` also looks from a thread of its own)."""
    gate.browser().get("/healthz")
    return text in caplog.text


def events(gate: RunningGate) -> list[audit.Row]:
    return gate_app.current_of(gate.app).log.events()


def add_document(project: Path) -> None:
    write_pdf(project / "trust" / "private" / "iso.pdf", pages=1, label="Example Co ISO 27001 certificate")
    with (project / "trust" / "documents.yaml").open("a", encoding="utf-8") as handle:
        handle.write(NEW_DOCUMENT)


# ---------------------------------------------------------------- keys


def test_a_key_added_while_the_gate_runs_is_honoured_within_seconds(project: Path, tmp_path: Path,
                                                                   signer: Signer) -> None:
    with running_gate(settings(project, tmp_path, failure_limit=1000)) as started:  # the default interval
        assert status(started, signer.token()) == 200
        rotated = add_signing_key(project, tmp_path, kid="rotated")
        token = rotated.token()
        began = time.monotonic()
        eventually(lambda: status(started, token) == 200)
        assert time.monotonic() - began < 10


def test_a_key_removed_while_the_gate_runs_stops_being_honoured(running: RunningGate, project: Path,
                                                                 tmp_path: Path, signer: Signer) -> None:
    retired = add_signing_key(project, tmp_path, kid="retired")
    eventually(lambda: status(running, retired.token()) == 200)
    (project / "trust" / "keys" / "retired.pem").unlink()
    eventually(lambda: status(running, retired.token()) == 403)
    assert status(running, signer.token()) == 200
    denied = [row for row in events(running) if row.kind == "denied"]
    assert (denied[-1].detail or "").startswith("unknown key id")


def test_a_demo_key_added_while_the_gate_runs_is_still_not_trusted(running: RunningGate, project: Path,
                                                                    tmp_path: Path) -> None:
    demo_private = keys.ensure_demo_key(Project.at(project))
    (demo_kid,) = keys.demo_kids(Project.at(project))
    demo = Signer(keys.load_private_key(demo_private), demo_kid)
    rotated = add_signing_key(project, tmp_path, kid="rotated")
    eventually(lambda: status(running, rotated.token()) == 200)  # the reload that read the demo key has happened
    assert status(running, demo.token()) == 403


# ---------------------------------------------------------------- content and NDA


def test_a_gated_document_added_to_documents_yaml_becomes_available(running: RunningGate, project: Path,
                                                                    signer: Signer) -> None:
    token = signer.token(document_id=NEW_ID)
    assert status(running, token) == 403
    add_document(project)
    eventually(lambda: status(running, token) == 200)
    browser = running.browser()
    assert browser.accept(token).status == 303
    download = browser.get(f"/access/{token}/download")
    assert download.status == 200 and download.body.startswith(b"%PDF")
    assert f'filename="{NEW_ID}-' in (download.header("Content-Disposition") or "")


def test_an_edited_nda_is_shown_and_acceptances_record_its_sha256(running: RunningGate, project: Path,
                                                                 signer: Signer) -> None:
    token = signer.token()
    (project / "trust" / "nda.md").write_text(NEW_NDA, encoding="utf-8")
    eventually(lambda: "for five years" in running.browser().get(f"/access/{token}").text)
    assert running.browser().accept(token).status == 303
    accepted = [row for row in events(running) if row.kind == "accepted"]
    assert [row.nda_sha256 for row in accepted] == [hashlib.sha256(NEW_NDA.encode()).hexdigest()]


def test_an_nda_changed_after_it_was_shown_is_shown_again_before_it_can_be_accepted(
        running: RunningGate, project: Path, signer: Signer) -> None:
    token = signer.token()
    browser = running.browser()
    page = browser.get(f"/access/{token}")
    assert "for five years" not in page.text
    (project / "trust" / "nda.md").write_text(NEW_NDA, encoding="utf-8")
    eventually(lambda: "for five years" in running.browser().get(f"/access/{token}").text)
    form = {"csrf": browser.csrf_from(page), "step": "accept", "name": "Alice Example", "company": "Customer Inc",
            "accept": "yes"}
    again = browser.post(f"/access/{token}", form)
    assert again.status == 400
    assert "The agreement has changed" in again.text and "for five years" in again.text
    assert "accepted" not in [row.kind for row in events(running)]
    assert browser.post(f"/access/{token}", form).status == 303
    (accepted,) = [row for row in events(running) if row.kind == "accepted"]
    assert accepted.nda_sha256 == hashlib.sha256(NEW_NDA.encode()).hexdigest()


def test_an_invalid_edit_keeps_the_old_state_and_logs_a_located_error_until_fixed(
        running: RunningGate, project: Path, signer: Signer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    documents = project / "trust" / "documents.yaml"
    good = documents.read_text(encoding="utf-8")
    lines = good.count("\n")
    documents.write_text(good + "  - id: [broken\n", encoding="utf-8")
    eventually(lambda: logged_after_a_request(running, caplog, "reload failed"))
    (failure,) = [record for record in caplog.records if "reload failed" in record.getMessage()]
    assert failure.levelno == logging.ERROR
    located = re.search(r"\n  trust/documents\.yaml:(\d+):\d+: error: YAML syntax error", failure.getMessage())
    assert located and int(located[1]) > lines, failure.getMessage()  # where the parser noticed: the broken line on
    assert status(running, signer.token()) == 200  # the previous state serves on
    assert status(running, signer.token(document_id=NEW_ID)) == 403
    write_pdf(project / "trust" / "private" / "iso.pdf", pages=1)
    documents.write_text(good + NEW_DOCUMENT, encoding="utf-8")  # fixed, with a new document
    eventually(lambda: status(running, signer.token(document_id=NEW_ID)) == 200)
    assert "reloaded: 1 key, 3 gated documents, NDA " in caplog.text


def test_an_invalid_edit_is_logged_once_not_at_every_look(running: RunningGate, project: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    (project / "trust" / "nda.md").write_bytes(b"")
    eventually(lambda: logged_after_a_request(running, caplog, "reload failed"))
    for _ in range(8):  # more looks, each on a request 0.2 s after the last
        time.sleep(0.2)
        running.browser().get("/healthz")
    assert caplog.text.count("reload failed") == 1
    assert "trust/nda.md:1:1: error: trust/nda.md is empty" in caplog.text


# ---------------------------------------------------------------- the gate's log


def test_a_refusal_is_logged_with_its_reason_and_the_tokens_fingerprint_never_the_token(
        running: RunningGate, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    stranger = Signer(Ed25519PrivateKey.generate(), "stranger")
    token = stranger.token()
    reply = running.browser().get(f"/access/{token}")
    assert reply.status == 403 and "unknown key id" not in reply.text  # the reason is never the visitor's
    (record,) = [record for record in caplog.records if record.getMessage().startswith("refused")]
    assert record.levelno == logging.WARNING and record.name == gate_app.logger.name
    assert record.getMessage() == f"refused 403 to 127.0.0.1: unknown key id; token sha256:{tokens.fingerprint(token)}"
    assert token not in caplog.text and token[-20:] not in caplog.text


# ---------------------------------------------------------------- `trustcenter gate --check`


def build_site(project: Path) -> None:
    (project / "site").mkdir(exist_ok=True)
    (project / "site" / "index.html").write_text("<!doctype html><title>Trust</title><p>site</p>", encoding="utf-8")


def check(project: Path, *options: str) -> tuple[int, list[str]]:
    result = CliRunner().invoke(main, ["gate", "--check", "--project", str(project), *options])
    return result.exit_code, result.output.splitlines()


@pytest.fixture
def deployment(project: Path, signer: Signer) -> Path:
    """A deployment that passes: valid content, a key, a built site, a database made by an earlier start."""
    build_site(project)
    open_log(Project.at(project), None, create=True).close()
    return project


def test_gate_check_passes_on_a_good_deployment_and_serves_nothing(deployment: Path, state_dir: Path) -> None:
    code, lines = check(deployment)
    assert code == 0, lines
    assert [line.split(":")[:2] for line in lines] == [
        ["ok", " content"], ["ok", " keys"], ["ok", " database"], ["ok", " site"], ["ok", " session secret"]]
    assert "2 gated document(s) present and watermarkable: soc2-report, pentest-summary" in lines[0]
    assert lines[1] == "ok: keys: 1 trusted in trust/keys/: test-key"
    assert "0 event(s), the chain verifies" in lines[2]
    assert not (state_dir / "gate-session.key").exists()  # checked, not made


def test_gate_check_fails_without_keys_and_notes_a_skipped_demo_key(project: Path) -> None:
    build_site(project)
    open_log(Project.at(project), None, create=True).close()
    keys.ensure_demo_key(Project.at(project))
    code, lines = check(project)
    assert code == 1
    (line,) = [line for line in lines if "keys:" in line]
    assert line.startswith("error: keys: there are no public keys in trust/keys/, so every link would be refused")
    assert "not trusting the demo key(s) demo-" in line


def test_gate_check_fails_on_a_missing_gated_file_naming_it(deployment: Path) -> None:
    (deployment / "trust" / "private" / "pentest.pdf").unlink()
    code, lines = check(deployment)
    assert code == 1
    assert lines[0] == "error: content: trust/ has 1 error(s); fix them (`trustcenter check` lists them too)"
    assert re.fullmatch(r"  trust/documents\.yaml:\d+:\d+: error: the file 'private/pentest\.pdf' does not exist.*",
                        lines[1])
    assert all(line.startswith("ok: ") for line in lines[2:])


def test_gate_check_fails_on_a_missing_database_without_init_and_creates_none(
        project: Path, signer: Signer, state_dir: Path, tmp_path: Path, gate_store: str,
        request: pytest.FixtureRequest) -> None:
    # On PostgreSQL a new deployment's database is there, and empty: it is what `--init` fills.
    database = state_dir / "gate.sqlite3" if gate_store == "sqlite" else gate_database(tmp_path)  # the default
    build_site(project)
    code, lines = check(project)
    assert code == 1
    if gate_store == "sqlite":
        assert f"error: database: there is no gate database at {database}; check --db" in lines[2]
    else:
        assert lines[2].startswith("error: database: ") and "--init" in lines[2]
    code, lines = check(project, "--init")
    assert code == 0 and lines[2].startswith(f"ok: database: none at {database} yet")
    if gate_store == "sqlite":
        assert not (state_dir / "gate.sqlite3").exists()
    else:  # still empty: no table was made
        with pytest.raises(StoreError, match="is not a gate database"):
            db.open_database(gate_database(tmp_path))


def test_gate_check_fails_on_an_audit_chain_that_does_not_verify(deployment: Path) -> None:
    log = open_log(Project.at(deployment), None)
    log.record(audit.Event(audit.Kind.OPENED, status=200, link_id="link-0001", ip="127.0.0.1"))
    log.close()
    tamper(log.path, "UPDATE events SET ip = '10.0.0.1' WHERE id = 1")  # someone past the triggers, not the key
    code, lines = check(deployment)
    assert code == 1
    assert lines[2] == (f"error: database: the audit log in {log.path} does not verify (event 1 was changed after it "
                        "was written); the gate does not start on it: keep the file for investigation and restore the "
                        "last backup that verifies")


# ---------------------------------------------------------------- `trustcenter gate`: SIGHUP and the console


@contextlib.contextmanager
def gate_process(project: Path, *options: str) -> Iterator[tuple[subprocess.Popen[str], Browser, list[str]]]:
    """`trustcenter gate` in its own process; yields it, a client and, once it has stopped, its stderr."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "generator", "gate", "--init", "--port", str(port),
                                "--project", str(project), *options],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    logged: list[str] = []
    try:
        browser = Browser("127.0.0.1", port)
        # Start-up takes seconds on a loaded machine (the suite runs on every core): a longer bound than a reload's.
        eventually(lambda: _healthy(browser, process), seconds=60)
        yield process, browser, logged
    finally:
        process.terminate()
        logged.append(process.communicate(timeout=10)[1])


def _healthy(browser: Browser, process: subprocess.Popen[str]) -> bool:
    assert process.poll() is None, f"trustcenter gate exited with {process.returncode}"
    try:
        return browser.get("/healthz").status == 200
    except OSError:
        return False


def test_sighup_makes_trustcenter_gate_reload_at_once(project: Path, tmp_path: Path, signer: Signer) -> None:
    with gate_process(project, "--reload-seconds", "3600") as (process, browser, logged):
        rotated = add_signing_key(project, tmp_path, kid="rotated")
        assert browser.get(f"/access/{rotated.token()}").status == 403
        process.send_signal(signal.SIGHUP)
        eventually(lambda: browser.get(f"/access/{rotated.token()}").status == 200, seconds=5)
        assert process.poll() is None  # still serving
    assert "INFO generator.gate.reload: reloaded: 2 keys, 2 gated documents, NDA " in logged[0]


def test_trustcenter_gate_logs_refusals_to_stderr_with_a_timestamp_never_the_token(project: Path,
                                                                                     signer: Signer) -> None:
    stranger = Signer(Ed25519PrivateKey.generate(), "stranger")
    token = stranger.token()
    with gate_process(project) as (_, browser, logged):
        assert browser.get(f"/access/{token}").status == 403
    line = (f"WARNING generator.gate.app: refused 403 to 127.0.0.1: unknown key id; "
            f"token sha256:{tokens.fingerprint(token)}")
    timestamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"
    assert re.search(rf"^{timestamp} {re.escape(line)}$", logged[0], re.MULTILINE), logged[0]
    assert token not in logged[0]
