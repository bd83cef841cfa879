"""`trustcenter link create`: check a request against the content, sign it, print the personal URL; and what
became of the links minted (`link list`, the staff page).

Runs on the sales person's machine and must answer fast: it reads two content files with the safe
YAML reader (no pydantic model, no MkDocs, no Flask). Where the gate's database is on the same machine
(the gate's host, the demo), the link is recorded there as a MINTED event, so `link list` and the staff
page can show it and what became of it; a link minted elsewhere (a sales laptop) shows there too once the gate
has seen it, its expiry unknown.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from generator.content.project import Project
from generator.errors import CannotCreateLink
from generator.gate.tokens import CONTROL_RE, EMAIL_RE, MAX_COMPANY_CHARS, MAX_DOWNLOADS_LIMIT, Link, mint, new_link_id

if TYPE_CHECKING:
    from generator.gate.audit import AuditLog
    from generator.gate.db import Location

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
class Record:
    """Where `create` records the link it mints: the gate's database at `db_path` (default: the project's), if
    there is one. `create` makes one (the demo, which starts its gate on it next); `link create` never does."""

    db_path: Location | None = None
    create: bool = False
    actor: str | None = None  # who minted it, for the audit: `cli:<user>`

    def path(self, project: Project) -> Location:
        from generator.gate.db import default_location  # not settings: it would load the gate's mail templates

        return self.db_path or default_location(project.state_dir)


@dataclasses.dataclass(frozen=True)
class CreatedLink:
    url: str
    token: str
    link: Link
    kid: str
    recorded_in: Location | None = None  # the database the MINTED event went to; None: not recorded

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
            "recorded_in": None if self.recorded_in is None else str(self.recorded_in),
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
           now: dt.datetime | None = None, record: Record | None = None) -> CreatedLink:
    """Check the request against the content, sign it, and return the personal URL; with `record`, the link is
    recorded in the gate's database before it is returned, where there is one (a link recorded nowhere
    is still valid)."""
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
    # Demo keys included: the gate, not `link create`, decides which keys it trusts. Data keys are listed too, so
    # that one given here by mistake is named as what it is rather than as a key missing from trust/keys/.
    kid = keys.kid_of(private_key, keys.load_listed_keys(project))
    if kid.startswith(keys.DATA_KID_PREFIX):
        raise CannotCreateLink(f"{private_key_path} is the data-signing key {kid}: it signs the site's trust data, "
                               "and the gate never accepts a link signed with it. Sign links with a link key: make "
                               f"one with `trustcenter keys new`, then pass --private-key or set {keys.SIGNING_KEY_ENV}")
    link = Link(link_id=new_link_id(), document_id=document_id, recipient=recipient, company=company,
                issued_at=now, expires_at=expires_at, max_downloads=request.max_downloads,
                nda_on_file=request.nda_on_file)
    token = mint(link, private_key=private_key, kid=kid, issuer=settings.issuer)
    recorded_in = _record(project, link, record) if record is not None else None
    return CreatedLink(f"{base}/access/{token}", token, link, kid, recorded_in)


def _record(project: Project, link: Link, record: Record) -> Location | None:
    """The MINTED event in the gate's database, if there is one (or `record.create`); returns where it went."""
    from generator.gate import db, settings

    path = record.path(project)
    if not record.create and not db.exists(path):
        return None
    from generator.gate.audit import Event, Kind

    log = settings.open_log(project, path, create=record.create)
    try:
        log.record(Event(Kind.MINTED, link_id=link.link_id, recipient=link.recipient, document=link.document_id,
                         company=link.company, actor=record.actor, detail=minted_detail(link)))
    finally:
        log.close()
    return path


# ---------------------------------------------------------------- what became of the links minted


def minted_detail(link: Link) -> str:
    """A MINTED event's detail: readable in `trustcenter audit`, and read back by `minted_links`."""
    return (f"expires={_iso(link.expires_at)} max_downloads={link.max_downloads} "
            f"nda_on_file={'yes' if link.nda_on_file else 'no'}")


class LinkStatus(enum.StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"
    USED_UP = "used_up"  # every download the link allows was made
    UNKNOWN = "unknown"  # minted elsewhere: the gate knows of no end, but it never saw the expiry or the limit


@dataclasses.dataclass(frozen=True)
class MintedLink:
    """A sales link as the audit log knows it: its MINTED event, or for a link minted elsewhere (a sales laptop
    without the gate's database) the first thing the gate saw of it; and what the gate recorded since."""

    link_id: str
    recipient: str
    document: str
    company: str | None
    minted: str | None  # None: minted elsewhere
    minted_by: str | None
    expires: str | None  # None: minted elsewhere, or the MINTED event's detail could not be read
    max_downloads: int | None
    nda_on_file: bool | None  # None: minted elsewhere (the token says, the gate's log does not)
    opened: int = 0
    accepted: int = 0
    downloads: int = 0
    revoked: str | None = None  # the reason
    first_seen: str | None = None  # minted elsewhere: when the gate first saw it (opened, or refused)
    refused_as: LinkStatus | None = None  # the gate answered it "expired" or "used up" (410)

    @property
    def elsewhere(self) -> bool:
        return self.minted is None

    @property
    def since(self) -> str:
        """When the gate first knew of the link: the order `minted_links` lists them in."""
        return self.minted or self.first_seen or ""

    @property
    def status(self) -> LinkStatus:
        if self.revoked is not None:
            return LinkStatus.REVOKED
        if self.expires is not None and self.expires <= _iso(dt.datetime.now(dt.UTC)):
            return LinkStatus.EXPIRED
        if self.max_downloads is not None and self.downloads >= self.max_downloads:
            return LinkStatus.USED_UP
        if self.refused_as is not None:
            return self.refused_as
        return LinkStatus.UNKNOWN if self.elsewhere else LinkStatus.ACTIVE

    @property
    def open(self) -> bool:
        """Whether the link may still work, so revoking it means something."""
        return self.status in (LinkStatus.ACTIVE, LinkStatus.UNKNOWN)

    def as_json(self) -> dict[str, Any]:
        return {"link_id": self.link_id, "recipient": self.recipient, "document": self.document,
                "company": self.company, "expires": self.expires, "status": self.status.value,
                "opened": self.opened, "accepted": self.accepted, "downloads": self.downloads,
                "max_downloads": self.max_downloads, "nda_on_file": self.nda_on_file, "minted": self.minted,
                "minted_by": self.minted_by, "minted_elsewhere": self.elsewhere, "first_seen": self.first_seen,
                "revoked": self.revoked}


# Link ids per IN (...) list: far below SQLite's limit on bound parameters (32766; 999 before 3.32).
_IDS_PER_QUERY = 500


def minted_links(log: AuditLog, *, since: dt.datetime | None = None) -> list[MintedLink]:
    """The links the gate knows, newest first, with their opens, acceptances, downloads and revocation: every link
    recorded as minted, and every link minted elsewhere that the gate has seen (opened, accepted, downloaded or
    refused: events that name the link, its recipient and its document, which only an authentic token gives).

    Counted in SQL for the links listed, one query for the counts and one for the revocations (per
    _IDS_PER_QUERY links), never by reading every event ever recorded. With `since`, only the links minted or seen
    since then: the staff page asks for the links of the longest lifetime a link may have (link_max_days), which
    holds every link that can still be open, however long the log."""
    from generator.gate.audit import Kind, stamp
    from generator.gate.refusals import EXPIRED_DETAIL, USED_UP_DETAIL

    read = log.db.read()
    window, after = ("", ()) if since is None else (" AND at >= ?", (stamp(since),))
    found: dict[str, MintedLink] = {}
    for row in read.all("SELECT link_id, recipient, document, company, at, actor, detail FROM events "  # noqa: S608
                        f"WHERE kind = ? AND link_id IS NOT NULL{window} ORDER BY id", (Kind.MINTED.value, *after)):
        found.setdefault(str(row[0]), _minted(*row))  # the first MINTED of an id counts
    seen = (Kind.OPENED.value, Kind.ACCEPTED.value, Kind.DOWNLOADED.value, Kind.DENIED.value)
    # The first sighting of each link that has no MINTED event at all (not merely none in the window). A grant's
    # events name no link; a refusal names one only when the token was authentic.
    for link_id, recipient, document, company, at in read.all(
            "SELECT link_id, recipient, document, company, at FROM events WHERE id IN ("  # noqa: S608
            "SELECT MIN(id) FROM events AS seen WHERE kind IN (?, ?, ?, ?) AND link_id IS NOT NULL "
            f"AND grant_id IS NULL AND recipient IS NOT NULL AND document IS NOT NULL{window} "
            "AND NOT EXISTS (SELECT 1 FROM events AS minted WHERE minted.link_id = seen.link_id AND minted.kind = ?) "
            "GROUP BY link_id) ORDER BY id", (*seen, *after, Kind.MINTED.value)):
        found.setdefault(str(link_id), MintedLink(str(link_id), str(recipient), str(document), company, None, None,
                                                  None, None, None, first_seen=str(at)))
    ids = list(found)
    counts: dict[str, tuple[int, int, int, int, int]] = {}
    revoked: dict[str, str] = {}
    for start in range(0, len(ids), _IDS_PER_QUERY):
        chunk = ids[start:start + _IDS_PER_QUERY]
        marks = ", ".join("?" for _ in chunk)
        for link_id, *tally in read.all(
                "SELECT link_id, SUM(CASE WHEN kind = ? THEN 1 ELSE 0 END), "  # noqa: S608 - only placeholders
                "SUM(CASE WHEN kind = ? THEN 1 ELSE 0 END), SUM(CASE WHEN kind = ? THEN 1 ELSE 0 END), "
                "SUM(CASE WHEN kind = ? AND status = 410 AND detail LIKE ? THEN 1 ELSE 0 END), "
                "SUM(CASE WHEN kind = ? AND status = 410 AND detail LIKE ? THEN 1 ELSE 0 END) "
                f"FROM events WHERE link_id IN ({marks}) AND grant_id IS NULL AND kind IN (?, ?, ?, ?) "
                "GROUP BY link_id",
                (Kind.OPENED.value, Kind.ACCEPTED.value, Kind.DOWNLOADED.value, Kind.DENIED.value,
                 f"{EXPIRED_DETAIL}%", Kind.DENIED.value, f"{USED_UP_DETAIL}%", *chunk, *seen)):
            counts[str(link_id)] = (int(tally[0]), int(tally[1]), int(tally[2]), int(tally[3]), int(tally[4]))
        for link_id, detail in read.all(f"SELECT link_id, detail FROM events WHERE kind = ? "  # noqa: S608
                                        f"AND link_id IN ({marks}) ORDER BY id", (Kind.REVOKED.value, *chunk)):
            revoked.setdefault(str(link_id), str(detail or ""))
    listed = []
    for link in found.values():
        opened, accepted, downloads, refused_expired, refused_used_up = counts.get(link.link_id, (0, 0, 0, 0, 0))
        refused_as = (LinkStatus.EXPIRED if refused_expired else LinkStatus.USED_UP if refused_used_up else None)
        listed.append(dataclasses.replace(link, opened=opened, accepted=accepted, downloads=downloads,
                                          revoked=revoked.get(link.link_id), refused_as=refused_as))
    return sorted(listed, key=lambda link: link.since, reverse=True)


def _minted(link_id: str, recipient: str | None, document: str | None, company: str | None, at: str,
            actor: str | None, detail: str | None) -> MintedLink:
    fields = dict(part.partition("=")[::2] for part in (detail or "").split())
    limit = fields.get("max_downloads", "")
    return MintedLink(link_id, recipient or "", document or "", company, at, actor, fields.get("expires") or None,
                      int(limit) if limit.isdigit() else None, fields.get("nda_on_file") == "yes")


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
