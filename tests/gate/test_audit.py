"""The audit log: append-only, chained with a key kept outside it, counted atomically, kept across restarts,
checked against checkpoints kept elsewhere, readable by `audit`."""

from __future__ import annotations

import csv
import io
import itertools
import json
import shutil
import sqlite3
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from stores import db_argument, past_the_triggers, tamper
from support import gate_database

from generator.cli import main
from generator.content.project import Project
from generator.errors import StoreError
from generator.gate import audit, db, settings

# On SQLite and on PostgreSQL (`gate_store`, tests/conftest.py). The tests marked sqlite_only are about SQLite's
# file (its mode, journal, identity, schema text, triggers); tests/gate/test_postgres_store.py has PostgreSQL's.
pytestmark = pytest.mark.usefixtures("gate_store")


def audit_key(tmp_path: Path) -> bytes:
    """The key the CLI finds too: audit.key in the test's state folder."""
    return settings.audit_key(Project.at(tmp_path), create=True)


@pytest.fixture
def log(tmp_path: Path) -> audit.AuditLog:
    return audit.AuditLog(gate_database(tmp_path), audit_key(tmp_path), create=True)


def opened(link_id: str = "link-0001", **fields: str) -> audit.Event:
    values = {"recipient": "alice@customer.test", "document": "soc2-report", "ip": "127.0.0.1", **fields}
    return audit.Event(audit.Kind.OPENED, 200, link_id=link_id, **values)


@pytest.mark.sqlite_only
def test_the_database_uses_wal(log: audit.AuditLog) -> None:
    assert sqlite3.connect(log.path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_each_event_is_chained_to_the_one_before(log: audit.AuditLog) -> None:
    for index in range(5):
        log.record(opened(f"link-000{index}"))
    rows = log.events()
    assert [row.id for row in rows] == [1, 2, 3, 4, 5]
    assert rows[0].prev_hash == audit.GENESIS
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(rows))
    check = log.verify_chain()
    assert check.ok and check.events == 5 and check.head == rows[-1].hash


@pytest.mark.sqlite_only
def test_rows_cannot_be_updated_or_deleted_through_sqlite(log: audit.AuditLog) -> None:
    log.record(opened())
    database = sqlite3.connect(log.path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        database.execute("UPDATE events SET recipient = 'mallory@evil.test'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        database.execute("DELETE FROM events")


def test_a_changed_row_breaks_the_chain_and_is_named(log: audit.AuditLog) -> None:
    for index in range(3):
        log.record(opened(f"link-000{index}"))
    tamper(log.path, "UPDATE events SET name = 'Somebody Else' WHERE id = 2")  # someone with write access
    check = log.verify_chain()
    assert not check.ok
    assert check.problem == "event 2 was changed after it was written"


def test_a_deleted_row_breaks_the_chain(log: audit.AuditLog) -> None:
    for index in range(3):
        log.record(opened(f"link-000{index}"))
    tamper(log.path, "DELETE FROM events WHERE id = 2")
    assert log.verify_chain().problem == "event 2 is missing (next is 3)"


def test_downloads_never_exceed_the_limit_under_concurrent_requests(log: audit.AuditLog) -> None:
    granted: list[bool] = []
    lock = threading.Lock()

    def download() -> None:
        result = log.record_download(audit.Event(audit.Kind.DOWNLOADED, 200, link_id="link-0001"), limit=3).counted
        with lock:
            granted.append(result)

    threads = [threading.Thread(target=download) for _ in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert granted.count(True) == 3
    assert log.downloads("link-0001") == 3
    assert log.verify_chain().ok


def test_no_event_is_lost_when_many_threads_write_at_once(log: audit.AuditLog) -> None:
    def write(worker: int) -> None:
        for index in range(25):
            log.record(opened(f"link-{worker:02d}{index:02d}"))

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(log.events()) == 200
    assert log.verify_chain().ok


def test_revocations_and_download_counts_survive_reopening(tmp_path: Path) -> None:
    path = gate_database(tmp_path)
    first = audit.AuditLog(path, audit_key(tmp_path), create=True)
    assert first.revoke("link-0001", "sent to the wrong person")
    first.record_download(audit.Event(audit.Kind.DOWNLOADED, 200, link_id="link-0002"), limit=1)
    first.close()
    second = audit.AuditLog(path, audit_key(tmp_path))
    assert second.revocation("link-0001") == "sent to the wrong person"
    assert second.downloads("link-0002") == 1
    assert not second.revoke("link-0001", "again")
    assert second.events()[0].kind == "revoked"


def run_audit(tmp_path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["audit", "--db", db_argument(gate_database(tmp_path)), *args])
    return result.exit_code, result.output


def test_audit_prints_a_table_filtered_by_link(log: audit.AuditLog, tmp_path: Path) -> None:
    log.record(opened("link-0001"))
    log.record(audit.Event(audit.Kind.ACCEPTED, 303, link_id="link-0001", name="Alice Example", company="Customer"))
    log.record(opened("link-0002"))
    code, output = run_audit(tmp_path, "--link", "link-0001")
    assert code == 0, output
    lines = output.splitlines()
    assert lines[0].split()[:5] == ["id", "at", "kind", "status", "link_id"]
    assert len(lines) == 3 and "Alice Example" in lines[2] and "link-0002" not in output


def test_audit_as_json_and_csv_carries_every_field_and_hash(log: audit.AuditLog, tmp_path: Path) -> None:
    log.record(opened(user_agent="=HYPERLINK(\"http://evil.test\")"))
    _, output = run_audit(tmp_path, "--format", "json")
    (row,) = json.loads(output)
    assert row["recipient"] == "alice@customer.test" and len(row["hash"]) == 64
    _, output = run_audit(tmp_path, "--format", "csv")
    (record,) = csv.DictReader(io.StringIO(output))
    assert record["hash"] == row["hash"]
    assert record["user_agent"].startswith("'=")  # not a formula when opened in a spreadsheet


def test_audit_verify_reports_an_intact_chain_and_a_broken_one(log: audit.AuditLog, tmp_path: Path) -> None:
    log.record(opened())
    log.record(opened())
    code, output = run_audit(tmp_path, "--verify")
    assert code == 0 and "audit log intact: 2 events" in output
    tamper(log.path, "UPDATE events SET ip = '10.0.0.1' WHERE id = 1")
    code, output = run_audit(tmp_path, "--verify")
    assert code == 1 and "tampered with: event 1 was changed" in output


@pytest.mark.sqlite_only  # a file that is not there; on PostgreSQL, an empty database (test_postgres_store.py)
def test_audit_without_a_database_says_where_it_looked_and_creates_none(tmp_path: Path) -> None:
    code, output = run_audit(tmp_path)
    assert code == 1 and f"there is no gate database at {tmp_path / 'state' / 'gate.sqlite3'}" in output
    assert not (tmp_path / "state" / "gate.sqlite3").exists()


def test_the_table_never_prints_terminal_control_characters(log: audit.AuditLog, tmp_path: Path) -> None:
    log.record(opened(user_agent="curl\x1b[2J\x1b]0;owned\x07"))
    _, output = run_audit(tmp_path)
    assert "\x1b" not in output and "\x07" not in output


def test_a_download_of_a_link_revoked_after_it_was_verified_is_refused(tmp_path: Path) -> None:
    path = gate_database(tmp_path)
    gate_side = audit.AuditLog(path, audit_key(tmp_path), create=True)
    revoke_side = audit.AuditLog(path, audit_key(tmp_path))
    assert gate_side.revocation("link-0003") is None  # the gate has verified the link: not revoked
    revoke_side.revoke("link-0003", "contract ended")  # `trustcenter link revoke`, meanwhile
    outcome = gate_side.record_download(audit.Event(audit.Kind.DOWNLOADED, 200, link_id="link-0003"), limit=5)
    assert outcome == audit.DownloadOutcome(counted=False, revoked_reason="contract ended")
    assert gate_side.downloads("link-0003") == 0


# ---------------------------------------------------------------- tampering by someone who can write the database


def rechain_without_the_key(where: db.Location) -> None:
    """Recompute every row's hash the way an unkeyed chain would be: sha256(previous + row)."""
    import hashlib

    fields = ("at", "kind", "status", "link_id", "recipient", "document", "name", "company", "nda_sha256",
              "browser", "ip", "user_agent", "detail")
    previous = audit.GENESIS
    with past_the_triggers(where) as database:
        rows = database.all(f"SELECT id, {', '.join(fields)} FROM events ORDER BY id")  # noqa: S608
        for number, row in enumerate(rows, start=1):
            values = dict(zip(fields, row[1:], strict=True))
            canonical = json.dumps({"id": number, **values}, sort_keys=True, separators=(",", ":"),
                                   ensure_ascii=False)
            digest = hashlib.sha256((previous + canonical).encode()).hexdigest()
            database.execute("UPDATE events SET id = ?, prev_hash = ?, hash = ? WHERE id = ?",
                             (number, previous, digest, row[0]))
            previous = digest


def test_a_row_edited_and_rechained_without_the_key_does_not_verify(log: audit.AuditLog) -> None:
    for index in range(3):
        log.record(opened(f"link-000{index}"))
    tamper(log.path, "UPDATE events SET recipient = 'mallory@evil.test' WHERE id = 2")
    rechain_without_the_key(log.path)
    check = log.verify_chain()
    assert not check.ok and check.problem == "event 1 was changed after it was written"


def test_a_deleted_revocation_does_not_verify_and_the_link_stays_revoked_until_then(log: audit.AuditLog) -> None:
    log.record(opened("link-0001"))
    log.revoke("link-0001", "contract ended")
    log.record(opened("link-0002"))
    assert log.revocation("link-0001") == "contract ended"
    tamper(log.path, "DELETE FROM events WHERE kind = 'revoked'")
    rechain_without_the_key(log.path)
    assert not log.verify_chain().ok


def test_a_checkpoint_kept_elsewhere_catches_events_cut_off_the_end(log: audit.AuditLog, tmp_path: Path) -> None:
    for index in range(5):
        log.record(opened(f"link-000{index}"))
    kept = tmp_path / "offsite" / "checkpoints.jsonl"
    kept.parent.mkdir()
    code, output = run_audit(tmp_path, "--checkpoint", str(kept))
    assert code == 0 and "5 events" in output, output
    tamper(log.path, "DELETE FROM events WHERE id > 3")
    assert log.verify_chain().ok  # a shorter chain is still a chain: the checkpoint is what notices
    code, output = run_audit(tmp_path, "--verify", "--checkpoint", str(kept))
    assert code == 1 and "saw 5 events; only 3 are left: events were cut off the end" in output


def test_a_forged_checkpoint_is_refused(log: audit.AuditLog, tmp_path: Path) -> None:
    log.record(opened())
    forged = audit.Checkpoint.make(b"not-the-key-" + bytes(20), 1, log.events()[0].hash)
    check = log.verify_chain([forged])
    assert not check.ok and "was not written with this database's key" in (check.problem or "")


def test_a_database_opened_with_another_key_is_refused_by_name(log: audit.AuditLog) -> None:
    log.record(opened())
    with pytest.raises(StoreError, match="the audit key does not match"):
        audit.AuditLog(log.path, b"some-other-key-" + bytes(20))


@pytest.mark.sqlite_only
def test_a_missing_database_is_an_error_unless_creation_is_asked_for(tmp_path: Path) -> None:
    path = tmp_path / "state" / "gate.sqlite3"
    with pytest.raises(StoreError, match="there is no gate database at"):
        audit.AuditLog(path, audit_key(tmp_path))
    assert not path.exists()


@pytest.mark.sqlite_only
def test_the_database_and_its_wal_are_readable_by_the_owner_only(log: audit.AuditLog) -> None:
    log.record(opened())
    for suffix in ("", "-wal", "-shm"):
        file = log.path.with_name(log.path.name + suffix)
        assert file.exists() and file.stat().st_mode & 0o077 == 0, file


@pytest.mark.sqlite_only
def test_a_database_replaced_while_in_use_is_noticed(log: audit.AuditLog, tmp_path: Path) -> None:
    log.record(opened())
    other = tmp_path / "other.sqlite3"
    audit.AuditLog(other, audit_key(tmp_path), create=True).close()
    other.replace(log.path)
    with pytest.raises(StoreError, match="was replaced while the gate ran"):
        log.record(opened())
    log.path.unlink()
    with pytest.raises(StoreError, match="was deleted while the gate ran"):
        log.health()


@pytest.mark.sqlite_only
def test_health_fails_when_the_database_cannot_take_a_write(log: audit.AuditLog, tmp_path: Path) -> None:
    log.health()
    log.close()
    reader = audit.AuditLog(log.path, audit_key(tmp_path))
    reader.close()
    read_only = sqlite3.connect(f"file:{log.path}?mode=ro", uri=True, isolation_level=None)
    reader.db._local.connection = read_only  # this thread's connection, opened read-only as on a read-only mount
    with pytest.raises(StoreError, match="cannot be written"):
        reader.health()


def test_a_thousand_opens_from_one_address_write_one_row(log: audit.AuditLog) -> None:
    recorded = [log.record_open(opened("link-0001")) for _ in range(1000)]
    assert recorded.count(True) == 1
    assert len(log.events("link-0001")) == 1
    assert log.record_open(opened("link-0001", ip="192.0.2.7"))  # another address is another row


@pytest.mark.sqlite_only
def test_a_database_of_trustcenter_0_1_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    database = sqlite3.connect(path)
    database.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, at TEXT, kind TEXT, prev_hash TEXT, hash TEXT)")
    database.execute("CREATE TABLE revocations (link_id TEXT PRIMARY KEY, reason TEXT, revoked_at TEXT)")
    database.commit()
    with pytest.raises(StoreError, match=r"written by trustcenter 0\.1"):
        audit.AuditLog(path, audit_key(tmp_path))


@pytest.mark.sqlite_only
def test_a_trigger_that_drops_revocations_and_downloads_is_refused(log: audit.AuditLog, tmp_path: Path) -> None:
    log.record(opened())
    database = sqlite3.connect(log.path)
    database.execute("CREATE TRIGGER events_sanity BEFORE INSERT ON events WHEN NEW.kind IN ('revoked', 'downloaded') "
                     "BEGIN SELECT RAISE(IGNORE); END")
    database.commit()
    database.close()
    with pytest.raises(StoreError, match="did not record an event"):  # the running gate, at the next download
        log.record_download(audit.Event(audit.Kind.DOWNLOADED, 200, link_id="link-0001"), limit=5)
    assert "events_sanity" in (log.verify_chain().problem or "")
    with pytest.raises(StoreError, match="cannot be trusted: its tables, indexes or triggers were changed"):
        audit.AuditLog(log.path, audit_key(tmp_path))  # a restart


@pytest.mark.sqlite_only
def test_an_index_that_hides_a_links_rows_is_found(log: audit.AuditLog, tmp_path: Path) -> None:
    log.revoke("link-0001", "contract ended")
    log.close()
    database = sqlite3.connect(log.path)
    original = database.execute("SELECT sql FROM sqlite_master WHERE name = 'events_by_link'").fetchone()[0]
    database.execute("DROP INDEX events_by_link")
    database.execute("CREATE INDEX events_by_link ON events (link_id, kind) WHERE link_id != 'link-0001'")
    database.execute("PRAGMA writable_schema = ON")  # the original definition put back over the partial one
    database.execute("UPDATE sqlite_master SET sql = ? WHERE name = 'events_by_link'", (original,))
    database.commit()
    database.close()
    with pytest.raises(StoreError, match="SQLite reports damage"):
        audit.AuditLog(log.path, audit_key(tmp_path))


@pytest.mark.sqlite_only
def test_a_database_written_by_schema_2_is_migrated_and_its_chain_still_verifies(tmp_path: Path) -> None:
    # tests/gate/data/gate-v2.sqlite3 was written by the gate of schema 2 (commit fb82c52), with key bytes 0..31.
    path = tmp_path / "gate.sqlite3"
    shutil.copyfile(Path(__file__).parent / "data" / "gate-v2.sqlite3", path)
    key = bytes(range(32))
    log = audit.AuditLog(path, key)
    assert log.db.meta("schema_version") == str(db.SCHEMA_VERSION)
    assert log.structure_problem() is None  # the same tables as a database made new
    check = log.verify_chain()
    assert (check.ok, check.events) == (True, 4)
    assert log.revocation("link-v2-0002") == "deal lost" and log.downloads("link-v2-0001") == 1
    log.record(audit.Event(audit.Kind.REVOKED, grant_id="g-0001", actor="staff@halyard.example", detail="ended"))
    assert log.verify_chain().ok and log.verify_chain().events == 5
    assert [row.kind for row in log.events(grant_id="g-0001")] == ["revoked"]
    log.close()
    reopened = audit.AuditLog(path, key)  # a second start does not migrate again
    assert reopened.verify_chain().events == 5
    reopened.close()


def test_a_database_from_a_newer_gate_is_refused(tmp_path: Path) -> None:
    log = audit.AuditLog(gate_database(tmp_path), audit_key(tmp_path), create=True)
    path = log.path
    with log.db.write() as tx:
        tx.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    log.close()
    with pytest.raises(StoreError, match="written by a newer trustcenter"):
        audit.AuditLog(path, audit_key(tmp_path))
