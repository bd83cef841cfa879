"""Delivery of the outbox: e-mail through an SMTP server (or, for the demo, to the console), webhook events as
signed HTTP POSTs, by a worker thread that claims due rows, delivers them and records what happened.

The outbox (`outbox.py`) decides when a row is due, how long to wait after a failure and when to give up; this
module decides what a failure is, and what each row becomes: a webhook event queued for every endpoint is fanned
out into one row per endpoint that wants it by a worker that has the endpoints (the gate's), and left alone by
one that has none (a CLI command's, in a shell without TRUSTCENTER_WEBHOOKS); a row whose link expired is failed
unsent. A refusal that will not change by waiting (a 5xx to the recipient or the
message, HTTP 410, an endpoint that is no longer configured) is permanent: the row fails at once. Everything
else (a server down, a timeout, a 4xx, a 500) is temporary and retried with backoff. A failure that means the
configuration is wrong (the password, the server's certificate) is temporary too, so the queued messages go
out once it is fixed, but it is logged at ERROR: someone has to act.

A message body carries tokens (confirmation and grant links), so no body is ever logged: the logs name the
outbox id, the kind and the target, and `trustcenter outbox` shows the same.
"""

from __future__ import annotations

import base64
import datetime as dt
import email
import email.policy
import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import os
import re
import smtplib
import socket
import ssl
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol, TextIO
from urllib.parse import unquote, urlsplit

from generator.errors import DeliveryError, GateConfigError
from generator.gate import retention, webhooks
from generator.gate.audit import table
from generator.gate.mail import SMTP_CA_FILE_ENV, SMTP_URL_ENV, MailSettings
from generator.gate.outbox import BROADCAST, EXPIRED, Item, Kind, Outbox
from generator.gate.webhooks import Endpoint

logger = logging.getLogger(__name__)

SMTP_TIMEOUT_SECONDS = 20.0  # per connection step; a claim (CLAIM_SECONDS) outlasts a delivery's steps
WEBHOOK_TIMEOUT_SECONDS = 10.0  # for a whole call: connecting, sending, and the answer's status and headers
PROBE_TIMEOUT_SECONDS = 5.0  # `gate --check`: a short look, never a long wait
MAX_SLEEP_SECONDS = 5.0  # the worker looks at the outbox at least this often
MAX_PER_PASS = 200  # rows per pass (each claimed on its own): a pass ends even if rows keep arriving
USER_AGENT = "trustcenter-gate (webhooks)"
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # keeps \t and \n


class MailTransport(Protocol):
    """Something that delivers one queued e-mail (`item.body` is the whole RFC 5322 message) to `item.target`,
    or raises DeliveryError."""

    def send(self, item: Item) -> None: ...


def printable(text: str) -> str:
    """Text from a visitor or a remote server made safe for one log or terminal line."""
    return _UNPRINTABLE.sub("?", text.replace("\n", " "))


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _parse(body: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(body, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


# ---------------------------------------------------------------- SMTP


class SmtpTransport:
    """Mail through the SMTP server of TRUSTCENTER_SMTP_URL: `smtp://[user:pass@]host[:port]` (port 25; STARTTLS
    whenever the server offers it) or `smtps://...` (TLS from the first byte; port 465). The server's certificate
    is verified against the system's CAs, or only against TRUSTCENTER_SMTP_CA_FILE when that is set.

    A password never crosses the network in clear: with credentials and a server that offers no STARTTLS, the
    transport refuses to sign in unless the server is this machine (a relay on loopback)."""

    def __init__(self, settings: MailSettings, *, timeout: float = SMTP_TIMEOUT_SECONDS) -> None:
        url = (settings.smtp_url or "").strip()
        if not url:
            raise GateConfigError(f"no SMTP server: set {SMTP_URL_ENV} to smtp://[user:password@]host[:port]")
        # Messages name the variable, never the URL: it may hold a password.
        parsed = urlsplit(url)
        scheme = parsed.scheme.lower()
        if scheme not in ("smtp", "smtps"):
            raise GateConfigError(f"{SMTP_URL_ENV} must start with smtp:// (STARTTLS when the server offers it) or "
                                  f"smtps:// (implicit TLS), not {printable(scheme)[:20] or 'no scheme'}")
        if parsed.query or parsed.fragment or "?" in url or "#" in url:
            raise GateConfigError(f"{SMTP_URL_ENV}: query strings and fragments are not supported; the form is "
                                  "smtp://[user:password@]host[:port]")
        if parsed.path not in ("", "/"):
            raise GateConfigError(f"{SMTP_URL_ENV}: a path is not supported; the form is "
                                  "smtp://[user:password@]host[:port]")
        try:
            port = parsed.port
        except ValueError:
            raise GateConfigError(f"{SMTP_URL_ENV}: the port must be a number from 1 to 65535") from None
        if not parsed.hostname:
            raise GateConfigError(f"{SMTP_URL_ENV} names no host; the form is smtp://[user:password@]host[:port]")
        if port == 0:
            raise GateConfigError(f"{SMTP_URL_ENV}: the port must be a number from 1 to 65535")
        if parsed.username is not None and (not parsed.username or parsed.password is None):
            raise GateConfigError(f"{SMTP_URL_ENV}: give both user and password (smtp://user:password@host), with "
                                  "special characters percent-encoded (@ as %40, : as %3A)")
        self.implicit_tls = scheme == "smtps"
        self.host = parsed.hostname
        self.port = port or (465 if self.implicit_tls else 25)
        self.user = unquote(parsed.username) if parsed.username else None
        self._password = unquote(parsed.password) if parsed.password is not None else None
        self.timeout = timeout
        self.local_hostname = settings.sender.rpartition("@")[2] if settings.sender else None
        try:
            self._context = ssl.create_default_context(cafile=str(settings.ca_file) if settings.ca_file else None)
        except (OSError, ssl.SSLError) as exc:
            raise GateConfigError(f"{SMTP_CA_FILE_ENV}: cannot use {settings.ca_file} as a CA bundle "
                                  f"({getattr(exc, 'strerror', None) or exc}); give a PEM file of CA certificates"
                                  ) from None

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def _open(self, timeout: float) -> tuple[smtplib.SMTP, str]:
        """A connection ready for MAIL FROM: TLS as the URL says, signed in if it has credentials; and how it is
        secured ("implicit TLS", "STARTTLS" or "no TLS")."""
        connection: smtplib.SMTP
        if self.implicit_tls:
            connection = smtplib.SMTP_SSL(self.host, self.port, local_hostname=self.local_hostname,
                                          timeout=timeout, context=self._context)
            mode = "implicit TLS"
        else:
            connection = smtplib.SMTP(self.host, self.port, local_hostname=self.local_hostname, timeout=timeout)
            mode = "no TLS"
        try:
            connection.ehlo()
            if not self.implicit_tls and connection.has_extn("starttls"):
                connection.starttls(context=self._context)
                connection.ehlo()
                mode = "STARTTLS"
            if self.user is not None and self._password is not None:
                peer = str(connection.sock.getpeername()[0]) if connection.sock else ""
                if mode == "no TLS" and not _is_loopback(peer):
                    raise DeliveryError(f"{self.address} offers no STARTTLS, and the password is never sent in "
                                        "clear; use a server that offers STARTTLS, or smtps://", False,
                                        configuration=True)
                connection.login(self.user, self._password)
        except BaseException:
            connection.close()
            raise
        return connection, mode

    def probe(self, timeout: float = PROBE_TIMEOUT_SECONDS) -> str:
        """Connect, greet, secure and sign in as a delivery would, and send nothing: how the server answered
        (for `gate --check`). Raises DeliveryError."""
        try:
            connection, mode = self._open(timeout)
        except DeliveryError:
            raise
        except Exception as exc:  # every failure becomes one sentence
            raise _smtp_error(exc, self.address) from None
        try:
            connection.quit()
        except (smtplib.SMTPException, OSError):
            connection.close()
        signed_in = f", signed in as {self.user}" if self.user else ""
        return f"{self.address} ({mode}{signed_in})"

    def send(self, item: Item) -> None:
        headers = _parse(item.body)
        senders: tuple[Any, ...] = tuple(getattr(headers["From"], "addresses", ()))
        if len(senders) != 1 or not senders[0].addr_spec:
            raise DeliveryError("the message has no single From address", True)
        sender = str(senders[0].addr_spec)
        try:
            connection, _ = self._open(self.timeout)
        except DeliveryError:
            raise
        except Exception as exc:  # temporary or permanent, never lost
            raise _smtp_error(exc, self.address) from None
        try:
            options: list[str] = []
            if not (sender + item.target).isascii():
                if not connection.has_extn("smtputf8"):
                    raise DeliveryError(f"{self.address} does not accept addresses with non-ASCII characters "
                                        "(no SMTPUTF8)", True)
                options.append("SMTPUTF8")
            connection.sendmail(sender, [item.target], item.body, mail_options=options)
        except DeliveryError:
            raise
        except Exception as exc:
            raise _smtp_error(exc, self.address) from None
        finally:
            try:
                connection.quit()
            except (smtplib.SMTPException, OSError):
                connection.close()


def _answer(code: int, text: bytes | str) -> str:
    words = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"{code} {printable(words)[:200]}"


def _smtp_error(exc: BaseException, address: str) -> DeliveryError:
    """What an SMTP failure means for the row: the recipient or the message refused with 5xx is permanent; a
    4xx, a timeout or an unreachable server is temporary; credentials or certificates are the configuration."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()), (0, b""))
        return DeliveryError(f"the server refused the recipient: {_answer(code, text)}", 500 <= code < 600)
    if isinstance(exc, smtplib.SMTPDataError):
        return DeliveryError(f"the server refused the message: {_answer(exc.smtp_code, exc.smtp_error)}",
                             500 <= exc.smtp_code < 600)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return DeliveryError(f"{address} refused the user name or password in {SMTP_URL_ENV}: "
                             f"{_answer(exc.smtp_code, exc.smtp_error)}", False, configuration=True)
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return DeliveryError(f"the server refused the sender {printable(str(exc.sender))}: "
                             f"{_answer(exc.smtp_code, exc.smtp_error)}; check TRUSTCENTER_MAIL_FROM", False,
                             configuration=True)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return DeliveryError(f"{address} does not support what {SMTP_URL_ENV} asks for ({exc}); without AUTH, "
                             "leave user and password out", False, configuration=True)
    if isinstance(exc, smtplib.SMTPResponseException):
        return DeliveryError(f"{address} answered {_answer(exc.smtp_code, exc.smtp_error)}", False)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return DeliveryError(f"the certificate of {address} is not trusted ({exc.verify_message}); set "
                             f"{SMTP_CA_FILE_ENV} to the CA that issued it", False, configuration=True)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return DeliveryError(f"{address} closed the connection ({printable(str(exc)) or 'no reason given'})", False)
    if isinstance(exc, TimeoutError):
        return DeliveryError(f"{address} did not answer in time", False)
    if isinstance(exc, ssl.SSLError):
        return DeliveryError(f"TLS with {address} failed ({exc.reason or exc})", False)
    if isinstance(exc, OSError):
        return DeliveryError(f"cannot reach {address} ({exc.strerror or exc})", False)
    return DeliveryError(f"unexpected failure talking to {address} ({type(exc).__name__})", False)


# ---------------------------------------------------------------- the demo's console


class ConsoleTransport:
    """The demo's mail: each message printed to the terminal, readably, and kept as <outbox id>.eml in
    `directory` (0700; files 0600: they hold links that grant access), so whoever runs `trustcenter demo` can
    follow the confirmation and grant links without a mail server."""

    def __init__(self, directory: Path, out: TextIO | None = None) -> None:
        self.directory = directory
        self._out = out

    def send(self, item: Item) -> None:
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.directory.chmod(0o700)
            path = self.directory / f"{item.id}.eml"
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
            try:
                os.fchmod(descriptor, 0o600)  # a file left by an earlier run keeps no wider mode
                os.write(descriptor, item.body)
            finally:
                os.close(descriptor)
        except OSError as exc:
            raise DeliveryError(f"cannot write the message to {self.directory} ({exc.strerror or exc})", False) from None
        message = _parse(item.body)
        part = message.get_body(preferencelist=("plain",))
        text = str(part.get_content()) if isinstance(part, EmailMessage) else "(no text part)"
        rule = "=" * 72
        # Printed to a terminal: a visitor's name or company must not carry escape sequences into it.
        lines = [rule, f"e-mail {item.id} (the demo prints its e-mail instead of sending it)",
                 f"To:      {printable(str(message['To'] or item.target))}",
                 f"Subject: {printable(str(message['Subject'] or ''))}", "",
                 _UNPRINTABLE.sub("?", text.replace("\r\n", "\n")).rstrip("\n"), "",
                 f"saved as {path}", rule]
        out = self._out or sys.stdout
        out.write("\n".join(lines) + "\n")
        out.flush()


# ---------------------------------------------------------------- webhooks


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A webhook goes where it was configured or nowhere: a redirect is an answer (a failure), not a new target."""

    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any,
                         newurl: str) -> None:
        return None


class _Deadline:
    """The end of one webhook call, whatever the receiver does: a socket timeout bounds each read, but a receiver
    that answers a byte every few seconds never trips it and would hold the call (and the worker) for hours. At
    the deadline the call's sockets are shut down, which ends a read blocked in another thread at once."""

    def __init__(self, seconds: float) -> None:
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self.expired = False
        self._timer = threading.Timer(seconds, self._cut)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()

    def watch(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            self._sockets.append(sock)
            expired = self.expired
        if expired:
            _shut(sock)

    def _cut(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)

    def _connect(self, address: tuple[str, int], timeout: float | None = None,
                 source_address: tuple[str, int] | None = None) -> socket.socket:
        # Watched from the moment it exists, so a TLS handshake answered a byte at a time is cut off too.
        sock = socket.create_connection(address, timeout, source_address)
        self.watch(sock)
        return sock

    def opener(self) -> urllib.request.OpenerDirector:
        """An opener whose connections this deadline watches, and which follows no redirect."""
        deadline = self

        class Http(http.client.HTTPConnection):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                self._create_connection = deadline._connect

        class Https(http.client.HTTPSConnection):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                self._create_connection = deadline._connect

        class HttpHandler(urllib.request.HTTPHandler):
            def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
                return self.do_open(Http, req)

        class HttpsHandler(urllib.request.HTTPSHandler):
            def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
                return self.do_open(Https, req, context=ssl.create_default_context())

        return urllib.request.build_opener(HttpHandler, HttpsHandler, _NoRedirects)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # closed already: the call is over


class WebhookTransport:
    """Posts queued events to the configured endpoints: Standard Webhooks (the JSON as queued, signed with the
    endpoint's secret; `webhook-id` is the outbox row's, the same on every retry) or a Slack-compatible message.
    2xx is delivered; 410 (the receiver says: gone, stop) is permanent; anything else is retried. A call lasts
    `timeout` seconds at most in all (`_Deadline`), so a slow receiver costs one attempt, not the worker."""

    def __init__(self, endpoints: Iterable[Endpoint], *, timeout: float = WEBHOOK_TIMEOUT_SECONDS) -> None:
        self.endpoints = {endpoint.name: endpoint for endpoint in endpoints}
        self.timeout = timeout

    def request(self, item: Item) -> urllib.request.Request:
        """The HTTP request for one row, signed at the time of sending (receivers reject old timestamps)."""
        endpoint = self.endpoints.get(item.target)
        if endpoint is None:
            raise DeliveryError(f"the webhook endpoint '{printable(item.target)}' is no longer configured", True)
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        if endpoint.format == "slack":
            body = json.dumps({"text": slack_text(json.loads(item.body))}, ensure_ascii=False).encode("utf-8")
        else:
            body = item.body
            message_id, timestamp = f"msg_{item.id}", str(int(time.time()))
            signed = f"{message_id}.{timestamp}.".encode() + body
            signature = base64.b64encode(hmac.new(endpoint.secret, signed, hashlib.sha256).digest()).decode()
            headers |= {"webhook-id": message_id, "webhook-timestamp": timestamp,
                        "webhook-signature": f"v1,{signature}"}
        return urllib.request.Request(endpoint.url, data=body, headers=headers, method="POST")  # noqa: S310

    def send(self, item: Item) -> None:
        request = self.request(item)
        with _Deadline(self.timeout) as deadline:
            try:
                self._post(deadline, request)
            except DeliveryError:
                if deadline.expired:
                    raise DeliveryError(f"the receiver did not answer within {self.timeout:.0f} s", False) from None
                raise

    def _post(self, deadline: _Deadline, request: urllib.request.Request) -> None:
        try:
            with deadline.opener().open(request, timeout=self.timeout) as response:
                response.read(4096)  # a little of the answer, so the connection ends cleanly; never all of it
                status = int(response.status)
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code == 410:
                raise DeliveryError("the receiver answered 410 Gone: it wants no more events", True) from None
            where = exc.headers.get("Location") if 300 <= exc.code < 400 else None
            moved = f" to {printable(where)[:200]} (redirects are not followed; fix the url)" if where else ""
            raise DeliveryError(f"the receiver answered HTTP {exc.code}{moved}", False) from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            text = "did not answer in time" if isinstance(reason, TimeoutError) else \
                f"cannot be reached ({printable(str(getattr(reason, 'strerror', None) or reason))})"
            raise DeliveryError(f"the receiver {text}", False) from None
        except TimeoutError:
            raise DeliveryError("the receiver did not answer in time", False) from None
        except (OSError, http.client.HTTPException) as exc:  # HTTPException: the deadline cut the answer short
            said = str(getattr(exc, "strerror", None) or exc) or type(exc).__name__
            raise DeliveryError(f"the receiver cannot be reached ({printable(said)})", False) from None
        if not 200 <= status < 300:
            raise DeliveryError(f"the receiver answered HTTP {status}", False)


def _slack_escape(text: object) -> str:
    # Slack's mrkdwn: <...> is a link or a mention, so a requester's name could otherwise ping @channel or
    # show a link of their choosing.
    return printable(str(text)).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_text(event: Mapping[str, Any]) -> str:
    """One readable paragraph for a chat channel, from a queued event."""
    data: Mapping[str, Any] = event.get("data") or {}

    def value(key: str) -> str:
        raw = data.get(key)
        if isinstance(raw, list | tuple):
            return ", ".join(_slack_escape(entry) for entry in raw) or "nothing"
        return _slack_escape(raw) if raw not in (None, "") else ""

    who = value("email") or "someone"
    if value("name"):
        who = f"{value('name')} ({who})"
    if value("company"):
        who = f"{who} of {value('company')}"
    kind = str(event.get("type", ""))
    if kind == "access_request.received":
        text = f"Access request: {who} asks for {value('documents')}."
        if value("request_id"):
            text += f" Request {value('request_id')}."
    elif kind == "access_request.approved":
        text = f"Access approved for {who}: {value('granted') or value('documents')}"
        text += f", until {value('expires')}" if value("expires") else ""
        text += f" (by {value('by')})." if value("by") else "."
    elif kind == "access_request.denied":
        text = f"Access denied to {who}"
        text += f" by {value('by')}" if value("by") else ""
        text += f": {value('reason')}." if value("reason") else "."
    elif kind == "grant.revoked":
        what = f"Grant {value('grant_id')}" if value("grant_id") else f"Link {value('link_id')}"
        text = f"{what} for {who} revoked" if data.get("email") else f"{what} revoked"
        text += f" by {value('by')}" if value("by") else ""
        text += f": {value('reason')}." if value("reason") else "."
    elif kind == "document.downloaded":
        text = f"{who} downloaded {value('document')}."
    else:
        facts = "; ".join(f"{_slack_escape(key)}: {value(key)}" for key in sorted(data) if value(key))
        text = f"{_slack_escape(kind)}: {facts}" if facts else _slack_escape(kind)
    return f"Trust center: {text}"


# ---------------------------------------------------------------- the worker


class Worker:
    """Delivers the outbox: `deliver_due()` once (CLI commands, tests), or threads (`start()`), one per kind of
    row, that deliver when woken (after each request that may have queued something), when the next row falls
    due, and at least every MAX_SLEEP_SECONDS (rows queued by another gate instance or a CLI command). One thread
    per kind, because a webhook receiver is someone else's server: one that answers slowly or not at all must
    not hold up the e-mail that confirms a request, signs staff in or carries a grant.

    With a webhook transport, the worker knows the endpoints, so it fans out the events queued for every endpoint
    (`outbox.BROADCAST`); without one it leaves them, and every webhook row, to a worker that has them. With
    `purge`, its threads also delete what the gate no longer keeps (`retention.py`), once an hour."""

    def __init__(self, outbox: Outbox, mail_transport: MailTransport | None,
                 webhook_transport: WebhookTransport | None, *,
                 purge: Callable[[], retention.Purged] | None = None) -> None:
        self.outbox = outbox
        self.transports: dict[Kind, MailTransport | WebhookTransport] = {}
        if mail_transport is not None:
            self.transports[Kind.MAIL] = mail_transport
        if webhook_transport is not None:
            self.transports[Kind.WEBHOOK] = webhook_transport
        self._wakes = {kind: threading.Event() for kind in self.transports}
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._busy = 0  # threads in a pass
        self._busy_lock = threading.Lock()
        self.idle = threading.Event()  # set while every thread sleeps between passes (tests wait for it)
        self._purge = purge
        self._purge_lock = threading.Lock()
        self._purged_at = float("-inf")  # time.monotonic() of the last purge

    # ------------------------------------------------ one pass

    def deliver_due(self, kinds: Iterable[Kind] | None = None) -> int:
        """Fan out the webhook events this worker can (see the class), then claim the due rows of every kind it
        can deliver (or of `kinds`) one at a time, deliver each and record the outcome; returns how many were
        delivered."""
        delivered = 0
        for kind in self.transports if kinds is None else kinds:
            transport = self.transports[kind]
            if kind is Kind.WEBHOOK:
                self.fan_out()
            for _ in range(MAX_PER_PASS):
                if not self._due(kind, broadcast=False):  # a read: a wake with nothing due writes nothing
                    break
                item = self.outbox.claim(kind)
                if item is None:
                    break
                delivered += self._deliver(item, transport)
        return delivered

    def _due(self, kind: Kind, *, broadcast: bool | None = None) -> bool:
        due = self.outbox.next_due(kind, broadcast=broadcast)
        return due is not None and _moment(due) <= dt.datetime.now(dt.UTC)

    def fan_out(self) -> None:
        """Each event queued for every endpoint becomes one row per endpoint that wants its type (none: the
        event is done, no endpoint of this gate wants it). Nothing without a webhook transport."""
        transport = self.transports.get(Kind.WEBHOOK)
        if not isinstance(transport, WebhookTransport):
            return
        for _ in range(MAX_PER_PASS):
            if not self._due(Kind.WEBHOOK, broadcast=True):
                return
            item = self.outbox.claim(Kind.WEBHOOK, broadcast=True)
            if item is None:
                return
            if not item.authentic:
                self._refuse_changed(item)
                continue
            targets = webhooks.wanting(transport.endpoints.values(), item.subject)
            made = self.outbox.fan_out(item, targets)
            if made is not None:
                logger.info("outbox %d: %s queued for %s", item.id, printable(item.subject)[:60],
                            ", ".join(f"{target} (outbox {made_id})" for target, made_id in zip(targets, made,
                                                                                             strict=True))
                            or "no endpoint (none wants it)")

    def _refuse_changed(self, item: Item) -> None:
        # Written or changed in the database by someone without the key: a link sent elsewhere, a message or an
        # event the gate never made. Never delivered; someone has to look at the database.
        self.outbox.failed_attempt(item, "not sent: the row was changed in the database after the gate queued it "
                                         "(its MAC does not match)", permanent=True)
        logger.error("outbox %d: %s to %s NOT sent: the row was changed in the database after it was queued; the "
                     "database cannot be trusted", item.id, item.kind.value, printable(item.target)[:200])

    def _deliver(self, item: Item, transport: MailTransport | WebhookTransport) -> int:
        target = printable(item.target)[:200]
        if not item.authentic:
            self._refuse_changed(item)
            return 0
        if item.expired:
            # The confirmation, sign-in or grant link in it no longer works: a message that only disappoints.
            if self.outbox.expired(item):
                logger.warning("outbox %d: %s to %s not sent: %s", item.id, item.kind.value, target, EXPIRED)
            return 0
        try:
            transport.send(item)
        except DeliveryError as error:
            gave_up = self.outbox.failed_attempt(item, error.message, permanent=error.permanent)
            attempt = item.attempts + 1
            if gave_up is None:
                # The claim lapsed while this attempt hung, and another worker took the row: its outcome stands.
                logger.warning("outbox %d: %s to %s not delivered by this worker (%s) after its claim lapsed; "
                               "another worker's record of it stands", item.id, item.kind.value, target,
                               error.message)
            elif gave_up:
                logger.error("outbox %d: gave up on %s to %s after %d attempt(s): %s", item.id, item.kind.value,
                             target, attempt, error.message)
            else:
                logger.log(logging.ERROR if error.configuration else logging.WARNING,
                           "outbox %d: %s to %s not delivered (attempt %d; will retry): %s", item.id,
                           item.kind.value, target, attempt, error.message)
            return 0
        except Exception as error:  # a bug in a transport must not stop the worker, nor lose the row
            logger.error("outbox %d: %s to %s failed unexpectedly (%s); will retry", item.id, item.kind.value,
                         target, type(error).__name__, exc_info=error)
            self.outbox.failed_attempt(item, f"unexpected failure ({type(error).__name__})")
            return 0
        if not self.outbox.delivered(item):
            # Sent, but the claim had lapsed and another worker took the row: its outcome stands, not this one.
            logger.warning("outbox %d: %s to %s delivered after its claim lapsed; another worker's record of it "
                           "stands", item.id, item.kind.value, target)
            return 0
        logger.info("outbox %d: %s to %s delivered", item.id, item.kind.value, target)
        return 1

    def purge_if_due(self) -> retention.Purged | None:
        """Purge (see the class) if an hour has passed since the last purge; what was purged, or None."""
        if self._purge is None:
            return None
        with self._purge_lock:
            if time.monotonic() - self._purged_at < retention.PURGE_SECONDS:
                return None
            self._purged_at = time.monotonic()
        purged = self._purge()
        if purged.total:
            logger.info("retention: %s", purged.summary())
        return purged

    # ------------------------------------------------ the threads

    def start(self) -> None:
        if self._threads:
            return
        if Kind.MAIL not in self.transports:
            logger.warning("no mail server is configured (%s): e-mail stays in the outbox until one is",
                           SMTP_URL_ENV)
        self._stopping.clear()
        with self._busy_lock:
            self._busy = len(self.transports)
            if self._busy:
                self.idle.clear()
            else:
                self.idle.set()
        self._threads = [threading.Thread(target=self._run, args=(kind,), name=f"trustcenter-outbox-{kind.value}",
                                          daemon=True) for kind in self.transports]
        for thread in self._threads:
            thread.start()

    def wake(self) -> None:
        """Deliver soon: something may have been queued. Cheap enough to call after every request."""
        for event in self._wakes.values():
            event.set()

    def stop(self, timeout: float = 2 * SMTP_TIMEOUT_SECONDS) -> None:
        """Stop the threads after the deliveries in progress (rows not reached stay due, for the next start)."""
        if not self._threads:
            return
        self._stopping.set()
        self.wake()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []

    def _run(self, kind: Kind) -> None:
        wake = self._wakes[kind]
        while not self._stopping.is_set():
            wake.clear()  # before the pass: a wake during it makes the next wait return at once
            try:
                self.deliver_due([kind])
                self.purge_if_due()
                wait = self._seconds_to_next(kind)
            except Exception as error:  # the database away for a moment: try again, never die
                logger.error("the outbox worker (%s) could not deliver (%s); trying again in %.0f s", kind.value,
                             getattr(error, "message", None) or type(error).__name__, MAX_SLEEP_SECONDS)
                wait = MAX_SLEEP_SECONDS
            self._rest(True)
            wake.wait(wait)
            self._rest(False)

    def _rest(self, resting: bool) -> None:
        with self._busy_lock:
            self._busy += -1 if resting else 1
            if self._busy == 0:
                self.idle.set()
            else:
                self.idle.clear()

    def _seconds_to_next(self, kind: Kind) -> float:
        now = dt.datetime.now(dt.UTC)
        due = self.outbox.next_due(kind)  # a thread's kind has a transport: its broadcast rows are its to fan out
        # A row still due after a pass is another worker's claim (or beyond this pass): look again soon.
        wait = (_moment(due) - now).total_seconds() if due is not None else MAX_SLEEP_SECONDS
        return max(0.05, min(MAX_SLEEP_SECONDS, wait if wait > 0 else MAX_SLEEP_SECONDS))


def _moment(stamp: str) -> dt.datetime:
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def mail_transport(settings: MailSettings | None) -> MailTransport | None:
    """The transport the settings ask for: the console (the demo), an SMTP server, or none. Raises
    GateConfigError for a URL that cannot work, so a gate does not start on it."""
    if settings is None:
        return None
    if settings.console_dir is not None:
        return ConsoleTransport(settings.console_dir)
    if settings.smtp_url:
        return SmtpTransport(settings)
    return None


def worker_for(outbox: Outbox, mail: MailSettings | None, endpoints: Iterable[Endpoint] | None) -> Worker:
    """A worker for a CLI command. `endpoints` None: no webhooks file is configured, so webhook rows wait for the
    gate (rather than fail as 'no longer configured', or be fanned out to nothing, because a shell lacks
    TRUSTCENTER_WEBHOOKS)."""
    transport = WebhookTransport(endpoints) if endpoints is not None else None
    return Worker(outbox, mail_transport(mail), transport)


# ---------------------------------------------------------------- `trustcenter outbox`


def retry_and_deliver(outbox: Outbox, item_id: int | None = None,
                      environ: Mapping[str, str] | None = None) -> list[str]:
    """`trustcenter outbox --retry`: make failed and waiting rows (or one) due again, then one delivery pass with
    the mail server and webhooks of the environment. Returns what to tell the user."""
    env = dict(os.environ) if environ is None else dict(environ)
    # Both read before anything changes: a configuration that cannot work is an error, not a pass that fails.
    worker = worker_for(outbox, MailSettings.from_env(env), webhooks.configured_endpoints(env))
    due = outbox.retry(item_id)
    delivered = worker.deliver_due()
    lines = [f"{due} message(s) due again; {delivered} delivered now"]
    waiting = {item.kind for item in outbox.items(pending_only=True) if item.failed is None}
    if Kind.MAIL in waiting and Kind.MAIL not in worker.transports:
        lines.append(f"note: {SMTP_URL_ENV} is not set, so e-mail stays queued; set it (and TRUSTCENTER_MAIL_FROM) "
                     "and run this again, or let the gate send it")
    if Kind.WEBHOOK in waiting and Kind.WEBHOOK not in worker.transports:
        lines.append(f"note: {webhooks.WEBHOOKS_ENV} is not set, so webhook events stay queued; set it to the "
                     "gate's webhooks file and run this again, or let the gate send them")
    return lines


OUTBOX_COLUMNS = ("id", "created (UTC)", "kind", "target", "subject", "status", "attempts", "last error")
_OUTBOX_WIDTHS = (10, 19, 7, 40, 40, 7, 8, 80)


def format_items(items: Iterable[Item], style: str) -> str:
    """The outbox as a table or JSON: what, to whom, how it went; never a body (bodies carry tokens). A webhook
    event not yet fanned out to the endpoints is shown with the target "*"."""
    rows = [{"id": item.id, "created": item.created, "kind": item.kind.value, "target": item.target,
             "subject": item.subject, "status": item.status, "attempts": item.attempts,
             "next_attempt": None if item.sent or item.failed else item.next_attempt, "expires": item.expires,
             "sent": item.sent, "failed": item.failed, "last_error": item.last_error} for item in items]
    if style == "json":
        return json.dumps(rows, indent=2, ensure_ascii=False)
    if not rows:
        return "the outbox is empty"
    return table(OUTBOX_COLUMNS, [
        (row["id"], str(row["created"]).replace("T", " ")[:19], row["kind"],
         "* (every endpoint)" if row["target"] == BROADCAST else row["target"], row["subject"], row["status"],
         row["attempts"], row["last_error"]) for row in rows], _OUTBOX_WIDTHS)
