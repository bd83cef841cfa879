"""The gate's host and origin: service workers, the site folder, slow clients, the throttle, a database that
is replaced or tampered with, tokens kept out of logs."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from loopback import RunningGate, Signer, assert_gate_headers, running_gate, settings
from stores import backup, db_argument, restore, tamper
from support import free_port, gate_database

from generator.cli import main
from generator.errors import GateConfigError
from generator.gate import app as gate_app

# On SQLite and on PostgreSQL (`gate_store`, tests/conftest.py). The tests marked sqlite_only are about SQLite's
# file; tests/gate/test_postgres_store.py has PostgreSQL's (a server stopped under the gate, an empty database).
pytestmark = pytest.mark.usefixtures("gate_store")


@pytest.fixture
def running(project: Path, tmp_path: Path, signer: Signer) -> Iterator[RunningGate]:
    (project / "site").mkdir()
    (project / "site/index.html").write_text("<!doctype html><title>Trust</title><p>site</p>")
    with running_gate(settings(project, tmp_path)) as started:
        yield started


def test_no_service_worker_script_is_served_from_the_gates_origin(running: RunningGate, signer: Signer) -> None:
    browser = running.browser()
    for path in ("/", "/index.html", f"/access/{signer.token()}"):
        reply = browser.get(path, headers={"Service-Worker": "script"})
        assert reply.status == 403, path
        assert_gate_headers(reply)
    assert browser.get("/").status == 200


def test_the_csp_lets_workers_come_only_from_the_origin_itself(running: RunningGate) -> None:
    csp = running.browser().get("/").header("Content-Security-Policy") or ""
    assert "worker-src 'self';" in csp and "blob:" not in csp


@pytest.mark.parametrize("inside", [".", "trust", "state"])
def test_a_site_folder_holding_the_content_or_the_state_is_refused(project: Path, tmp_path: Path, state_dir: Path,
                                                                   inside: str) -> None:
    where = {".": project, "trust": project / "trust", "state": state_dir}[inside]  # state: audit key, secret
    with pytest.raises(GateConfigError, match="refusing to serve"):
        gate_app.create_app(settings(project, tmp_path, site_dir=where))


@pytest.mark.sqlite_only  # a server's database has no folder here
def test_a_site_folder_holding_the_database_is_refused(project: Path, tmp_path: Path) -> None:
    database = gate_database(tmp_path)
    with pytest.raises(GateConfigError, match=f"refusing to serve .*: it contains {database.parent}"):
        gate_app.create_app(settings(project, tmp_path, site_dir=database.parent))


def test_trustcenter_gate_refuses_the_project_folder_as_site_dir_in_one_sentence(project: Path,
                                                                                  signer: Signer) -> None:
    result = CliRunner().invoke(main, ["gate", "--init", "--project", str(project), "--site-dir", str(project)])
    assert result.exit_code == 1
    assert result.output.splitlines()[-1].startswith(f"error: refusing to serve {project} as the site: it contains ")


def test_slow_clients_do_not_take_the_gate_down(running: RunningGate, signer: Signer) -> None:
    slow = []
    try:
        for _ in range(150):  # slowloris: connections that send a few bytes and never finish their request
            connection = socket.create_connection((running.host, running.port), timeout=5)
            connection.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
            slow.append(connection)
        browser = running.browser()
        assert browser.get("/healthz").status == 200
        assert browser.get(f"/access/{signer.token()}").status == 200
    finally:
        for connection in slow:
            connection.close()


def test_a_recipients_own_expired_links_never_lock_them_out(running: RunningGate, signer: Signer) -> None:
    import datetime as dt

    past = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=2)
    expired = signer.token(issued_at=past - dt.timedelta(days=1), expires_at=past)
    browser = running.browser()
    for _ in range(30):
        assert browser.get(f"/access/{expired}").status == 410
    assert browser.get(f"/access/{signer.token()}").status == 200  # not throttled: nothing was forged


def test_forged_links_still_get_the_client_throttled(running: RunningGate, signer: Signer) -> None:
    browser = running.browser()
    for _ in range(20):
        assert browser.get("/access/forged.to.ken").status == 403
    assert browser.get(f"/access/{signer.token()}").status == 429


@pytest.mark.parametrize(("address", "key"), [
    ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"), ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
    ("2001:db8:1:3::1", "2001:db8:1:3::/64"), ("203.0.113.9", "203.0.113.9"), ("::ffff:203.0.113.9", "203.0.113.9"),
])
def test_the_throttle_counts_an_ipv6_client_by_its_64(address: str, key: str) -> None:
    assert gate_app.client_key(address) == key


@pytest.mark.sqlite_only
def test_a_database_replaced_under_a_running_gate_stops_it_answering(running: RunningGate, signer: Signer,
                                                                      tmp_path: Path) -> None:
    browser = running.browser()
    assert browser.get("/healthz").status == 200
    database = tmp_path / "state" / "gate.sqlite3"
    database.rename(tmp_path / "state" / "moved.sqlite3")
    database.write_bytes(b"")  # a new, empty file where the database was
    assert browser.get("/healthz").status == 503
    reply = browser.get(f"/access/{signer.token()}")
    assert reply.status == 503 and "Temporarily unavailable" in reply.text
    assert_gate_headers(reply)


def test_the_gate_refuses_to_start_on_a_log_that_does_not_verify(project: Path, tmp_path: Path,
                                                                 signer: Signer) -> None:
    with running_gate(settings(project, tmp_path)) as started:
        started.browser().get(f"/access/{signer.token()}")
    tamper(gate_database(tmp_path), "UPDATE events SET ip = '198.51.100.1'")  # only the chain can tell
    with pytest.raises(Exception, match="does not verify") as refused:
        gate_app.create_app(settings(project, tmp_path))
    assert type(refused.value).__name__ == "StoreError"
    result = CliRunner().invoke(main, ["gate", "--project", str(project), "--db", db_argument(gate_database(tmp_path))])
    assert result.exit_code == 1 and "does not verify (event 1 was changed after it was written)" in result.output


@pytest.mark.sqlite_only  # a file that is not there; on PostgreSQL, an empty database (test_postgres_store.py)
def test_the_gate_will_not_start_on_a_missing_database_without_init(project: Path, tmp_path: Path,
                                                                    signer: Signer) -> None:
    wrong = tmp_path / "typo" / "gate.sqlite3"
    finished = subprocess.run([sys.executable, "-m", "generator", "gate", "--port", str(free_port()), "--project",
                               str(project), "--db", str(wrong)], capture_output=True, text=True, timeout=30)
    assert finished.returncode == 1
    assert finished.stderr == (f"error: there is no gate database at {wrong}; check --db, or create one with "
                               "`trustcenter gate --init` (a new database starts with no revocations)\n")
    assert not wrong.parent.exists()


def test_tokens_never_reach_the_gates_logs(running: RunningGate, signer: Signer,
                                           caplog: pytest.LogCaptureFixture) -> None:
    token = signer.token()
    caplog.set_level(logging.INFO)
    logging.getLogger("waitress").error("Exception while serving /access/%s/download", token)
    gate_app.logger.error("unexpected error in the gate", exc_info=ValueError(f"bad path /access/{token}"))
    assert caplog.records and token not in caplog.text
    assert "/access/<redacted>/download" in caplog.text


def test_opening_one_link_a_thousand_times_writes_one_row(running: RunningGate, signer: Signer) -> None:
    token = signer.token()
    browser = running.browser()
    started = time.monotonic()
    for _ in range(1000):
        assert browser.get(f"/access/{token}").status == 200
    assert time.monotonic() - started < 120
    rows = running.app.extensions["trustcenter.gate"].log.events()
    assert [row.kind for row in rows] == ["opened"]


def test_a_gate_on_its_own_origin_serves_no_page_of_the_site(project: Path, tmp_path: Path, signer: Signer) -> None:
    (project / "site").mkdir()
    (project / "site/index.html").write_text("<!doctype html><title>Trust</title><p>site</p>")
    with running_gate(settings(project, tmp_path, serve_site=False)) as started:
        browser = started.browser()
        home = browser.get("/")
        assert home.status == 303 and home.header("Location") == "https://trust.example.test"
        page = browser.get("/index.html")
        assert page.status == 404 and 'href="https://trust.example.test"' in page.text
        assert browser.get(f"/access/{signer.token()}").status == 200


def test_an_older_copy_of_the_log_put_back_is_refused_against_the_checkpoints(project: Path, tmp_path: Path,
                                                                               signer: Signer) -> None:
    database = gate_database(tmp_path)
    older = f"older_{uuid.uuid4().hex}"  # a file beside the database, or a database on its server
    with running_gate(settings(project, tmp_path)) as started:
        started.browser().get(f"/access/{signer.token()}")
    backup(database, older)  # a backup of that moment
    with running_gate(settings(project, tmp_path)) as started:
        started.browser().get(f"/access/{signer.token()}")
        kept = tmp_path / "offsite.jsonl"
        kept.write_text(started.app.extensions["trustcenter.gate"].log.checkpoint().line() + "\n")
    restore(database, older)  # put back, with the revocations since lost
    gate_app.create_app(settings(project, tmp_path)).extensions["trustcenter.gate"].log.close()  # alone it verifies
    with pytest.raises(Exception, match="events were cut off the end"):
        gate_app.create_app(settings(project, tmp_path, checkpoints=kept))


def test_the_same_refusal_repeated_from_one_address_is_one_row(running: RunningGate, signer: Signer) -> None:
    token = signer.token()
    browser = running.browser()
    for _ in range(300):  # a download asked for again and again without accepting: not a guess, never throttled
        assert browser.get(f"/access/{token}/download").status == 403
    rows = running.app.extensions["trustcenter.gate"].log.events()
    assert [(row.kind, row.status) for row in rows] == [("denied", 403)]


def test_healthz_writes_to_the_database_at_most_every_ten_seconds(running: RunningGate,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    database = running.app.extensions["trustcenter.gate"].log.db
    writes: list[int] = []
    write = database.write

    def counted() -> Any:
        writes.append(1)
        return write()

    browser = running.browser()
    assert browser.get("/healthz").status == 200
    wal = database.path.with_name(database.path.name + "-wal") if database.dialect == "sqlite" else None
    before = os.stat(wal).st_mtime_ns if wal else None
    monkeypatch.setattr(database, "write", counted)
    for _ in range(50):
        assert browser.get("/healthz").status == 200
    assert writes == []  # no transaction of the gate's
    if wal:  # nor anything else written to the file
        assert os.stat(wal).st_mtime_ns == before
    monkeypatch.setattr(gate_app, "HEALTH_WRITE_SECONDS", 0.0)  # what the count sees when ten seconds have passed
    assert browser.get("/healthz").status == 200 and writes == [1]
