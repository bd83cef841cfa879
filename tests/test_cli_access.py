"""`trustcenter requests`, `grants`, `link list` and the audit's filters, run in-process on a real database, with
mail delivered to a real SMTP server on loopback."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import GATE_URL, GATED_ID, OTHER_GATED_ID
from loopback import Signer, running_gate, settings
from smtp import SmtpServer
from support import gate_database

from generator.cli import REQUEST_STATUSES, main
from generator.content.project import Project
from generator.gate import links
from generator.gate.audit import Kind
from generator.gate.grants import AccessRequest, GrantStatus, RequestStatus
from generator.gate.settings import open_store
from generator.gate.store import Store

# On SQLite and on PostgreSQL (`gate_store`, tests/conftest.py).
pytestmark = pytest.mark.usefixtures("gate_store")

REQUESTER = "rita@prospect.test"


@pytest.fixture
def store(project: Path) -> Iterator[Store]:
    """The project's gate database (made as `gate --init` makes it), with access.yaml in the content."""
    (project / "trust" / "access.yaml").write_text(
        "staff:\n  - staff@example.test\ndefault_days: 30\nmax_days: 90\nnotify_staff: false\n", encoding="utf-8")
    made = open_store(Project.at(project), None, create=True)
    yield made
    made.close()


@pytest.fixture
def mail(smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> SmtpServer:
    monkeypatch.setenv("TRUSTCENTER_SMTP_URL", smtp_server.url)
    monkeypatch.setenv("TRUSTCENTER_MAIL_FROM", "trust@example.test")
    return smtp_server


def run(project: Path, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--project", str(project)])


@pytest.fixture(autouse=True)
def shell_user(monkeypatch: pytest.MonkeyPatch) -> str:
    """Who runs the commands, as the audit records them: `cli:casey` (with --as X: `cli:casey as X`)."""
    monkeypatch.setenv("LOGNAME", "casey")
    return "casey"


def pending(store: Store, *, email: str = REQUESTER, name: str = "Rita Prospect", company: str = "Prospect Ltd",
            documents: tuple[str, ...] = (GATED_ID,)) -> AccessRequest:
    with store.db.write() as tx:
        request, _ = store.access.create_request(tx, email=email, name=name, company=company, documents=documents,
                                                 reason=None, nda_on_file=False, ip="192.0.2.1")
        store.access.confirm(tx, request)
    found = store.access.find_request(request.id)
    assert found is not None
    return found


def fails_clearly(result: Result, message: str) -> None:
    assert result.exit_code == 1, result.output
    assert message in result.output and "Traceback" not in result.output


# ---------------------------------------------------------------- requests


def test_requests_list_prints_json_with_the_contracts_fields(project: Path, store: Store) -> None:
    first = pending(store)
    with store.db.write() as tx:
        store.access.create_request(tx, email="una@prospect.test", name="Una", company="Prospect Ltd",
                                    documents=(OTHER_GATED_ID,), reason=None, nda_on_file=False, ip=None)
    result = run(project, "requests", "list", "--json")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert {"id", "email", "company", "documents", "status", "created"} <= set(listed[0])
    assert {item["id"]: item["status"] for item in listed}[first.id] == "pending"
    assert [item["documents"] for item in listed if item["id"] == first.id] == [[GATED_ID]]
    only = json.loads(run(project, "requests", "list", "--status", "pending", "--json").stdout)
    assert [item["id"] for item in only] == [first.id]


def test_requests_list_is_a_table_with_visitors_text_made_harmless(project: Path, store: Store) -> None:
    request = pending(store, name="Eve\x1b[2J\x1b]8;;https://evil.example\x07", company="Evil\nCorp")
    result = run(project, "requests", "list")
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    header, row = result.stdout.splitlines()
    assert header.split()[:4] == ["id", "created", "status", "email"]
    assert row.startswith(request.id) and "Evil Corp" in row


def test_the_status_choices_are_the_request_statuses() -> None:
    assert REQUEST_STATUSES == tuple(status.value for status in RequestStatus)


def test_requests_approve_makes_a_grant_and_mails_its_link(project: Path, store: Store, mail: SmtpServer) -> None:
    request = pending(store)
    result = run(project, "requests", "approve", request.id, "--days", "10", "--documents",
                 f"{GATED_ID},{OTHER_GATED_ID}", "--nda-on-file", "--as", "alice@example.test")
    assert result.exit_code == 0, result.output
    assert f"approved request {request.id}" in result.stdout
    decided = store.access.find_request(request.id)
    assert decided is not None and decided.status is RequestStatus.APPROVED
    grant = store.access.grant(str(decided.grant_id))
    assert grant is not None and grant.documents == (GATED_ID, OTHER_GATED_ID) and grant.nda_on_file
    assert grant.approved_by == "cli:casey as alice@example.test"
    [approved] = store.log.events(request_id=request.id, kinds=[Kind.APPROVED])
    assert approved.actor == "cli:casey as alice@example.test"
    [message] = mail.wait_for(1)  # delivered by the command itself, not left for a gate
    assert message.rcpt_tos == [REQUESTER]
    [url] = [url for url in SmtpServer.links(message) if "/grant/" in url]
    assert url.startswith(f"{GATE_URL}/grant/")
    assert store.access.grant_by_token(url.rsplit("/", 1)[1]) == grant


def test_an_action_is_recorded_as_the_os_user_by_default(project: Path, store: Store, mail: SmtpServer,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    request = pending(store)
    assert run(project, "requests", "approve", request.id).exit_code == 0
    [approved] = store.log.events(request_id=request.id, kinds=[Kind.APPROVED])
    assert approved.actor == "cli:casey"
    grant = store.access.grant(str(store.access.find_request(request.id).grant_id))  # type: ignore[union-attr]
    # Defaults: the documents asked for, default_days, and an NDA at the gate (the requester's claim is not enough).
    assert grant is not None and grant.documents == (GATED_ID,) and not grant.nda_on_file
    assert 29 <= (grant.expires_at - grant.expires_at.now(grant.expires_at.tzinfo)).days <= 30


@pytest.mark.parametrize(("args", "message"), [
    (("--days", "91"), "a grant lasts 1 to 90 days (max_days in access.yaml), not 91"),
    (("--days", "0"), "a grant lasts 1 to 90 days"),
    (("--documents", "overview"), "not a gated document: overview"),
    (("--documents", ","), "choose at least one document"),
    (("--as", "   "), "--as must name who acts"),
])
def test_requests_approve_refuses_what_cannot_be_given(project: Path, store: Store, mail: SmtpServer,
                                                      args: tuple[str, ...], message: str) -> None:
    request = pending(store)
    fails_clearly(run(project, "requests", "approve", request.id, *args), message)
    assert store.access.find_request(request.id).status is RequestStatus.PENDING  # type: ignore[union-attr]
    assert store.access.grants() == [] and store.outbox.items() == []


def test_requests_approve_and_deny_refuse_an_unknown_or_decided_request(project: Path, store: Store,
                                                                        mail: SmtpServer) -> None:
    fails_clearly(run(project, "requests", "approve", "r-000000000000"), "there is no request r-000000000000")
    fails_clearly(run(project, "requests", "deny", "r-000000000000", "--reason", "x"), "there is no request")
    request = pending(store)
    assert run(project, "requests", "approve", request.id).exit_code == 0
    fails_clearly(run(project, "requests", "approve", request.id), f"request {request.id} is approved, not pending")
    fails_clearly(run(project, "requests", "deny", request.id, "--reason", "late"), "is approved, not pending")


def test_requests_approve_without_mail_configured_changes_nothing(project: Path, store: Store,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRUSTCENTER_SMTP_URL", raising=False)
    request = pending(store)
    fails_clearly(run(project, "requests", "approve", request.id), "e-mail is not configured (TRUSTCENTER_SMTP_URL)")
    assert store.access.find_request(request.id).status is RequestStatus.PENDING  # type: ignore[union-attr]
    assert store.access.grants() == []


def test_a_decision_stands_when_the_mail_server_is_down_and_its_mail_waits(project: Path, store: Store,
                                                                          mail: SmtpServer) -> None:
    request = pending(store)
    mail.down()
    result = run(project, "requests", "approve", request.id)
    assert result.exit_code == 0, result.output
    assert "note: 1 e-mail(s) and 1 webhook event(s) wait in the outbox" in result.stderr
    assert store.access.find_request(request.id).status is RequestStatus.APPROVED  # type: ignore[union-attr]
    mail_row, event_row = sorted(store.outbox.items(pending_only=True), key=lambda item: item.kind != "mail")
    assert (mail_row.target, mail_row.attempts) == (REQUESTER, 1)
    # No TRUSTCENTER_WEBHOOKS in this shell: the event waits for the gate to fan it out to its endpoints.
    assert (event_row.target, event_row.subject, event_row.attempts) == ("*", "access_request.approved", 0)


def test_requests_deny_tells_the_requester_and_records_the_reason(project: Path, store: Store,
                                                                  mail: SmtpServer) -> None:
    request = pending(store)
    result = run(project, "requests", "deny", request.id, "--reason", "Not a  customer\tyet", "--as", "bo@example.test")
    assert result.exit_code == 0, result.output
    denied = store.access.find_request(request.id)
    assert denied is not None and denied.status is RequestStatus.DENIED
    assert denied.decision_reason == "Not a customer yet" and denied.decided_by == "cli:casey as bo@example.test"
    [rejected] = store.log.events(request_id=request.id, kinds=[Kind.REJECTED])
    assert rejected.actor == "cli:casey as bo@example.test"
    [message] = mail.wait_for(1)
    assert message.rcpt_tos == [REQUESTER] and "Your request to Example Co" in str(message.message["Subject"])


def test_requests_deny_needs_a_reason(project: Path, store: Store, mail: SmtpServer) -> None:
    request = pending(store)
    result = run(project, "requests", "deny", request.id)
    assert result.exit_code == 2 and "--reason" in result.output
    fails_clearly(run(project, "requests", "deny", request.id, "--reason", "  "), "--reason must say why")
    assert store.access.find_request(request.id).status is RequestStatus.PENDING  # type: ignore[union-attr]


# ---------------------------------------------------------------- grants


def test_grants_list_and_revoke(project: Path, store: Store, mail: SmtpServer) -> None:
    request = pending(store)
    assert run(project, "requests", "approve", request.id).exit_code == 0
    listed = json.loads(run(project, "grants", "list", "--json").stdout)
    assert len(listed) == 1 and {"id", "email", "documents", "expires", "status"} <= set(listed[0])
    grant_id = listed[0]["id"]
    assert listed[0]["status"] == "active" and listed[0]["email"] == REQUESTER
    table = run(project, "grants", "list").stdout.splitlines()
    assert table[0].split()[:3] == ["id", "status", "email"] and table[1].startswith(grant_id)
    result = run(project, "grants", "revoke", grant_id, "--reason", "left the company", "--as", "lee@example.test")
    assert result.exit_code == 0 and "answers 410" in result.stdout
    grant = store.access.grant(grant_id)
    assert grant is not None and grant.status is GrantStatus.REVOKED and grant.revoked == "left the company"
    [revoked] = store.log.events(grant_id=grant_id, kinds=[Kind.REVOKED])
    assert revoked.actor == "cli:casey as lee@example.test"
    again = run(project, "grants", "revoke", grant_id)
    assert again.exit_code == 0 and "already revoked" in again.stdout
    assert json.loads(run(project, "grants", "list", "--json").stdout)[0]["status"] == "revoked"


def test_grants_revoke_refuses_an_unknown_grant(project: Path, store: Store) -> None:
    fails_clearly(run(project, "grants", "revoke", "g-000000000000"), "there is no grant g-000000000000")


@pytest.mark.sqlite_only  # a file that is not there; on PostgreSQL, an empty database (gate/test_postgres_store.py)
def test_a_missing_database_is_named_and_not_created(project: Path, tmp_path: Path) -> None:
    wrong = tmp_path / "typo" / "gate.sqlite3"
    for command in (("requests", "list"), ("grants", "list"), ("link", "list")):
        fails_clearly(run(project, *command, "--db", str(wrong)), f"there is no gate database at {wrong}")
    assert not wrong.parent.exists()


# ---------------------------------------------------------------- sales links


def test_link_create_records_the_link_where_the_gates_database_is(project: Path, store: Store, signer: Signer,
                                                                  tmp_path: Path, gate_store: str,
                                                                  request: pytest.FixtureRequest) -> None:
    key = tmp_path / "secrets" / "test-key.pem"
    result = run(project, "link", "create", GATED_ID, "--to", "bob@customer.test", "--company", "Customer Inc",
                 "--max-downloads", "3", "--nda-on-file", "--private-key", str(key), "--json")
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    assert created["recorded_in"] == str(store.db.path)
    [minted] = store.log.events(created["link_id"], kinds=[Kind.MINTED])
    assert (minted.recipient, minted.document, minted.company) == ("bob@customer.test", GATED_ID, "Customer Inc")
    assert minted.detail == f"expires={created['expires']} max_downloads=3 nda_on_file=yes"
    assert minted.actor and minted.actor.startswith("cli:")
    listed = json.loads(run(project, "link", "list", "--json").stdout)
    assert listed == [{**listed[0], "link_id": created["link_id"], "recipient": "bob@customer.test",
                       "document": GATED_ID, "expires": created["expires"], "status": "active", "opened": 0,
                       "accepted": 0, "downloads": 0, "max_downloads": 3}]


def test_link_list_counts_what_became_of_each_link(project: Path, store: Store, signer: Signer, tmp_path: Path,
                                                   gate_store: str, request: pytest.FixtureRequest) -> None:
    key = tmp_path / "secrets" / "test-key.pem"
    made = [links.create(Project.at(project), links.LinkRequest(GATED_ID, f"p{n}@customer.test", max_downloads=1),
                         private_key_path=key, record=links.Record()) for n in range(2)]
    opened, revoked = made
    from generator.gate.audit import Event

    store.log.record(Event(Kind.OPENED, link_id=opened.link.link_id))
    store.log.record(Event(Kind.ACCEPTED, link_id=opened.link.link_id))
    store.log.record(Event(Kind.DOWNLOADED, link_id=opened.link.link_id))
    assert run(project, "link", "revoke", revoked.link.link_id, "--reason", "wrong person").exit_code == 0
    listed = {item["link_id"]: item for item in json.loads(run(project, "link", "list", "--json").stdout)}
    assert listed[opened.link.link_id] | {"opened": 1, "accepted": 1, "downloads": 1, "status": "used_up"} == \
        listed[opened.link.link_id]
    assert listed[revoked.link.link_id]["status"] == "revoked"
    assert listed[revoked.link.link_id]["revoked"] == "wrong person"
    table = run(project, "link", "list").stdout
    assert re.search(rf"^{opened.link.link_id}\s+used_up\s+p0@customer\.test", table, re.MULTILINE)


@pytest.mark.sqlite_only  # no file in the state folder; TRUSTCENTER_DB names a database, there or not
def test_link_create_without_a_database_says_where_link_list_would_show_it(project: Path, signer: Signer,
                                                                           tmp_path: Path, state_dir: Path) -> None:
    key = tmp_path / "secrets" / "test-key.pem"
    result = run(project, "link", "create", GATED_ID, "--to", "bob@customer.test", "--private-key", str(key))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{GATE_URL}/access/")
    assert f"the link is not recorded: there is no gate database at {state_dir / 'gate.sqlite3'}" in result.stderr
    assert "link list" in result.stderr
    assert not (state_dir / "gate.sqlite3").exists()
    elsewhere = tmp_path / "elsewhere.sqlite3"
    result = run(project, "link", "create", GATED_ID, "--to", "bob@customer.test", "--private-key", str(key),
                 "--db", str(elsewhere), "--json")
    assert json.loads(result.stdout)["recorded_in"] is None and not elsewhere.exists()


def test_the_demo_records_its_link_in_the_database_it_creates(project: Path, signer: Signer, tmp_path: Path,
                                                              state_dir: Path, gate_store: str,
                                                              request: pytest.FixtureRequest) -> None:
    created = links.create(Project.at(project), links.LinkRequest(GATED_ID, "demo@prospect.test"),
                           private_key_path=tmp_path / "secrets" / "test-key.pem",
                           record=links.Record(create=True, actor="demo"))
    # The database the demo's gate starts on next: the default one.
    assert created.recorded_in == (state_dir / "gate.sqlite3" if gate_store == "sqlite" else gate_database(tmp_path))
    listed = json.loads(run(project, "link", "list", "--json").stdout)
    assert [(item["link_id"], item["minted_by"]) for item in listed] == [(created.link.link_id, "demo")]


def table_rows(text: str) -> list[dict[str, str]]:
    """A table as `audit.table` prints it, read by the columns of its header line (cells may be empty)."""
    header, *lines = text.splitlines()
    starts = [match.start() for match in re.finditer(r"\S+", header)]
    names = header.split()
    return [{name: line[start:end].strip() for name, start, end in zip(names, starts, [*starts[1:], None],
                                                                        strict=True)} for line in lines]


def test_link_list_shows_links_minted_elsewhere_once_the_gate_has_seen_them(project: Path, store: Store,
                                                                            signer: Signer, tmp_path: Path) -> None:
    key = tmp_path / "secrets" / "test-key.pem"
    laptop = links.Record(tmp_path / "laptop" / "gate.sqlite3")  # a sales laptop: no gate database there
    now = dt.datetime.now(dt.UTC)
    opened, unseen = (links.create(Project.at(project), links.LinkRequest(GATED_ID, f"{who}@customer.test"),
                                   private_key_path=key, record=laptop) for who in ("bob", "carol"))
    stale = links.create(Project.at(project), links.LinkRequest(GATED_ID, "dan@customer.test", expires="1d"),
                         private_key_path=key, record=laptop, now=now - dt.timedelta(days=2))
    assert opened.recorded_in is unseen.recorded_in is stale.recorded_in is None
    assert json.loads(run(project, "link", "list", "--json").stdout) == []

    with running_gate(settings(project, tmp_path, db_path=store.db.path)) as gate:  # the gate, on this database
        browser = gate.browser()
        assert browser.accept(opened.token).status == 303
        assert browser.get(f"/access/{stale.token}").status == 410

    result = run(project, "link", "list", "--json")
    assert result.exit_code == 0, result.output
    listed = {item["link_id"]: item for item in json.loads(result.stdout)}
    assert set(listed) == {opened.link.link_id, stale.link.link_id}  # never seen: the gate cannot know of it
    seen = listed[opened.link.link_id]
    assert seen | {"minted_elsewhere": True, "status": "unknown", "expires": None, "max_downloads": None,
                   "recipient": "bob@customer.test", "document": GATED_ID, "opened": 1, "accepted": 1,
                   "downloads": 0, "minted": None, "minted_by": None, "revoked": None} == seen
    first_seen = dt.datetime.fromisoformat(seen["first_seen"])  # when the gate first saw it: just now
    assert now - dt.timedelta(seconds=5) <= first_seen <= dt.datetime.now(dt.UTC)
    assert listed[stale.link.link_id] | {"minted_elsewhere": True, "status": "expired", "expires": None,
                                         "opened": 0} == listed[stale.link.link_id]

    rows = {row["link_id"]: row for row in table_rows(run(project, "link", "list").stdout)}
    assert {key: rows[opened.link.link_id][key] for key in ("status", "recipient", "expires", "opened", "accepted",
                                                            "minted_by")} == {
        "status": "unknown", "recipient": "bob@customer.test", "expires": "unknown", "opened": "1", "accepted": "1",
        "minted_by": "elsewhere"}
    assert (rows[stale.link.link_id]["status"], rows[stale.link.link_id]["expires"]) == ("expired", "unknown")

    # Revoked from the CLI: from then on the list says so, and the gate refuses it.
    assert run(project, "link", "revoke", opened.link.link_id, "--reason", "wrong Bob").exit_code == 0
    after = {item["link_id"]: item for item in json.loads(run(project, "link", "list", "--json").stdout)}
    assert (after[opened.link.link_id]["status"], after[opened.link.link_id]["revoked"]) == ("revoked", "wrong Bob")
    with running_gate(settings(project, tmp_path, db_path=store.db.path)) as gate:
        assert gate.browser().get(f"/access/{opened.token}").status == 410


# ---------------------------------------------------------------- the audit's filters


def test_audit_filters_by_request_grant_and_staff_member(project: Path, store: Store, mail: SmtpServer) -> None:
    approved, denied = pending(store), pending(store, email="una@prospect.test")
    assert run(project, "requests", "approve", approved.id, "--as", "alice@example.test").exit_code == 0
    assert run(project, "requests", "deny", denied.id, "--reason", "no", "--as", "bo@example.test").exit_code == 0
    grant_id = str(store.access.find_request(approved.id).grant_id)  # type: ignore[union-attr]

    def kinds(*args: str) -> list[tuple[str, str | None]]:
        result = run(project, "audit", "--format", "json", *args)
        assert result.exit_code == 0, result.output
        return [(row["kind"], row["actor"]) for row in json.loads(result.stdout)]

    assert kinds("--request", approved.id) == [("approved", "cli:casey as alice@example.test")]
    assert kinds("--grant", grant_id) == [("approved", "cli:casey as alice@example.test")]
    assert kinds("--staff", "bo@example.test") == [("rejected", "cli:casey as bo@example.test")]
    assert kinds("--staff", "%") == kinds("--staff", "b_@example.test") == []  # an address, not a pattern
    assert kinds("--staff", "nobody@example.test") == []
