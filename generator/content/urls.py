"""Which addresses content may use: link targets (http(s), mailto, within the site), and the gate's address."""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
_ALLOWED_SCHEMES = {"http", "https", "mailto"}


def safe_target(value: str) -> str | None:
    """The target as a browser would read it, or None when it is not allowed.

    Character references and invisible characters are resolved first, as browsers do
    (`&#106;avascript:` and `java\\tscript:` are `javascript:`); backslashes count as
    slashes, so `/\\evil.example` is the protocol-relative `//evil.example`.
    """
    target = re.sub(r"[\x00-\x20\x7f]", "", html.unescape(value)).replace("\\", "/")
    if target.startswith("//"):
        return None
    scheme = _SCHEME.match(target)
    if scheme and scheme[1].lower() not in _ALLOWED_SCHEMES:
        return None
    return target


def is_local(target: str) -> bool:
    """A target within the site (loads nothing from another host)."""
    return _SCHEME.match(target) is None and not target.startswith("//")


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def hidden_host_problem(url: str) -> str | None:
    """Why an http(s) address hides the host it goes to, or None. `https://trust.example@evil.example`
    goes to evil.example: a reader, and a reviewer, sees another host."""
    if url.lower().startswith(("http://", "https://")) and ("@" in urlsplit(url).netloc or "\\" in url):
        return ("has a user name or password before the host (user@host), which hides the host it really goes "
                "to; write the address without it")
    return None


def gate_url_problem(url: str) -> str | None:
    """Why an address cannot be the gate's, or None: links carry a bearer token, so https only (http on
    loopback for the demo), and nothing that hides the host."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return "must be an https:// address"
    hidden = hidden_host_problem(url)
    if hidden is not None:
        return hidden
    if parts.scheme.lower() != "https" and parts.hostname not in LOOPBACK_HOSTS:
        return ("must be an https:// address (plain http is accepted for 127.0.0.1 and localhost only): links "
                "carry a bearer token")
    if parts.query or parts.fragment:
        return "must not have a query or fragment; write the gate's base address"
    return None
