"""Webhooks from the outbox to a real HTTP receiver on loopback: the endpoints file, Standard Webhooks signatures
checked with the reference implementation, retries with one webhook-id, 410, redirects, the Slack format, the
gate's own worker and the webhooks line of `gate --check`."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import http.server
import json
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from loopback import Signer, running_gate
from loopback import settings as gate_settings
from standardwebhooks.webhooks import Webhook
from support import gate_database

from generator.cli import main
from generator.content.project import Project
from generator.errors import GateConfigError
from generator.gate import app as gate_app
from generator.gate import delivery, webhooks
from generator.gate.delivery import WebhookTransport, Worker, worker_for
from generator.gate.outbox import Kind
from generator.gate.settings import open_store
from generator.gate.store import Store

# On SQLite and on PostgreSQL (`gate_store`, tests/conftest.py).
pytestmark = pytest.mark.usefixtures("gate_store")

EVENT = "access_request.received"
DATA = {"request_id": "req_123", "email": "alice@customer.test", "name": "Alice Example", "company": "Customer Inc",
        "documents": ["soc2-report"]}


def new_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


@dataclasses.dataclass(frozen=True)
class Delivery:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes


class Receiver:
    """An HTTP server on loopback that records every request and answers from a script (then 200)."""

    def __init__(self) -> None:
        self.requests: list[Delivery] = []
        self.answers: list[tuple[int, dict[str, str]]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                receiver.requests.append(Delivery(self.command, self.path,
                                                  {name.lower(): value for name, value in self.headers.items()},
                                                  body))
                code, headers = receiver.answers.pop(0) if receiver.answers else (200, {})
                self.send_response(code)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            do_POST = answer
            do_GET = answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(gate_database(tmp_path), os.urandom(32), create=True)
    yield opened
    opened.close()


def endpoints_file(tmp_path: Path, entries: list[dict[str, Any]]) -> Path:
    path = tmp_path / "webhooks.yaml"
    path.write_text(json.dumps(entries), encoding="utf-8")  # JSON is YAML
    return path


def endpoint(receiver: Receiver, *, name: str = "crm", secret: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"name": name, "url": receiver.url(), "secret": secret or new_secret(), **extra}


def emit(store: Store, endpoints: tuple[webhooks.Endpoint, ...] | None, event_type: str = EVENT,
         data: dict[str, Any] | None = None) -> list[int]:
    """Queue an event, then (with `endpoints`) fan it out as the gate's worker does; the ids of the rows that
    wait to be delivered."""
    with store.db.write() as tx:
        webhooks.emit(store.outbox, tx, event_type, DATA if data is None else data)
    if endpoints is not None:
        Worker(store.outbox, None, WebhookTransport(endpoints)).fan_out()
    return sorted(item.id for item in store.outbox.items(pending_only=True))


def status(store: Store, item_id: int) -> tuple[str, int, str | None]:
    item = store.outbox.item(item_id)
    assert item is not None
    return item.status, item.attempts, item.last_error


# ---------------------------------------------------------------- the endpoints file


def test_a_valid_file_loads_every_endpoint_with_every_event_by_default(tmp_path: Path, receiver: Receiver) -> None:
    path = endpoints_file(tmp_path, [endpoint(receiver), endpoint(receiver, name="chat", format="slack",
                                                                  events=["document.downloaded"])])
    crm, chat = webhooks.load_endpoints(path)
    assert (crm.name, crm.format, crm.events) == ("crm", "standard", frozenset(webhooks.EVENT_TYPES))
    assert (chat.name, chat.format, chat.events) == ("chat", "slack", frozenset({"document.downloaded"}))


@pytest.mark.parametrize(("change", "expected"), [
    ({"secret": "whsec_c2hvcnQ="}, "secret must be whsec_ followed by at least 24 random bytes"),
    ({"secret": "whsec_!!!not base64!!!"}, "secret must be whsec_ followed by at least 24 random bytes"),
    ({"secret": base64.b64encode(os.urandom(32)).decode()}, "secret must be whsec_"),
    ({"url": "http://hooks.example.test/trust"}, "url must use https (http only to this machine)"),
    ({"url": "https://user:pass@hooks.example.test/trust"}, "url must be an http(s) URL without user or password"),
    ({"events": ["access_request.received", "grant.exploded"]}, "events must be a list of"),
    ({"format": "teams"}, "format must be standard or slack"),
    ({"colour": "blue"}, "has unknown keys: colour"),
])
def test_an_endpoint_that_cannot_work_is_refused_with_a_clear_message(tmp_path: Path, receiver: Receiver,
                                                                      change: dict[str, Any], expected: str) -> None:
    path = endpoints_file(tmp_path, [endpoint(receiver, name="first"), {**endpoint(receiver), **change}])
    with pytest.raises(GateConfigError) as caught:
        webhooks.load_endpoints(path)
    assert caught.value.message.startswith(f"{path}: endpoint 2")
    assert expected in caught.value.message


def test_two_endpoints_with_one_name_are_refused(tmp_path: Path, receiver: Receiver) -> None:
    path = endpoints_file(tmp_path, [endpoint(receiver), endpoint(receiver)])
    with pytest.raises(GateConfigError) as caught:
        webhooks.load_endpoints(path)
    assert caught.value.message.startswith(f"{path}: endpoint 2: name must be unique")


# ---------------------------------------------------------------- delivery


def test_each_delivery_verifies_with_the_standard_webhooks_reference_implementation(
        tmp_path: Path, store: Store, receiver: Receiver) -> None:
    secret = new_secret()
    endpoints = webhooks.load_endpoints(endpoints_file(tmp_path, [endpoint(receiver, secret=secret)]))
    [item_id] = emit(store, endpoints)
    assert Worker(store.outbox, None, WebhookTransport(endpoints)).deliver_due() == 1
    [request] = receiver.requests
    assert (request.method, request.path) == ("POST", "/hook")
    headers = request.headers
    assert headers["content-type"] == "application/json"
    assert headers["webhook-id"] == f"msg_{item_id}"
    payload = Webhook(secret).verify(request.body, headers)
    assert payload["type"] == EVENT and payload["data"] == DATA
    assert status(store, item_id) == ("sent", 1, None)


def test_a_forged_or_altered_delivery_does_not_verify(tmp_path: Path, store: Store, receiver: Receiver) -> None:
    secret = new_secret()
    endpoints = webhooks.load_endpoints(endpoints_file(tmp_path, [endpoint(receiver, secret=secret)]))
    emit(store, endpoints)
    Worker(store.outbox, None, WebhookTransport(endpoints)).deliver_due()
    [request] = receiver.requests
    headers = request.headers
    with pytest.raises(Exception, match="signature"):
        Webhook(new_secret()).verify(request.body, headers)
    with pytest.raises(Exception, match="signature"):
        Webhook(secret).verify(request.body.replace(b"alice@", b"mallory@"), headers)


def test_a_500_is_retried_with_the_same_webhook_id_and_delivered_once(tmp_path: Path, store: Store,
                                                                     receiver: Receiver,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    secret = new_secret()
    endpoints = webhooks.load_endpoints(endpoints_file(tmp_path, [endpoint(receiver, secret=secret)]))
    [item_id] = emit(store, endpoints)
    worker = Worker(store.outbox, None, WebhookTransport(endpoints))
    receiver.answers.append((500, {}))
    assert worker.deliver_due() == 0
    state, attempts, error = status(store, item_id)
    assert (state, attempts) == ("waiting", 1) and error is not None and "500" in error
    [record] = [record for record in caplog.records if record.name == delivery.logger.name]
    assert record.levelno == logging.WARNING and f"outbox {item_id}: webhook to crm" in record.getMessage()
    store.outbox.retry()  # instead of waiting out the backoff
    assert worker.deliver_due() == 1
    assert worker.deliver_due() == 0  # delivered once: nothing more to send
    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == f"msg_{item_id}"
    for request in (first, second):
        Webhook(secret).verify(request.body, request.headers)
    assert status(store, item_id) == ("sent", 2, None)


def test_a_410_gives_the_event_up(tmp_path: Path, store: Store, receiver: Receiver,
                                 caplog: pytest.LogCaptureFixture) -> None:
    endpoints = webhooks.load_endpoints(endpoints_file(tmp_path, [endpoint(receiver)]))
    [item_id] = emit(store, endpoints)
    worker = Worker(store.outbox, None, WebhookTransport(endpoints))
    receiver.answers.append((410, {}))
    assert worker.deliver_due() == 0
    assert worker.deliver_due() == 0
    assert len(receiver.requests) == 1
    state, attempts, error = status(store, item_id)
    assert (state, attempts) == ("failed", 1) and error is not None and "410" in error
    assert any(record.levelno == logging.ERROR and "gave up" in record.getMessage() for record in caplog.records)


def test_a_redirect_is_not_followed(tmp_path: Path, store: Store, receiver: Receiver) -> None:
    endpoints = webhooks.load_endpoints(endpoints_file(tmp_path, [endpoint(receiver)]))
    [item_id] = emit(store, endpoints)
    receiver.answers.append((302, {"Location": receiver.url("/elsewhere")}))
    assert Worker(store.outbox, None, WebhookTransport(endpoints)).deliver_due() == 0
    assert [(request.method, request.path) for request in receiver.requests] == [("POST", "/hook")]
    state, attempts, error = status(store, item_id)
    assert (state, attempts) == ("waiting", 1)
    assert error is not None and "302" in error and "redirects are not followed" in error


def test_a_receiver_that_cannot_be_reached_is_retried(tmp_path: Path, store: Store) -> None:
    with Receiver() as gone:
        endpoints = webhooks.load_endpoints(endpoints_file(tmp_path, [endpoint(gone)]))
    [item_id] = emit(store, endpoints)
    assert Worker(store.outbox, None, WebhookTransport(endpoints)).deliver_due() == 0
    state, attempts, error = status(store, item_id)
    assert (state, attempts) == ("waiting", 1) and error is not None and "cannot be reached" in error


def test_an_endpoint_no_longer_configured_fails_its_events(tmp_path: Path, store: Store, receiver: Receiver) -> None:
    endpoints = webhooks.load_endpoints(endpoints_file(tmp_path, [endpoint(receiver, name="old")]))
    [item_id] = emit(store, endpoints)
    now_configured = webhooks.load_endpoints(endpoints_file(tmp_path, [endpoint(receiver, name="new")]))
    assert Worker(store.outbox, None, WebhookTransport(now_configured)).deliver_due() == 0
    state, _, error = status(store, item_id)
    assert state == "failed" and error is not None and "no longer configured" in error
    assert receiver.requests == []


def test_without_a_webhooks_file_events_wait(tmp_path: Path, store: Store, receiver: Receiver) -> None:
    endpoints = webhooks.load_endpoints(endpoints_file(tmp_path, [endpoint(receiver)]))
    [item_id] = emit(store, endpoints)
    assert worker_for(store.outbox, None, None).deliver_due() == 0
    assert status(store, item_id) == ("queued", 0, None)


def test_an_event_queued_without_the_endpoints_reaches_each_endpoint_that_wants_it_once(
        tmp_path: Path, store: Store, receiver: Receiver) -> None:
    # A CLI command in a shell without TRUSTCENTER_WEBHOOKS queues the event for every endpoint; the gate's worker,
    # which has the file, makes it one row (one webhook-id) per endpoint that wants the event type.
    [broadcast] = emit(store, None)
    assert worker_for(store.outbox, None, None).deliver_due() == 0
    assert status(store, broadcast) == ("queued", 0, None)
    endpoints = webhooks.load_endpoints(endpoints_file(tmp_path, [
        endpoint(receiver, name="crm"), endpoint(receiver, name="chat", format="slack"),
        endpoint(receiver, name="other", events=["grant.revoked"])]))
    gate_worker = Worker(store.outbox, None, WebhookTransport(endpoints))
    assert gate_worker.deliver_due() == 2
    assert gate_worker.deliver_due() == 0
    assert status(store, broadcast)[0] == "sent"
    rows = [item for item in store.outbox.items() if item.id != broadcast]
    assert sorted(item.target for item in rows) == ["chat", "crm"]
    assert {item.status for item in rows} == {"sent"}
    assert sorted(request.headers.get("webhook-id", "slack") for request in receiver.requests) == [
        f"msg_{item.id}" for item in rows if item.target == "crm"] + ["slack"]


def test_the_slack_format_posts_one_readable_escaped_paragraph_unsigned(tmp_path: Path, store: Store,
                                                                       receiver: Receiver) -> None:
    endpoints = webhooks.load_endpoints(endpoints_file(tmp_path, [endpoint(receiver, name="chat", format="slack")]))
    emit(store, endpoints, data={**DATA, "name": "<!channel> Mallory & co"})
    assert Worker(store.outbox, None, WebhookTransport(endpoints)).deliver_due() == 1
    [request] = receiver.requests
    assert "webhook-signature" not in request.headers
    body = json.loads(request.body)
    assert list(body) == ["text"]
    assert body["text"] == ("Trust center: Access request: &lt;!channel&gt; Mallory &amp; co (alice@customer.test) "
                            "of Customer Inc asks for soc2-report. Request req_123.")


@pytest.mark.parametrize(("event_type", "data", "expected"), [
    ("access_request.approved", {"email": "a@c.test", "company": "C", "granted": ["soc2-report", "pentest"],
                                 "expires": "2026-12-31", "by": "rule Customers"},
     "Access approved for a@c.test of C: soc2-report, pentest, until 2026-12-31 (by rule Customers)."),
    ("access_request.denied", {"email": "a@c.test", "by": "staff@example.test", "reason": "not a customer"},
     "Access denied to a@c.test by staff@example.test: not a customer."),
    ("grant.revoked", {"grant_id": "grt_1", "email": "a@c.test", "by": "cli"}, "Grant grt_1 for a@c.test revoked by cli."),
    ("document.downloaded", {"document": "soc2-report", "email": "a@c.test", "company": "C"},
     "a@c.test of C downloaded soc2-report."),
])
def test_the_slack_text_of_each_event(event_type: str, data: dict[str, Any], expected: str) -> None:
    assert delivery.slack_text({"type": event_type, "data": data}) == f"Trust center: {expected}"


# ---------------------------------------------------------------- the gate


def test_the_gate_delivers_the_events_of_its_webhooks_file(project: Path, tmp_path: Path, signer: Signer,
                                                           receiver: Receiver) -> None:
    secret = new_secret()
    path = endpoints_file(tmp_path, [endpoint(receiver, secret=secret, events=["document.downloaded"])])
    with running_gate(gate_settings(project, tmp_path, webhooks_file=path)) as running:
        gate = gate_app.current_of(running.app)
        with gate.store.db.write() as tx:
            gate.desk.webhook(tx, "document.downloaded", document="soc2-report", email="alice@customer.test")
            gate.desk.webhook(tx, "grant.revoked", grant_id="grt_1", by="cli")  # not wanted by this endpoint
        assert gate.delivery.deliver_due() == 1
    [request] = receiver.requests
    payload = Webhook(secret).verify(request.body, request.headers)
    assert payload["type"] == "document.downloaded"


def test_the_gate_refuses_to_start_on_a_webhooks_file_that_cannot_work(project: Path, tmp_path: Path,
                                                                       signer: Signer) -> None:
    path = endpoints_file(tmp_path, [{"name": "crm", "url": "http://hooks.example.test", "secret": new_secret()}])
    with pytest.raises(GateConfigError):
        gate_app.create_app(gate_settings(project, tmp_path, webhooks_file=path))


def test_webhook_rows_are_listed_by_trustcenter_outbox(project: Path, tmp_path: Path, receiver: Receiver) -> None:
    project_store = open_store(Project.at(project), None, create=True)
    try:
        emit(project_store, webhooks.load_endpoints(endpoints_file(tmp_path, [endpoint(receiver)])))
    finally:
        project_store.close()
    result = CliRunner().invoke(main, ["outbox", "--project", str(project), "--json"])
    assert result.exit_code == 0, result.output
    fanned_out, broadcast = json.loads(result.output)  # newest first
    assert (fanned_out["kind"], fanned_out["target"], fanned_out["subject"], fanned_out["status"]) == (
        Kind.WEBHOOK.value, "crm", EVENT, "queued")
    assert (broadcast["target"], broadcast["subject"], broadcast["status"]) == ("*", EVENT, "sent")


# ---------------------------------------------------------------- `trustcenter gate --check`


@contextlib.contextmanager
def no_mail_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for variable in ("TRUSTCENTER_SMTP_URL", "TRUSTCENTER_WEBHOOKS"):
        monkeypatch.delenv(variable, raising=False)
    yield


@pytest.fixture
def deployment(project: Path, signer: Signer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    (project / "site").mkdir()
    (project / "site" / "index.html").write_text("<!doctype html><title>Trust</title><p>site</p>", encoding="utf-8")
    open_store(Project.at(project), None, create=True).close()
    with no_mail_settings(monkeypatch):
        yield project


def webhooks_line(project: Path, *options: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["gate", "--check", "--project", str(project), *options])
    [line] = [line for line in result.output.splitlines() if ": webhooks:" in line]
    return result.exit_code, line


def test_gate_check_counts_the_endpoints_of_the_webhooks_file(deployment: Path, tmp_path: Path,
                                                              receiver: Receiver) -> None:
    path = endpoints_file(tmp_path, [endpoint(receiver), endpoint(receiver, name="chat", format="slack")])
    code, line = webhooks_line(deployment, "--webhooks", str(path))
    assert code == 0, line
    assert line == f"ok: webhooks: {path}: 2 endpoint(s): crm, chat"


def test_gate_check_reads_the_webhooks_file_from_the_environment_and_reports_its_errors(
        deployment: Path, tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    path = endpoints_file(tmp_path, [endpoint(receiver, secret="whsec_short")])
    monkeypatch.setenv("TRUSTCENTER_WEBHOOKS", str(path))
    code, line = webhooks_line(deployment)
    assert code == 1
    assert line.startswith(f"error: webhooks: {path}: endpoint 1: secret must be whsec_")


def test_gate_check_has_no_webhooks_line_without_a_webhooks_file(deployment: Path) -> None:
    result = CliRunner().invoke(main, ["gate", "--check", "--project", str(deployment)])
    assert result.exit_code == 0, result.output
    assert "webhooks" not in result.output and "mail" not in result.output
