"""`trustcenter link create`: check a request against the content, sign it, print the personal URL.

Runs on the sales person's machine and must answer fast: it reads two content files with the safe
YAML reader (no pydantic model, no MkDocs, no Flask).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from generator.content.project import Project
from generator.errors import CannotCreateLink
from generator.gate.tokens import CONTROL_RE, EMAIL_RE, MAX_COMPANY_CHARS, MAX_DOWNLOADS_LIMIT, Link, mint, new_link_id

DEFAULT_LIFETIME_DAYS = 14
DEFAULT_MAX_DOWNLOADS = 5
_DURATION_RE = re.compile(r"^(\d{1,4})([hdw])$")


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

    @property
    def host(self) -> str:
        """The host the URL leads to, printed so that a changed gate_url is noticed by whoever sends links."""
        return urlsplit(self.url).netloc

    def as_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "host": self.host,
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


def create(project: Project, request: LinkRequest, *, private_key_path: Path, gate_url: str | None = None,
           now: dt.datetime | None = None) -> CreatedLink:
    """Check the request against the content, sign it, and return the personal URL."""
    from generator.gate import keys

    settings = _read_settings(project)
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
    if not company or len(company) > MAX_COMPANY_CHARS or CONTROL_RE.search(company):
        raise CannotCreateLink(f"the company name must be 1 to {MAX_COMPANY_CHARS} characters of text")
    if not 1 <= request.max_downloads <= MAX_DOWNLOADS_LIMIT:
        raise CannotCreateLink(f"--max-downloads must be between 1 and {MAX_DOWNLOADS_LIMIT}")
    expires_at = parse_expiry(request.expires, now=now, max_days=settings.link_max_days)
    base = _gate_base(gate_url or settings.gate_url)
    private_key = keys.load_private_key(private_key_path)
    # Demo keys included: the gate, not `link create`, decides which keys it trusts.
    kid = keys.kid_of(private_key, keys.load_trusted_keys(project, include_demo=True))
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
    from generator.content.urls import gate_url_problem

    if not url:
        raise CannotCreateLink("trust/company.yaml has no gate_url; add it, or pass --gate-url")
    url = url.strip().rstrip("/")
    problem = gate_url_problem(url)
    if problem is not None:
        raise CannotCreateLink(f"the gate URL '{url[:80]}' {problem}")
    return url


def _read_settings(project: Project) -> _Settings:
    company = _read_mapping(project, "company.yaml")
    documents = _read_mapping(project, "documents.yaml").get("documents")
    issuer, gate_url, max_days = company.get("trust_center_url"), company.get("gate_url"), company.get("link_max_days", 30)
    if not isinstance(issuer, str) or not (gate_url is None or isinstance(gate_url, str)):
        raise CannotCreateLink(f"{project.content_path('company.yaml')} is not valid; run `trustcenter check`")
    if not isinstance(max_days, int) or isinstance(max_days, bool) or not 1 <= max_days <= 365:
        raise CannotCreateLink(f"link_max_days in {project.content_path('company.yaml')} is not valid; run "
                               "`trustcenter check`")
    if not isinstance(documents, list) or not all(isinstance(d, dict) for d in documents):
        raise CannotCreateLink(f"{project.content_path('documents.yaml')} is not valid; run `trustcenter check`")
    gated = frozenset(str(d.get("id")) for d in documents if d.get("access") == "gated")
    public = frozenset(str(d.get("id")) for d in documents if d.get("access") == "public")
    return _Settings(issuer.strip(), gate_url, max_days, gated, public)


def _read_mapping(project: Project, name: str) -> dict[str, Any]:
    # The safe reader (size, depth, aliases, duplicate keys) without the model: link create stays fast.
    from generator.content.reader import parse_yaml
    from generator.content.source import WorkTree

    raw = WorkTree(project).read(name)
    display = project.content_path(name)
    if raw is None:
        raise CannotCreateLink(f"{display} is missing; run the command from the project root (or pass --project)")
    data, _, problems = parse_yaml(raw, display)
    if problems:
        raise CannotCreateLink(f"{problems[0]}; run `trustcenter check`")
    if not isinstance(data, dict):
        raise CannotCreateLink(f"{display} is not valid; run `trustcenter check`")
    return data


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
