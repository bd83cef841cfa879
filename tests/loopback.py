"""A real gate on loopback (waitress in a thread) and a browser-like HTTP client with its own cookie jar."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import http.client
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import waitress  # type: ignore[import-untyped]
from conftest import GATED_ID, TRUST_CENTER_URL
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from support import gate_database
from waitress import wasyncore

from generator.content.project import Project
from generator.gate import app as gate_app
from generator.gate import keys, tokens
from generator.gate.settings import GateSettings, audit_key

RECIPIENT = "alice@customer.test"
RECIPIENT_COMPANY = "Customer Inc"


# ---------------------------------------------------------------- signing


@dataclasses.dataclass
class Signer:
    """Mints tokens the way `link create` does, and lets a test bend any part of them."""

    private_key: Ed25519PrivateKey
    kid: str
    issuer: str = TRUST_CENTER_URL

    def link(self, **fields: Any) -> tokens.Link:
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        values: dict[str, Any] = {
            "link_id": tokens.new_link_id(), "document_id": GATED_ID, "recipient": RECIPIENT,
            "company": RECIPIENT_COMPANY, "issued_at": now, "expires_at": now + dt.timedelta(days=7),
            "max_downloads": 5, "nda_on_file": False,
        }
        values.update(fields)
        return tokens.Link(**values)

    def token(self, link: tokens.Link | None = None, **fields: Any) -> str:
        return tokens.mint(link or self.link(**fields), private_key=self.private_key, kid=self.kid, issuer=self.issuer)

    def raw(self, claims: dict[str, Any], *, headers: dict[str, Any] | None = None, key: Any = None,
            algorithm: str = "EdDSA") -> str:
        """A token from explicit claims and headers (for forgeries)."""
        return jwt.encode(claims, key if key is not None else self.private_key, algorithm=algorithm,
                          headers={"kid": self.kid, **(headers or {})})


def add_signing_key(project: Path, tmp_path: Path, kid: str = "test-key") -> Signer:
    pair = keys.create_key_pair(Project.at(project), kid=kid, private_key_path=tmp_path / "secrets" / f"{kid}.pem")
    return Signer(keys.load_private_key(pair.private_key_path), kid)


def signed_demo(root: Path, data_kid: str, link_kids: tuple[str, ...] = ("test-key",), *,
                demo_key: bool = False) -> tuple[Path, list[Signer], Path]:
    """The demo project under `root` with link keys, a data key (and the demo key) in trust/keys/, built once with
    its data signed by the data key, in an environment of its own (no key or state folder of the developer's).
    Returns the project, the link signers and the data key's private key file."""
    from support import copy_demo

    from generator.site import build, signing

    with pytest.MonkeyPatch.context() as env:
        env.setenv("TRUSTCENTER_STATE_DIR", str(root / "state"))
        for name in (signing.DATA_KEY_ENV, keys.SIGNING_KEY_ENV):
            env.delenv(name, raising=False)
        project = copy_demo(root / "project")
        signers = [add_signing_key(project, root, kid=kid) for kid in link_kids]
        if demo_key:
            keys.ensure_demo_key(Project.at(project))
        pair = signing.create_data_key_pair(Project.at(project), kid=data_kid,
                                            private_key_path=root / "secrets" / "data.pem")
        with signing.signing_key(pair.private_key_path):
            build.build(Project.at(project))
    return project, signers, pair.private_key_path


def settings(project: Path, tmp_path: Path, **overrides: Any) -> GateSettings:
    where = Project.at(project)
    values: dict[str, Any] = {
        "project": where, "site_dir": project / "site", "db_path": gate_database(tmp_path),
        "audit_key": audit_key(where, create=True), "secret_key": b"test-secret-" + bytes(20), "create_db": True,
    }
    values.update(overrides)
    return GateSettings(**values)


# ---------------------------------------------------------------- the server


@dataclasses.dataclass
class RunningGate:
    base_url: str
    host: str
    port: int
    app: Any

    def browser(self) -> Browser:
        return Browser(self.host, self.port)


@contextlib.contextmanager
def running_gate(gate_settings: GateSettings, threads: int = 8, port: int = 0) -> Iterator[RunningGate]:
    app = gate_app.create_app(gate_settings)
    # The limits `trustcenter gate` runs with, so what the tests see is what production sees.
    server = waitress.create_server(app, host="127.0.0.1", port=port, threads=threads, ident="",
                                    **gate_app.SERVER_LIMITS)
    port = int(server.effective_port)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield RunningGate(f"http://127.0.0.1:{port}", "127.0.0.1", port, app)
    finally:
        # Workers first, so no request thread is still writing to a channel while it closes.
        server.task_dispatcher.shutdown()
        try:
            # Then every socket from the server's own thread, so its select() never sees a closed one.
            server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
        except OSError:
            # The trigger is gone (its loop already ended): nothing else is using the sockets now.
            wasyncore.close_all(server._map, ignore_all=True)
        thread.join(timeout=10)
        gate_app.close(app)


# ---------------------------------------------------------------- the client


def assert_gate_headers(reply: Reply) -> None:
    assert reply.header("Cache-Control") == "no-store"
    assert_security_headers(reply)


def assert_security_headers(reply: Reply) -> None:
    csp = reply.header("Content-Security-Policy") or ""
    for directive in ("default-src 'self'", "frame-ancestors 'none'", "form-action 'self'", "base-uri 'none'",
                      "object-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:"):
        assert directive in csp, directive
    assert "unsafe-inline" not in csp
    assert reply.header("Referrer-Policy") == "no-referrer"
    assert reply.header("X-Content-Type-Options") == "nosniff"
    assert reply.header("X-Frame-Options") == "DENY"


@dataclasses.dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


class Browser:
    """One browser: its own cookie jar; does not follow redirects (tests look at each step).

    Secure cookies are sent over http here, as Chromium and Firefox do for loopback addresses."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.cookies: dict[str, str] = {}
        self.cookie_attributes: dict[str, str] = {}

    def request(self, method: str, path: str, *, form: dict[str, str] | list[tuple[str, str]] | None = None,
                headers: dict[str, str] | None = None, cookies: bool = True) -> Reply:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        sent = {"User-Agent": "test-browser/1.0", **(headers or {})}
        if cookies and self.cookies:
            sent["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            reply = Reply(response.status, response.headers, response.read())
        finally:
            connection.close()
        for set_cookie in reply.headers.get_all("Set-Cookie") or []:
            pair, _, attributes = set_cookie.partition(";")
            name, _, value = pair.strip().partition("=")
            self.cookies[name] = value
            self.cookie_attributes[name] = attributes
        return reply

    def get(self, path: str, **options: Any) -> Reply:
        return self.request("GET", path, **options)

    def post(self, path: str, form: dict[str, str] | list[tuple[str, str]], **options: Any) -> Reply:
        return self.request("POST", path, form=form, **options)

    def csrf_from(self, reply: Reply) -> str:
        marker = 'name="csrf" value="'
        start = reply.text.index(marker) + len(marker)
        return reply.text[start: reply.text.index('"', start)]

    def accept(self, token: str, *, name: str = "Alice Example", company: str = RECIPIENT_COMPANY) -> Reply:
        """Open the link, then accept the NDA the way the form does."""
        page = self.get(f"/access/{token}")
        assert page.status == 200, page.text
        return self.post(f"/access/{token}", {"csrf": self.csrf_from(page), "step": "accept", "name": name,
                                              "company": company, "accept": "yes"})
