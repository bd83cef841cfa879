"""The gate's PostgreSQL store where it differs from SQLite: the threats the sqlite_only tests meet on SQLite's file
(its triggers dropped, its schema edited, a file replaced, a read-only mount, a path that names no database), met
where PostgreSQL has them: a session past the triggers, a trigger disabled or added, a rule, row-level security,
a server stopped or a database restored under a running gate, a read-only database, an empty one.

Every test here runs on a database of its own on the tests' server (`postgres_server`, tests/conftest.py), or on a
server of its own where it stops one."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner
from loopback import Signer, running_gate, settings
from stores import backup, restore
from support import free_port

from generator.cli import main
from generator.content.project import Project
from generator.errors import StoreError
from generator.gate import app as gate_app
from generator.gate import audit, db
from generator.gate.settings import audit_key


@pytest.fixture
def database(postgres_server: Any, monkeypatch: pytest.MonkeyPatch) -> db.PostgresUrl:
    """A new, empty database; TRUSTCENTER_DB names it, so the CLI and `loopback.settings` use it too."""
    url = postgres_server.database()
    monkeypatch.setenv(db.DB_ENV, url)
    return db.PostgresUrl(url)


@pytest.fixture
def key(project: Path) -> bytes:
    """The audit key the CLI and the gate find too (audit.key in the state folder)."""
    return audit_key(Project.at(project), create=True)


@pytest.fixture
def log(database: db.PostgresUrl, key: bytes) -> Iterator[audit.AuditLog]:
    opened = audit.AuditLog(database, key, create=True)
    yield opened
    opened.close()


def superuser(where: db.PostgresUrl) -> psycopg.Connection[Any]:
    """A session of its own, as the server's administrator (the tests' server runs the gate as one)."""
    return psycopg.connect(where.url, autocommit=True)


def opened(link_id: str = "link-0001") -> audit.Event:
    return audit.Event(audit.Kind.OPENED, 200, link_id=link_id, recipient="alice@customer.test", ip="127.0.0.1")


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


# ---------------------------------------------------------------- the audit chain, past the triggers


def test_no_session_can_update_delete_or_truncate_the_events(log: audit.AuditLog, database: db.PostgresUrl) -> None:
    log.record(opened())
    with superuser(database) as other:
        for statement in ("UPDATE events SET recipient = 'mallory@evil.test'", "DELETE FROM events",
                          "TRUNCATE events"):  # TRUNCATE fires no row trigger: it has its own
            with pytest.raises(psycopg.errors.RaiseException, match="the audit log is append-only"):
                other.execute(statement)
    assert [row.recipient for row in log.events()] == ["alice@customer.test"] and log.verify_chain().ok


@pytest.mark.parametrize(("statement", "problem"), [
    ("UPDATE events SET name = 'Somebody Else' WHERE id = 2", "event 2 was changed after it was written"),
    ("DELETE FROM events WHERE id = 2", "event 2 is missing (next is 3)"),
])
def test_a_row_changed_or_deleted_past_the_triggers_breaks_the_chain_and_audit_names_it(
        log: audit.AuditLog, database: db.PostgresUrl, project: Path, statement: str, problem: str) -> None:
    for index in range(3):
        log.record(opened(f"link-000{index}"))
    with superuser(database) as other:
        other.execute("SET session_replication_role = replica")  # no ordinary trigger fires in this session
        other.execute(statement)
    assert log.structure_problem() is None  # the structure is untouched: only the chain can tell
    code, output = run("audit", "--verify", "--db", database.url, "--project", str(project))
    assert code == 1 and f"tampered with: {problem}" in output, output


# ---------------------------------------------------------------- the structure: what could change or hide a row

FUNCTION = ("CREATE FUNCTION quietly_dropped() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RETURN NULL; END $$")  # a BEFORE trigger that returns NULL drops the row, and says nothing
CHANGES = {
    "a trigger disabled": (["ALTER TABLE events DISABLE TRIGGER events_append_only_update"],
                           "events_append_only_update"),
    "a trigger that fires only for replicas": (["ALTER TABLE events ENABLE REPLICA TRIGGER events_append_only_delete"],
                                               "events_append_only_delete"),
    "a trigger dropped": (["DROP TRIGGER events_append_only_truncate ON events"], "events_append_only_truncate"),
    "a trigger added": ([FUNCTION, "CREATE TRIGGER events_sanity BEFORE INSERT ON events FOR EACH ROW "
                                   "WHEN (NEW.kind IN ('revoked', 'downloaded')) EXECUTE FUNCTION quietly_dropped()"],
                        "events_sanity"),
    "a trigger added to another table": ([FUNCTION, "CREATE TRIGGER grants_sanity BEFORE INSERT ON grants "
                                                    "FOR EACH ROW EXECUTE FUNCTION quietly_dropped()"],
                                         "grants_sanity"),
    "a rule": (["CREATE RULE events_quiet AS ON INSERT TO events WHERE NEW.kind = 'revoked' DO INSTEAD NOTHING"],
               "events_quiet"),
    "row-level security": (["ALTER TABLE events ENABLE ROW LEVEL SECURITY",
                            "CREATE POLICY events_hidden ON events USING (kind <> 'revoked')"], "events"),
    "an index added": (["CREATE INDEX events_by_ip ON events (ip)"], "events_by_ip"),
    "a column added": (["ALTER TABLE grants ADD COLUMN note TEXT"], "grants"),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_database_whose_structure_was_changed_is_refused_by_the_log_and_the_gate(
        log: audit.AuditLog, database: db.PostgresUrl, key: bytes, project: Path, tmp_path: Path, signer: Signer,
        change: str) -> None:
    statements, name = CHANGES[change]
    log.record(opened())
    with superuser(database) as other:
        for statement in statements:
            other.execute(statement)
    problem = f"its tables, indexes, triggers, rules or policies were changed ({name})"
    assert log.structure_problem() == problem
    assert log.verify_chain() == audit.ChainCheck(False, 0, audit.GENESIS, problem)
    with pytest.raises(StoreError, match=re.escape(f"cannot be trusted: {problem}")):
        audit.AuditLog(database, key)  # `audit`, `link revoke`, a restart
    with pytest.raises(StoreError, match="cannot be trusted"):
        gate_app.create_app(settings(project, tmp_path))


@pytest.mark.parametrize("change", ["a trigger added", "a rule"])
def test_a_revocation_dropped_by_a_trigger_or_rule_is_noticed_by_the_running_gate(
        log: audit.AuditLog, database: db.PostgresUrl, change: str) -> None:
    # The counterpart of SQLite's RAISE(IGNORE) trigger: the INSERT "succeeds" and writes nothing.
    log.record(opened())
    with superuser(database) as other:
        for statement in CHANGES[change][0]:
            other.execute(statement)
    with pytest.raises(StoreError, match="did not record an event it was given"):
        log.revoke("link-0001", "contract ended")
    assert log.revocation("link-0001") is None and len(log.events()) == 1


# ---------------------------------------------------------------- a database that is not (yet) a gate's


def test_an_empty_database_is_not_taken_for_a_gate_database_and_is_left_empty(
        database: db.PostgresUrl, key: bytes, project: Path, signer: Signer) -> None:
    # SQLite's counterpart is a path where no file is; here the server has the database, and it is empty.
    for command in (("audit",), ("audit", "--verify"), ("link", "revoke", "AbCdEfGh12345678"), ("link", "list"),
                    ("requests", "list"), ("grants", "list"), ("outbox",)):
        code, output = run(*command, "--db", database.url, "--project", str(project))
        assert code == 1 and f"there is no gate database at {database.label}; check --db" in output, (command, output)
    finished = subprocess.run([sys.executable, "-m", "generator", "gate", "--port", str(free_port()), "--project",
                               str(project), "--db", database.url], capture_output=True, text=True, timeout=60)
    assert finished.returncode == 1 and f"there is no gate database at {database.label}; check --db" in finished.stderr
    with superuser(database) as other:
        assert other.execute("SELECT count(*) FROM information_schema.tables "
                             "WHERE table_schema = current_schema()").fetchone() == (0,)


# ---------------------------------------------------------------- the server under a running gate


def test_health_fails_while_the_server_is_stopped_and_recovers_when_it_is_back(
        project: Path, tmp_path: Path, signer: Signer, monkeypatch: pytest.MonkeyPatch) -> None:
    import pgserver

    monkeypatch.setattr(db, "CONNECT_SECONDS", 2.0)  # how long a request waits for a connection before its 503
    token = signer.token()
    with pgserver.running() as server:
        monkeypatch.setenv(db.DB_ENV, server.database())
        with running_gate(settings(project, tmp_path)) as gate:
            browser = gate.browser()
            assert browser.get("/healthz").status == 200
            log = gate_app.current_of(gate.app).log
            server.stop_server()
            assert browser.get("/healthz").status == 503  # a load balancer stops sending links here
            with pytest.raises(StoreError, match="cannot be reached"):
                log.health()
            reply = browser.get(f"/access/{token}")
            assert reply.status == 503 and "Temporarily unavailable" in reply.text
            server.start_server()
            assert browser.get("/healthz").status == 200  # connected again, with no restart of the gate
            assert browser.get(f"/access/{token}").status == 200
            assert [row.kind for row in log.events()] == ["opened"] and log.verify_chain().ok


def test_a_database_restored_under_a_running_gate_stops_it_answering(
        database: db.PostgresUrl, project: Path, tmp_path: Path, signer: Signer) -> None:
    # SQLite's counterpart: the file replaced under the gate. Here an older copy is restored in the database's
    # place (dropped and made again from a backup) while the gate runs: its revocations since then are gone.
    older = f"older_{uuid.uuid4().hex}"
    token = signer.token()
    with running_gate(settings(project, tmp_path)) as gate:
        assert gate.browser().get(f"/access/{token}").status == 200
    backup(database, older)
    with running_gate(settings(project, tmp_path)) as gate:
        browser = gate.browser()
        assert browser.get("/healthz").status == 200
        restore(database, older)
        assert browser.get("/healthz").status == 503
        reply = browser.get(f"/access/{signer.token()}")
        assert reply.status == 503 and "Temporarily unavailable" in reply.text


def test_a_database_that_turned_read_only_fails_the_health_check(
        database: db.PostgresUrl, postgres_server: Any, key: bytes, project: Path, tmp_path: Path,
        signer: Signer) -> None:
    # SQLite's counterpart: a read-only mount. Here: a standby after a failover, or a database set read-only.
    audit.AuditLog(database, key, create=True).close()
    postgres_server.sql(f'ALTER DATABASE "{database.url.rsplit("/", 1)[1]}" SET default_transaction_read_only = on')
    with running_gate(settings(project, tmp_path)) as gate:  # it starts: nothing needs writing to start
        browser = gate.browser()
        assert browser.get("/healthz").status == 503
        reply = browser.get(f"/access/{signer.token()}")
        assert reply.status == 503 and "Temporarily unavailable" in reply.text
    reader = audit.AuditLog(database, key)
    try:
        with pytest.raises(StoreError, match="cannot be written"):
            reader.health()
    finally:
        reader.close()
