"""Document links: mint a signed, expiring JWT for one recipient, and verify one at the gate.

The token is a standard JWT (PyJWT on cryptography), EdDSA over Ed25519 with a `kid` header.
`link create` runs this module on the sales person's machine and must answer fast, so it
imports neither the content model (pydantic) nor MkDocs, Flask or pikepdf: it reads only
company.yaml and documents.yaml.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Container, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALGORITHM = "EdDSA"
AUDIENCE = "trustcenter-gate"  # tokens made for anything else signed with the same key are refused
LEEWAY_SECONDS = 30
MAX_TOKEN_CHARS = 4096  # real links are ~600 characters; anything longer is refused before parsing
DEFAULT_LIFETIME_DAYS = 14
DEFAULT_MAX_DOWNLOADS = 5
MAX_DOWNLOADS_LIMIT = 100
MAX_COMPANY_CHARS = 200

_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}")  # fullmatch: no "\n"
LINK_ID_RE = re.compile(r"[A-Za-z0-9_-]{8,64}")  # used with fullmatch
# The same patterns as generator.model (checked equal by a test); copied so `link create` need not
# import the pydantic model, which alone takes longer than the whole command may.
DOCUMENT_ID_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
EMAIL_RE = re.compile(r"^[^\s@<>\"(),;:]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")
_DURATION_RE = re.compile(r"^(\d{1,4})([hdw])$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_HEADER_FIELDS = frozenset({"alg", "typ", "kid"})  # jku, x5u, jwk, x5c, crit...: refused, never followed
_CLAIMS = ("iss", "aud", "sub", "doc", "company", "iat", "nbf", "exp", "jti", "max_downloads", "nda_on_file")


# ---------------------------------------------------------------- what can go wrong at the gate


class InvalidLink(Exception):
    """The link cannot be honoured: forged, malformed, unknown key or document. Answered 403, generically.

    `detail` says why, for the audit log only; it is never shown to the visitor.
    """

    def __init__(self, detail: str, link: Link | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.link = link  # set only once the signature is known good


class ExpiredLink(InvalidLink):
    """An authentic link past its expiry (plus leeway). Answered 410."""

    def __init__(self, link: Link) -> None:
        super().__init__(f"expired at {link.expires_at.isoformat()}", link)
        self.expired_at = link.expires_at


class RevokedLink(InvalidLink):
    """An authentic link withdrawn with `trustcenter link revoke`. Answered 410."""

    def __init__(self, link: Link, reason: str) -> None:
        super().__init__(f"revoked: {reason}", link)
        self.reason = reason


class UsedUpLink(InvalidLink):
    """An authentic link whose downloads are all used. Answered 410."""

    def __init__(self, link: Link) -> None:
        super().__init__(f"download limit of {link.max_downloads} reached", link)


class CannotCreateLink(Exception):
    """`link create` was asked for something it must refuse; the message says what to change."""


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
    import jwt

    if len(token) > MAX_TOKEN_CHARS:
        raise InvalidLink(f"token of {len(token)} characters, over the {MAX_TOKEN_CHARS} limit")
    if not _TOKEN_RE.fullmatch(token):
        raise InvalidLink("not a JWT")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise InvalidLink("unreadable header") from None
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
        claims = jwt.decode(token, keys[kid], algorithms=[ALGORITHM], audience=AUDIENCE, issuer=issuer,
                            leeway=leeway, options=options)
    except jwt.PyJWTError as exc:
        raise InvalidLink(f"{type(exc).__name__}: {str(exc)[:120]}") from None
    link = _link_from(claims)
    if claims["iss"] != issuer or claims["aud"] != AUDIENCE:
        raise InvalidLink("wrong issuer or audience", link)
    if link.expires_at - link.issued_at > max_lifetime + dt.timedelta(seconds=leeway):
        raise InvalidLink("lifetime longer than the maximum", link)
    if link.document_id not in gated_documents:
        raise InvalidLink("document unknown or not gated", link)
    if link.expires_at <= dt.datetime.now(dt.UTC) - dt.timedelta(seconds=leeway):
        raise ExpiredLink(link)
    return link


def _link_from(claims: dict[str, Any]) -> Link:
    """The claims as a Link, after checking each has the type and form we mint."""
    def text(name: str, pattern: re.Pattern[str] | None = None, limit: int = 254) -> str:
        value = claims.get(name)
        if not isinstance(value, str) or not value or len(value) > limit or _CONTROL_RE.search(value):
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


# ---------------------------------------------------------------- `link create`


@dataclasses.dataclass(frozen=True)
class LinkRequest:
    document_id: str
    recipient: str
    company: str | None = None
    expires: str | None = None  # "14d", "12h", "2w", "2026-12-24" or an ISO date-time
    max_downloads: int = DEFAULT_MAX_DOWNLOADS
    nda_on_file: bool = False


@dataclasses.dataclass(frozen=True)
class CreatedLink:
    url: str
    token: str
    link: Link
    kid: str

    def as_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "link_id": self.link.link_id,
            "document": self.link.document_id,
            "recipient": self.link.recipient,
            "company": self.link.company,
            "expires": _iso(self.link.expires_at),
            "max_downloads": self.link.max_downloads,
            "nda_on_file": self.link.nda_on_file,
            "kid": self.kid,
        }


@dataclasses.dataclass(frozen=True)
class _Settings:
    """What `link create` needs from trust/: read straight from two files, not the whole model."""

    issuer: str
    gate_url: str | None
    link_max_days: int
    gated: frozenset[str]
    public: frozenset[str]


def create(project_dir: Path, request: LinkRequest, *, private_key_path: Path, gate_url: str | None = None,
           now: dt.datetime | None = None) -> CreatedLink:
    """Check the request against trust/, sign it, and return the personal URL."""
    from generator import keys

    settings = _read_settings(project_dir)
    now = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    document_id = request.document_id.strip()
    if document_id in settings.public:
        raise CannotCreateLink(f"'{document_id}' is a public document; link to it on the trust center instead")
    if document_id not in settings.gated:
        known = ", ".join(sorted(settings.gated)) or "none"
        raise CannotCreateLink(f"there is no gated document '{document_id}' in trust/documents.yaml "
                               f"(gated documents: {known})")
    recipient = request.recipient.strip()
    if len(recipient) > 254 or not EMAIL_RE.match(recipient):
        raise CannotCreateLink(f"'{recipient[:80]}' is not an email address; write it as name@example.com")
    company = " ".join((request.company or recipient.rsplit("@", 1)[1]).split())
    if not company or len(company) > MAX_COMPANY_CHARS or _CONTROL_RE.search(company):
        raise CannotCreateLink(f"the company name must be 1 to {MAX_COMPANY_CHARS} characters of text")
    if not 1 <= request.max_downloads <= MAX_DOWNLOADS_LIMIT:
        raise CannotCreateLink(f"--max-downloads must be between 1 and {MAX_DOWNLOADS_LIMIT}")
    expires_at = parse_expiry(request.expires, now=now, max_days=settings.link_max_days)
    base = _gate_base(gate_url or settings.gate_url)
    private_key = keys.load_private_key(private_key_path)
    # Demo keys included: the gate, not `link create`, decides which keys it trusts.
    kid = keys.kid_of(private_key, keys.load_trusted_keys(project_dir, include_demo=True))
    link = Link(link_id=new_link_id(), document_id=document_id, recipient=recipient, company=company,
                issued_at=now, expires_at=expires_at, max_downloads=request.max_downloads,
                nda_on_file=request.nda_on_file)
    token = mint(link, private_key=private_key, kid=kid, issuer=settings.issuer)
    return CreatedLink(f"{base}/access/{token}", token, link, kid)


def parse_expiry(value: str | None, *, now: dt.datetime, max_days: int) -> dt.datetime:
    """When a link expires: a duration from now (14d, 12h, 2w), a date (valid through that day, UTC)
    or an ISO date-time. Refuses the past and anything beyond the company's maximum."""
    latest = now + dt.timedelta(days=max_days)
    text = (value or f"{min(DEFAULT_LIFETIME_DAYS, max_days)}d").strip()
    duration = _DURATION_RE.match(text)
    if duration:
        amount, unit = int(duration[1]), duration[2]
        expires_at = now + dt.timedelta(hours=amount) * {"h": 1, "d": 24, "w": 24 * 7}[unit]
    else:
        try:
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                expires_at = dt.datetime.combine(dt.date.fromisoformat(text) + dt.timedelta(days=1), dt.time(),
                                                 dt.UTC)
            else:
                expires_at = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
                if expires_at.tzinfo is None:
                    expires_at = expires_at.replace(tzinfo=dt.UTC)
        except ValueError:
            raise CannotCreateLink(f"--expires '{text[:40]}' is neither a duration (14d, 12h, 2w) nor a date "
                                   "(YYYY-MM-DD)") from None
    expires_at = expires_at.astimezone(dt.UTC).replace(microsecond=0)
    if expires_at <= now:
        raise CannotCreateLink(f"the expiry {_iso(expires_at)} is not in the future; choose a later one")
    if expires_at > latest:
        raise CannotCreateLink(f"links may last at most {max_days} days (link_max_days in trust/company.yaml), "
                               f"so the expiry must be no later than {_iso(latest)}")
    return expires_at


def _gate_base(url: str | None) -> str:
    if not url:
        raise CannotCreateLink("trust/company.yaml has no gate_url; add it, or pass --gate-url")
    url = url.strip().rstrip("/")
    if not re.match(r"^https?://[^\s/?#]+(/[^\s?#]*)?$", url):
        raise CannotCreateLink(f"the gate URL '{url[:80]}' must be an http(s) address without query or fragment")
    return url


def _read_settings(project_dir: Path) -> _Settings:
    trust = project_dir / "trust"
    company = _read_mapping(trust / "company.yaml")
    documents = _read_mapping(trust / "documents.yaml").get("documents")
    issuer, gate_url, max_days = company.get("trust_center_url"), company.get("gate_url"), company.get("link_max_days", 30)
    if not isinstance(issuer, str) or not (gate_url is None or isinstance(gate_url, str)):
        raise CannotCreateLink("trust/company.yaml is not valid; run `trustcenter check`")
    if not isinstance(max_days, int) or isinstance(max_days, bool) or not 1 <= max_days <= 365:
        raise CannotCreateLink("link_max_days in trust/company.yaml is not valid; run `trustcenter check`")
    if not isinstance(documents, list) or not all(isinstance(d, dict) for d in documents):
        raise CannotCreateLink("trust/documents.yaml is not valid; run `trustcenter check`")
    gated = frozenset(str(d.get("id")) for d in documents if d.get("access") == "gated")
    public = frozenset(str(d.get("id")) for d in documents if d.get("access") == "public")
    return _Settings(issuer.strip(), gate_url, max_days, gated, public)


def _read_mapping(file: Path) -> dict[str, Any]:
    # The safe reader (size, depth, aliases, duplicate keys) without the model: link create stays fast.
    from generator import yamlfile

    if not file.is_file():
        raise CannotCreateLink(f"{file} is missing; run the command from the project root (or pass --project)")
    data, _, problems = yamlfile.read_yaml(file, str(file))
    if problems:
        raise CannotCreateLink(f"{problems[0]}; run `trustcenter check`")
    if not isinstance(data, dict):
        raise CannotCreateLink(f"{file} is not valid; run `trustcenter check`")
    return data


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
