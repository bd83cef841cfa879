"""Which link targets content may use: http(s), mailto, and links within the site."""

from __future__ import annotations

import html
import re

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
