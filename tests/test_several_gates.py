"""Three gate instances on one PostgreSQL database, as behind a load balancer: each its own app, connection pool
and threads, sharing only the database, the audit key and the session secret. What one instance does holds on
the others at their next request: download limits, revocations, NDA acceptances, the failure throttle, the
audit chain (one line, verifying)."""

from __future__ import annotations

import concurrent.futures
import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from loopback import Browser, RunningGate, Signer, running_gate, settings

from generator.gate import app as gate_app
from generator.gate import db
from generator.gate.audit import Kind


@pytest.fixture
def database(postgres_server: object) -> db.PostgresUrl:
    return db.PostgresUrl(postgres_server.database())  # type: ignore[attr-defined]


@contextlib.contextmanager
def instances(project: Path, tmp_path: Path, database: db.PostgresUrl, count: int = 3,
              **overrides: object) -> Iterator[list[RunningGate]]:
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(running_gate(settings(project, tmp_path, db_path=database, **overrides)))
               for _ in range(count)]


def on(gate: RunningGate, browser: Browser) -> Browser:
    """The same browser (its cookies) sent to another instance, as a load balancer would."""
    moved = gate.browser()
    moved.cookies = browser.cookies
    return moved


def test_a_link_with_one_download_serves_exactly_one_pdf_across_three_instances(
        project: Path, tmp_path: Path, signer: Signer, database: db.PostgresUrl) -> None:
    link = signer.link(max_downloads=1)
    token = signer.token(link)
    with instances(project, tmp_path, database) as gates:
        browser = gates[0].browser()
        assert browser.accept(token).status == 303
        start = threading.Barrier(12)

        def download(index: int) -> int:
            client = on(gates[index % 3], browser)
            start.wait()
            return client.get(f"/access/{token}/download").status

        with concurrent.futures.ThreadPoolExecutor(12) as pool:
            statuses = sorted(pool.map(download, range(12)))
        assert statuses == [200] + [410] * 11
        log = gate_app.current_of(gates[1].app).log
        assert len(log.events(link_id=link.link_id, kinds=[Kind.DOWNLOADED])) == 1
        assert log.verify_chain().ok


def test_an_acceptance_on_one_instance_holds_on_the_others_and_a_revocation_on_one_is_refused_by_all(
        project: Path, tmp_path: Path, signer: Signer, database: db.PostgresUrl) -> None:
    link = signer.link()
    token = signer.token(link)
    with instances(project, tmp_path, database) as gates:
        browser = gates[0].browser()
        assert browser.accept(token).status == 303
        for gate in gates[1:]:  # the session cookie and the acceptance are valid everywhere
            assert on(gate, browser).get(f"/access/{token}/download").status == 200
        gate_app.current_of(gates[2].app).store.revoke_link(link.link_id, "left the company", actor="cli:test")
        for gate in gates:
            assert on(gate, browser).get(f"/access/{token}/download").status == 410


def test_the_failure_throttle_counts_the_attempts_made_on_every_instance(
        project: Path, tmp_path: Path, database: db.PostgresUrl) -> None:
    with instances(project, tmp_path, database, failure_limit=6) as gates:
        statuses = [gates[number % 3].browser().get(f"/access/forged{number}.x.y").status for number in range(6)]
        assert statuses == [403] * 6
        for gate in gates:  # the seventh, on any instance, is over the shared limit
            refused = gate.browser().get("/access/forged-again.x.y")
            assert refused.status == 429 and int(refused.header("Retry-After") or 0) >= 1
        log = gate_app.current_of(gates[0].app).log
        throttled = [row for row in log.events(kinds=[Kind.DENIED]) if row.status == 429]
        assert len(throttled) == 1  # the episode is audited once, not once per instance


def test_events_from_every_instance_make_one_chain_that_verifies(
        project: Path, tmp_path: Path, signer: Signer, database: db.PostgresUrl) -> None:
    tokens = [signer.token() for _ in range(60)]
    with instances(project, tmp_path, database) as gates:
        def visit(index: int) -> int:
            return gates[index % 3].browser().get(f"/access/{tokens[index]}").status

        with concurrent.futures.ThreadPoolExecutor(12) as pool:
            assert set(pool.map(visit, range(len(tokens)))) == {200}
        log = gate_app.current_of(gates[0].app).log
        opened = log.events(kinds=[Kind.OPENED])
        assert len(opened) == len(tokens)
        check = log.verify_chain()
        assert check.ok and check.events == len(log.events())
        ids = [row.id for row in log.events()]
        assert ids == list(range(1, len(ids) + 1))  # no gap, no duplicate: one line


def test_instances_started_together_apply_the_migrations_once(database: db.PostgresUrl) -> None:
    start = threading.Barrier(4)

    def open_one(_: int) -> str:
        start.wait()
        opened = db.open_database(database, create=True)
        try:
            return str(opened.meta("schema_version"))
        finally:
            opened.close()

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        assert set(pool.map(open_one, range(4))) == {str(db.SCHEMA_VERSION)}
    opened = db.open_database(database)
    try:
        assert opened.structure_problem() is None
    finally:
        opened.close()


def test_a_database_restart_is_answered_503_and_the_gate_recovers_by_itself(
        project: Path, tmp_path: Path, signer: Signer) -> None:
    import pgserver

    token = signer.token()
    with pgserver.running() as server, running_gate(settings(project, tmp_path, db_path=db.PostgresUrl(
            server.database()))) as gate:
        browser = gate.browser()
        assert browser.accept(token).status == 303
        server.stop_server()
        assert browser.get(f"/access/{token}/download").status == 503
        assert browser.get("/access/forged.x.y").status == 503  # a refusal too: never a 500
        server.start_server()
        # The gate connects again at its next request once the server is back: no restart of the gate.
        deadline = time.monotonic() + 30
        statuses = []
        while time.monotonic() < deadline:
            statuses.append(browser.get(f"/access/{token}/download").status)
            if statuses[-1] == 200:
                break
            time.sleep(0.25)
        assert statuses[-1] == 200 and set(statuses) <= {503, 200}


def test_a_refusal_whose_audit_row_meets_an_outage_is_answered_503_not_500(
        project: Path, tmp_path: Path, signer: Signer, database: db.PostgresUrl,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Found by bench/bench_cluster.py: a download refused (410) while PostgreSQL restarted answered 500, because
    # the refusal's DENIED row is written in the error handler, where the 503 handler does not apply.
    from generator.errors import StoreError
    from generator.gate import audit

    token = signer.token(max_downloads=1)
    with running_gate(settings(project, tmp_path, db_path=database)) as gate:
        browser = gate.browser()
        assert browser.accept(token).status == 303
        assert browser.get(f"/access/{token}/download").status == 200
        assert browser.get(f"/access/{token}/download").status == 410

        def outage(*args: object, **kwargs: object) -> bool:
            raise StoreError("the gate database cannot be reached (terminating connection due to administrator "
                             "command)")

        monkeypatch.setattr(audit.AuditLog, "record_unless_recent", outage)
        refused = browser.get(f"/access/{token}/download")
        assert refused.status == 503 and refused.header("Retry-After") is not None
