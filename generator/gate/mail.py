"""The gate's e-mails: written from templates (plain text and HTML), made into RFC 5322 messages, queued in the
outbox inside the transaction of the change they report. Delivery is `delivery.py`'s.

Every value in a message comes from the gate or from a visitor's form: the HTML part is autoescaped, and the
headers are built by the standard library's `email` package with the SMTP policy, which refuses CR and LF in
a header value (no header injection through a name or a company).

Dates and times in a message are written by `when` from our own table of English month names, in UTC and
saying so: the host's locale (`%B`) must not turn "25 November 2026" into another language, nor the reader
guess the time zone of an expiry.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.policy
import email.utils
import functools
import re
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2

from generator.gate.db import Tx
from generator.gate.outbox import Kind, Outbox

TEMPLATES = Path(__file__).parent / "templates" / "mail"
SMTP_URL_ENV = "TRUSTCENTER_SMTP_URL"
MAIL_FROM_ENV = "TRUSTCENTER_MAIL_FROM"
SMTP_CA_FILE_ENV = "TRUSTCENTER_SMTP_CA_FILE"
_LINE_BREAKS = re.compile(r"[\r\n\x0b\x0c\x85\u2028\u2029]")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")


@dataclasses.dataclass(frozen=True)
class Mail:
    """One message to one person: which template, with what, and (for subscribers) how to unsubscribe."""

    to: str
    subject: str
    template: str  # templates/mail/<template>.txt, and .html if there is one
    context: dict[str, Any]
    unsubscribe: str | None = None  # a one-click unsubscribe URL (RFC 8058), for messages to subscribers


@dataclasses.dataclass(frozen=True)
class Sender:
    """Who the gate's messages come from: an address, and the company's name to show with it."""

    address: str
    name: str

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2]


@dataclasses.dataclass(frozen=True)
class MailSettings:
    """How the gate sends mail: an SMTP server (`smtp://` with STARTTLS when offered, `smtps://` for implicit TLS),
    or, for the demo, the console (each message printed, and written as a .eml file to `console_dir`)."""

    smtp_url: str | None = None
    sender: str | None = None  # TRUSTCENTER_MAIL_FROM; default: trust@ the trust center's domain
    ca_file: Path | None = None  # a CA bundle for the server's certificate, if not the system's
    console_dir: Path | None = None  # the demo: print instead of sending

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> MailSettings | None:
        """From TRUSTCENTER_SMTP_URL, TRUSTCENTER_MAIL_FROM and TRUSTCENTER_SMTP_CA_FILE; None without a URL."""
        import os

        env = dict(os.environ) if environ is None else environ
        url = env.get(SMTP_URL_ENV, "").strip()
        if not url:
            return None
        ca_file = env.get(SMTP_CA_FILE_ENV, "").strip()
        return cls(smtp_url=url, sender=env.get(MAIL_FROM_ENV, "").strip() or None,
                   ca_file=Path(ca_file) if ca_file else None)


def sender_address(settings: MailSettings, trust_center_url: str) -> str:
    """Whom the gate's messages come from: TRUSTCENTER_MAIL_FROM, else trust@ the trust center's host."""
    return settings.sender or f"trust@{urlsplit(trust_center_url).hostname}"


def sender_for(settings: MailSettings | None, company_name: str, trust_center_url: str) -> Sender | None:
    """The sender of the gate's (or a CLI command's) messages; None when no mail is configured."""
    if settings is None:
        return None
    return Sender(sender_address(settings, trust_center_url), company_name)


def when(moment: dt.datetime | dt.date | str) -> str:
    """A date, or a time, for a reader: "25 November 2026", "25 November 2026, 16:20 UTC". Text passes as it
    is (a template given a date already written)."""
    if isinstance(moment, str):
        return moment
    if not isinstance(moment, dt.datetime):
        return f"{moment.day} {MONTHS[moment.month - 1]} {moment.year}"
    utc = moment.astimezone(dt.UTC) if moment.tzinfo is not None else moment
    return f"{utc.day} {MONTHS[utc.month - 1]} {utc.year}, {utc:%H:%M} UTC"


@functools.cache
def _environment(autoescape: bool) -> jinja2.Environment:
    # Plain-text parts are not HTML: escaping them would show &amp; to the reader. HTML parts autoescape.
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=autoescape,  # noqa: S701
                                     undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    environment.filters["when"] = when
    return environment


def one_line(text: str, limit: int = 200) -> str:
    """A visitor's text made safe for a subject or a display name: one line, bounded."""
    return " ".join(_LINE_BREAKS.sub(" ", text).split())[:limit]


def message(mail: Mail, sender: Sender) -> EmailMessage:
    """The message: plain text and HTML (every template has both), Message-ID at the sender's domain, Date,
    and List-Unsubscribe with one-click POST where `mail.unsubscribe` is set."""
    context = {**mail.context, "sender_name": sender.name, "unsubscribe": mail.unsubscribe}
    text = _environment(False).get_template(f"{mail.template}.txt").render(context)
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = Address(display_name=one_line(sender.name), addr_spec=sender.address)
    msg["To"] = mail.to
    msg["Subject"] = one_line(mail.subject, 250)
    msg["Date"] = email.utils.formatdate(usegmt=True)
    msg["Message-ID"] = email.utils.make_msgid(domain=sender.domain)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to it
    if mail.unsubscribe is not None:
        msg["List-Unsubscribe"] = f"<{mail.unsubscribe}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(text, cte="quoted-printable")
    html = _environment(True).get_template(f"{mail.template}.html").render(context)
    msg.add_alternative(html, subtype="html", cte="quoted-printable")
    return msg


def queue(outbox: Outbox, tx: Tx, mail: Mail, sender: Sender, *, expires: dt.datetime | str | None = None) -> int:
    """Queue the message in the caller's transaction; returns its outbox id. `expires`: when the link in it
    stops working (the message is not sent after that)."""
    built = message(mail, sender)
    return outbox.enqueue(tx, Kind.MAIL, mail.to, str(built["Subject"]), built.as_bytes(), expires=expires)
