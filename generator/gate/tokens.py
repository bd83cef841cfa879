"""Link tokens: a signed, expiring JWT for one recipient and document, minted and verified.

The token is a standard JWT (PyJWT on cryptography), EdDSA over Ed25519 with a `kid` header looked
up in a fixed table of trusted keys. `link create` runs on the sales person's machine and must
answer fast, so this module imports neither the content model (pydantic) nor MkDocs, Flask or
pikepdf, and PyJWT only when it mints or verifies.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import hashlib
import json
import re
import secrets
import threading
from collections.abc import Container, Mapping
from typing import TYPE_CHECKING, Any

from generator.gate.refusals import ExpiredLink, InvalidLink

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALGORITHM = "EdDSA"
AUDIENCE = "trustcenter-gate"  # tokens made for anything else signed with the same key are refused
LEEWAY_SECONDS = 30
MAX_TOKEN_CHARS = 4096  # real links are ~600 characters; anything longer is refused before parsing
MAX_DOWNLOADS_LIMIT = 100
MAX_COMPANY_CHARS = 200
VERIFIED_TOKENS_KEPT = 4096  # ~600 characters each: a few MB at most

_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}")  # fullmatch: no "\n"
LINK_ID_RE = re.compile(r"[A-Za-z0-9_-]{8,64}")  # used with fullmatch
# The same patterns as generator.content.model (checked equal by a test); copied so `link create` need not
# import the pydantic model, which alone takes longer than the whole command may.
DOCUMENT_ID_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
EMAIL_RE = re.compile(r"^[^\s@<>\"(),;:]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_HEADER_FIELDS = frozenset({"alg", "typ", "kid"})  # jku, x5u, jwk, x5c, crit...: refused, never followed
_CLAIMS = ("iss", "aud", "sub", "doc", "company", "iat", "nbf", "exp", "jti", "max_downloads", "nda_on_file")


# ---------------------------------------------------------------- the link


@dataclasses.dataclass(frozen=True)
class Link:
    link_id: str
    document_id: str
    recipient: str
    company: str
    issued_at: dt.datetime
    expires_at: dt.datetime
    max_downloads: int
    nda_on_file: bool

    def claims(self, issuer: str) -> dict[str, Any]:
        issued = int(self.issued_at.timestamp())
        return {
            "iss": issuer,
            "aud": AUDIENCE,
            "sub": self.recipient,
            "doc": self.document_id,
            "company": self.company,
            "iat": issued,
            "nbf": issued,
            "exp": int(self.expires_at.timestamp()),
            "jti": self.link_id,
            "max_downloads": self.max_downloads,
            "nda_on_file": self.nda_on_file,
        }


def new_link_id() -> str:
    return secrets.token_urlsafe(12)


def mint(link: Link, *, private_key: Ed25519PrivateKey, kid: str, issuer: str) -> str:
    """The signed token for a link."""
    import jwt

    return jwt.encode(link.claims(issuer), private_key, algorithm=ALGORITHM, headers={"kid": kid, "typ": "JWT"})


def fingerprint(token: str) -> str:
    """A short, non-reversible name for a token, so the audit can correlate attempts without storing it."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()[:16]


def verify(token: str, *, keys: Mapping[str, Ed25519PublicKey], issuer: str, gated_documents: Container[str],
           max_lifetime: dt.timedelta, leeway: int = LEEWAY_SECONDS) -> Link:
    """The link a token stands for, or InvalidLink / ExpiredLink. Revocation and downloads are the gate's part."""
    signed = _verified.get(token, keys, issuer, leeway)
    link = signed if signed is not None else _verify_signed(token, keys=keys, issuer=issuer, leeway=leeway)
    if link.expires_at - link.issued_at > max_lifetime + dt.timedelta(seconds=leeway):
        raise InvalidLink("lifetime longer than the maximum", link)
    if link.document_id not in gated_documents:
        raise InvalidLink("document unknown or not gated", link)
    if link.expires_at <= dt.datetime.now(dt.UTC) - dt.timedelta(seconds=leeway):
        raise ExpiredLink(link)
    return link


def _verify_signed(token: str, *, keys: Mapping[str, Ed25519PublicKey], issuer: str, leeway: int) -> Link:
    """What `verify` checks that depends only on the token and the key it names: form, header, signature, issuer,
    audience, claims. Remembered on success (`_verified`); the expiry, lifetime and document are judged by `verify`
    on every request, since they depend on the time and on the gate's content."""
    import jwt

    if len(token) > MAX_TOKEN_CHARS:
        raise InvalidLink(f"token of {len(token)} characters, over the {MAX_TOKEN_CHARS} limit")
    if not _TOKEN_RE.fullmatch(token):
        raise InvalidLink("not a JWT")
    header = _header(token)
    if set(header) - _HEADER_FIELDS:
        raise InvalidLink(f"header fields not accepted: {sorted(set(header) - _HEADER_FIELDS)}")
    if header.get("alg") != ALGORITHM:
        raise InvalidLink(f"algorithm {str(header.get('alg'))[:20]!r} is not {ALGORITHM}")
    kid = header.get("kid")
    # The kid is only ever a key into this dict: never a path, never a query.
    if not isinstance(kid, str) or kid not in keys:
        raise InvalidLink("unknown key id")
    # Every check but the expiry in one decode; the expiry is judged last, below, so that only a link
    # that is right in every other way is answered "expired" (410) rather than generically (403).
    options: jwt.types.Options = {"require": list(_CLAIMS), "verify_exp": False}
    try:
        decoded = jwt.decode_complete(token, keys[kid], algorithms=[ALGORITHM], audience=AUDIENCE, issuer=issuer,
                                      leeway=leeway, options=options)
    except jwt.PyJWTError as exc:
        raise InvalidLink(f"{type(exc).__name__}: {str(exc)[:120]}") from None
    if decoded["header"] != header:  # the header the key was chosen by is the one that was verified
        raise InvalidLink("header read differently by PyJWT")
    claims: dict[str, Any] = decoded["payload"]
    link = _link_from(claims)
    if claims["iss"] != issuer or claims["aud"] != AUDIENCE:
        raise InvalidLink("wrong issuer or audience", link)
    _verified.put(token, kid, keys[kid], issuer, leeway, link)
    return link


@dataclasses.dataclass(frozen=True)
class _Verified:
    kid: str
    key: Ed25519PublicKey
    issuer: str
    leeway: int
    link: Link


class _VerifiedTokens:
    """The tokens whose signature and claims were verified lately, so that a link opened again (the NDA page, the
    acceptance, the download: three requests a visit) is not verified three times: an Ed25519 verification and
    PyJWT's reading of the token were a third of the NDA page's CPU time (docs/performance.md).

    A hit needs the very same token text, and the key its kid names now to be the very key object that verified
    it: a reload of trust/keys/ makes new key objects, so a removed or replaced key invalidates what it verified.
    Only successes are kept (a forged token costs its verification every time, and the throttle counts it). What
    PyJWT checked against the clock (iat, nbf not in the future) stays true as time goes on; the expiry is judged
    on every request. Bounded: the oldest entry goes when full."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: dict[str, _Verified] = {}
        self._lock = threading.Lock()

    def get(self, token: str, keys: Mapping[str, Ed25519PublicKey], issuer: str, leeway: int) -> Link | None:
        entry = self._entries.get(token)
        if entry is None or keys.get(entry.kid) is not entry.key or entry.issuer != issuer or entry.leeway != leeway:
            return None
        return entry.link

    def put(self, token: str, kid: str, key: Ed25519PublicKey, issuer: str, leeway: int, link: Link) -> None:
        with self._lock:
            self._entries.pop(token, None)
            while len(self._entries) >= self._size:
                del self._entries[next(iter(self._entries))]
            self._entries[token] = _Verified(kid, key, issuer, leeway, link)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_verified = _VerifiedTokens(VERIFIED_TOKENS_KEPT)


def _header(token: str) -> dict[str, Any]:
    """The token's header, read to choose the key, before anything is verified (PyJWT then reads the token whole,
    once, and verifies it; `verify` checks it read the same header). Not `jwt.get_unverified_header`: that reads
    and checks every segment of the token (each character in a Python loop), which the verification then does
    again."""
    segment = token.partition(".")[0]  # `verify` has already checked the token's alphabet and form
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, binascii.Error, RecursionError):
        raise InvalidLink("unreadable header") from None
    if not isinstance(header, dict):
        raise InvalidLink("unreadable header")
    return header


def _link_from(claims: dict[str, Any]) -> Link:
    """The claims as a Link, after checking each has the type and form we mint."""
    def text(name: str, pattern: re.Pattern[str] | None = None, limit: int = 254) -> str:
        value = claims.get(name)
        if not isinstance(value, str) or not value or len(value) > limit or CONTROL_RE.search(value):
            raise InvalidLink(f"claim {name} malformed")
        if pattern is not None and not pattern.match(value):
            raise InvalidLink(f"claim {name} malformed")
        return value

    def number(name: str) -> int:
        value = claims.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**40:
            raise InvalidLink(f"claim {name} malformed")
        return value

    max_downloads = number("max_downloads")
    if not 1 <= max_downloads <= MAX_DOWNLOADS_LIMIT or not isinstance(claims.get("nda_on_file"), bool):
        raise InvalidLink("claim max_downloads or nda_on_file malformed")
    return Link(
        link_id=text("jti", LINK_ID_RE),
        document_id=text("doc", DOCUMENT_ID_RE),
        recipient=text("sub", EMAIL_RE),
        company=text("company", limit=MAX_COMPANY_CHARS),
        issued_at=dt.datetime.fromtimestamp(number("iat"), dt.UTC),
        expires_at=dt.datetime.fromtimestamp(number("exp"), dt.UTC),
        max_downloads=max_downloads,
        nda_on_file=claims["nda_on_file"],
    )


