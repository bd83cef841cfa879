"""What every form of the gate reads the same way: e-mail addresses, one-line names, free text, the honeypot, who
is asking. One place, so the request form, the NDA, the staff sign-in and subscriptions cannot drift apart.

(The CSRF token and Origin check every form's POST passes are `access.check_form`.)
"""

from __future__ import annotations

import re

import email_validator
import flask

from generator.gate.desk import Visitor

MAX_EMAIL_CHARS = 254  # RFC 5321's limit for a forward path
MAX_LINE_CHARS = 200  # a name, a company
MAX_USER_AGENT_CHARS = 300
TRAP_FIELD = "website"  # the honeypot: hidden from people, assistive technology and autofill; bots fill it
# Control characters (C0 but tab, C1) and the Unicode line and paragraph separators: never part of a name or an
# address, and the way a header or a log line is broken.
CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


class AddressError(ValueError):
    """Why a typed e-mail address is refused, in words for the form."""


def normalize_address(typed: str) -> str:
    """The address as the gate keeps, compares and mails it: checked by email-validator (syntax, IDNA; no DNS,
    which would be network at run time), the domain in its ASCII form (a look-alike Unicode domain shows as
    xn--...), all in lower case ("Jane@X" and "jane@x" are one person to every mail system the gate meets)."""
    value = typed.strip()
    if not value:
        raise AddressError("Enter your e-mail address.")
    if CONTROL.search(value) or "\t" in value:
        raise AddressError("Enter one e-mail address, on one line, like name@company.com.")
    if len(value) > MAX_EMAIL_CHARS:
        raise AddressError(f"Enter an e-mail address of at most {MAX_EMAIL_CHARS} characters.")
    try:
        checked = email_validator.validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except email_validator.EmailNotValidError:
        raise AddressError("Enter a valid e-mail address, like name@company.com.") from None
    return (checked.ascii_email or checked.normalized).lower()


def one_line(value: str) -> str:
    """A name or a company as typed, with its runs of spaces made one."""
    return " ".join(value.split())


def line_error(value: str, label: str, limit: int = MAX_LINE_CHARS) -> str | None:
    """What is wrong with a one-line field (`label`: "your full name"), or None."""
    if not value:
        return f"Enter {label}."
    if len(value) > limit or CONTROL.search(value):
        return f"Enter {label} in at most {limit} characters, on one line."
    return None


def text_error(value: str, limit: int) -> str | None:
    """What is wrong with free text (a reason): too long, or control characters other than line breaks."""
    if len(value) > limit or re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", value):
        return f"Keep it to {limit} characters of plain text."
    return None


def bot_filled_trap() -> bool:
    """Whether the honeypot field came back filled: a bot, answered like a person, with nothing done."""
    return bool(flask.request.form.get(TRAP_FIELD, "").strip())


def visitor(client: str | None = None) -> Visitor:
    """Who sent this request, for the audit: address, network (`client`, what limits count), browser."""
    request = flask.request
    return Visitor(ip=request.remote_addr, user_agent=(request.user_agent.string or "")[:MAX_USER_AGENT_CHARS] or None,
                   browser=flask.session.get("browser"), client=client)
