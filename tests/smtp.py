"""A real SMTP server on loopback for the tests: aiosmtpd in a thread, plain, STARTTLS or implicit TLS, with or
without AUTH, that keeps every message it accepts and can be taken down, brought back, or made to refuse.

Usage::

    from smtp import SmtpServer

    with SmtpServer() as server:                      # or the `smtp_server` fixture in conftest.py
        settings = MailSettings(smtp_url=server.url)  # "smtp://127.0.0.1:PORT"
        ...                                           # something sends a message
        [received] = server.wait_for(1)               # waits (10 s at most) until one message arrived
        received.rcpt_tos, received.message["Subject"], server.links(received)

    SmtpServer(starttls=True, auth=("user", "secret"))  # STARTTLS offered, AUTH only after it, AUTH required;
                                                        # .url carries "user:secret@", .ca_file the CA to trust
    SmtpServer(implicit_tls=True)                       # TLS from the first byte: .url is "smtps://..."

The API:

- `.url`: "smtp://127.0.0.1:PORT", "smtps://..." with implicit TLS, and "user:pass@" (percent-encoded) with
  `auth`. `.host`, `.port` for tests that build their own URL (a wrong password, say).
- `.ca_file`: the self-signed CA (made with `cryptography`) that signed the server's certificate (for
  127.0.0.1 and localhost); None without TLS. Trust it through `MailSettings(ca_file=...)`.
- `.messages`: every accepted message as `ReceivedMail(mail_from, rcpt_tos, message, raw)`, where `message` is
  the parsed `email.message.EmailMessage` (default policy) and `raw` the bytes as received.
- `.wait_for(count, timeout=10)`: waits until at least `count` messages arrived and returns them all; fails the
  test (AssertionError) after `timeout` seconds.
- `.down()` / `.up()`: stop the server (connections are refused) and start it again on the same port.
- `.refuse(code=451)` / `.accept()`: answer every RCPT TO with `code` (451: try later; 550: no such mailbox)
  until `accept()`.
- `.auth_attempts`: every AUTH command as `AuthAttempt(mechanism, over_tls)`, recorded when the command
  arrives, before the server checks anything: so a test sees credentials sent in clear even if they were
  refused.
- `.links(message)`: the http(s) URLs in the text/plain part of a `ReceivedMail` or an `EmailMessage`.

With `auth` and no TLS the server offers AUTH in clear (the client may use it on loopback only); with
`starttls` it offers AUTH only after STARTTLS; with `auth` any message without a successful AUTH is refused.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import email
import email.policy
import ipaddress
import re
import shutil
import socket
import ssl
import tempfile
import threading
import urllib.parse
import warnings
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

_URL = re.compile(r"https?://[^\s<>\"']+")


@dataclasses.dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes


@dataclasses.dataclass(frozen=True)
class AuthAttempt:
    mechanism: str
    over_tls: bool


class _Handler:
    """aiosmtpd's handler hooks: refuse recipients on demand, keep what is accepted."""

    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(self, smtp: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        code = self.server._refusing
        if code is not None:
            return f"{code} 4.7.1 Try again later" if code < 500 else f"{code} 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        received = ReceivedMail(str(envelope.mail_from), list(envelope.rcpt_tos), parsed, raw)
        with self.server._arrived:
            self.server.messages.append(received)
            self.server._arrived.notify_all()
        return "250 Message accepted for delivery"


class _RecordingSMTP(SMTP):
    """aiosmtpd's SMTP session, noting each AUTH command (and whether TLS was up) before handling it."""

    def __init__(self, *args: Any, recorder: SmtpServer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._recorder = recorder

    async def smtp_AUTH(self, arg: str) -> None:
        mechanism = arg.split()[0].upper() if arg.strip() else ""
        self._recorder.auth_attempts.append(AuthAttempt(mechanism, self._tls_protocol is not None))
        await super().smtp_AUTH(arg)


class _Controller(Controller):
    def __init__(self, handler: _Handler, recorder: SmtpServer, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._recorder = recorder

    def factory(self) -> SMTP:
        with warnings.catch_warnings():
            # AUTH without TLS is what the plain mode is for (loopback only); aiosmtpd warns about it.
            warnings.simplefilter("ignore", UserWarning)
            return _RecordingSMTP(self.handler, recorder=self._recorder, **self.SMTP_kwargs)


class SmtpServer:
    """See the module docstring."""

    def __init__(self, *, starttls: bool = False, implicit_tls: bool = False,
                 auth: tuple[str, str] | None = None) -> None:
        if starttls and implicit_tls:
            raise ValueError("starttls and implicit_tls exclude each other")
        self.starttls = starttls
        self.implicit_tls = implicit_tls
        self.auth = auth
        self.host = "127.0.0.1"
        self.port = _free_port()
        self.messages: list[ReceivedMail] = []
        self.auth_attempts: list[AuthAttempt] = []
        self.ca_file: Path | None = None
        self._refusing: int | None = None
        self._arrived = threading.Condition()
        self._controller: _Controller | None = None
        self._folder: Path | None = None
        self._server_context: ssl.SSLContext | None = None

    # ------------------------------------------------------------ lifecycle

    def __enter__(self) -> SmtpServer:
        if self.starttls or self.implicit_tls:
            self._folder = Path(tempfile.mkdtemp(prefix="smtp-tls-"))
            self.ca_file, cert_file, key_file = _certificates(self._folder)
            self._server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self._server_context.load_cert_chain(cert_file, key_file)
        self.up()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.down()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)

    def up(self) -> None:
        """Start (again) on the same port."""
        if self._controller is not None:
            return
        options: dict[str, Any] = {"hostname": self.host, "port": self.port, "ready_timeout": 10}
        if self.implicit_tls:
            options["ssl_context"] = self._server_context
        if self.starttls:
            options["tls_context"] = self._server_context
        if self.auth is not None:
            options["authenticator"] = self._authenticate
            options["auth_required"] = True
            # Without any TLS the only way to test AUTH is in clear; with STARTTLS, AUTH only after it.
            options["auth_require_tls"] = self.starttls
        controller = _Controller(_Handler(self), self, **options)
        controller.start()
        self._controller = controller

    def down(self) -> None:
        """Stop: until `up()`, connections to the port are refused."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    # ------------------------------------------------------------ behaviour

    def refuse(self, code: int = 451) -> None:
        """Answer every RCPT TO with `code` until `accept()`."""
        self._refusing = code

    def accept(self) -> None:
        self._refusing = None

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                      auth_data: Any) -> AuthResult:
        assert self.auth is not None
        if isinstance(auth_data, LoginPassword):
            login, password = self.auth
            if auth_data.login == login.encode() and auth_data.password == password.encode():
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    # ------------------------------------------------------------ what the tests read

    @property
    def url(self) -> str:
        scheme = "smtps" if self.implicit_tls else "smtp"
        credentials = ""
        if self.auth is not None:
            user, password = (urllib.parse.quote(part, safe="") for part in self.auth)
            credentials = f"{user}:{password}@"
        return f"{scheme}://{credentials}{self.host}:{self.port}"

    def wait_for(self, count: int, timeout: float = 10) -> list[ReceivedMail]:
        """At least `count` messages, waiting up to `timeout` seconds for them; all received so far."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.messages) >= count, timeout):
                raise AssertionError(f"expected {count} message(s) within {timeout} s, got {len(self.messages)}")
            return list(self.messages)

    @staticmethod
    def links(message: ReceivedMail | EmailMessage) -> list[str]:
        """The http(s) URLs in the text/plain part, in order."""
        parsed = message.message if isinstance(message, ReceivedMail) else message
        part = parsed.get_body(preferencelist=("plain",))
        if part is None:
            return []
        assert isinstance(part, EmailMessage)
        text = str(part.get_content())
        return [url.rstrip(".,;:!?)]") for url in _URL.findall(text)]


def _free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate it signed for 127.0.0.1 and localhost: (ca, cert, key) files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "trustcenter test SMTP CA")])
    ca_cert = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name).public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.IPv4Address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(server_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(server_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    key_file.chmod(0o600)
    return ca_file, cert_file, key_file
