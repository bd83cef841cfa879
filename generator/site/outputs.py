"""Machine-readable files beside the pages: trust.json, subprocessors.json/.csv, Atom feed, security.txt, brand CSS,
the controls in OSCAL (`oscal`), the JWKS and the signatures of the JSON files (`signing`)."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import io
import xml.etree.ElementTree as etree

from generator.content import markup, model
from generator.site import oscal, pages, public, signing
from generator.site.brand import brand_css
from generator.site.structure import SiteData

TRUST_JSON = "trust.json"
SUBPROCESSORS_JSON = "subprocessors.json"
SUBPROCESSORS_CSV = "subprocessors.csv"
FEED = "feed.xml"
SECURITY_TXT = ".well-known/security.txt"
BRAND_CSS = "assets/stylesheets/brand.css"

_ATOM = "http://www.w3.org/2005/Atom"


def render_outputs(data: SiteData, *, feed_entries: int = 100) -> dict[str, str]:
    """Every generated non-page file: path in the site -> text."""
    tc = data.tc
    document_url = {d.id: _url(tc, f"{pages.PUBLIC_DOCUMENTS_DIR}/{d.public_name}") for d in tc.public_documents}
    rendered = {
        TRUST_JSON: public.to_json(public.trust_data(data, document_url)),
        SUBPROCESSORS_JSON: public.to_json(public.subprocessor_list(data)),
        SUBPROCESSORS_CSV: subprocessors_csv(data),
        FEED: atom_feed(data, limit=feed_entries),
        SECURITY_TXT: security_txt(tc),
        BRAND_CSS: brand_css(tc.company.brand_colour),
        oscal.PATH: oscal.render(data),
    }
    # Last, over the final bytes: trust.json.jws and subprocessors.json.jws when a data-signing key is
    # configured, and /.well-known/jwks.json always (links verify with it too).
    rendered.update(signing.signed_outputs(rendered, tc.root))
    return rendered


def _url(tc: model.TrustCenter, path: str) -> str:
    return tc.company.trust_center_url.rstrip("/") + "/" + path


def subprocessors_csv(data: SiteData) -> str:
    groups = data.subprocessors
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["name", "service", "entity", "address", "affiliate", "category", "purpose", "data_categories",
                     "locations", "customer_selects_location", "website", "added", "removed", "dpa",
                     "transfer_mechanism", "certifications", "status"])
    for sub in sorted(data.tc.subprocessors.subprocessors, key=lambda s: (s.name.casefold(), s.service or "")):
        writer.writerow([
            *(_csv_safe(value or "") for value in (sub.name, sub.service, sub.entity, sub.address)),
            "yes" if sub.affiliate else "no", _csv_safe(sub.category or ""), _csv_safe(sub.purpose),
            _csv_safe("; ".join(sub.data_categories)), " ".join(sub.locations),
            "yes" if sub.customer_selects_location else "no", sub.website or "", _iso(sub.added), _iso(sub.removed),
            {True: "yes", False: "no", None: ""}[sub.dpa], _csv_safe(sub.transfer_mechanism or ""),
            _csv_safe("; ".join(sub.certifications)), groups.status(sub),
        ])
    return out.getvalue()


def _iso(value: dt.date | None) -> str:
    return value.isoformat() if value else ""


def _csv_safe(value: str) -> str:
    # A cell starting with = + - @ is a formula in spreadsheets (CSV injection); prefix it.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@dataclasses.dataclass(frozen=True)
class FeedEntry:
    """One change notice: an entry of the Atom feed, and what `trustcenter notify` mails to subscribers."""

    date: dt.date
    id: str  # stable from build to build: a feed reader never shows an entry twice, `notify` never mails one twice
    title: str
    link: str
    html: str  # the entry's content: escaped or sanitized HTML


def feed_entries(data: SiteData) -> list[FeedEntry]:
    """Every change notice up to the build's day, newest first: updates, subprocessor changes, certifications."""
    tc = data.tc
    linker = pages.Linker()
    entries: list[FeedEntry] = []
    for update in data.published_updates:
        link = _url(tc, linker.page_url(pages.UPDATES) + f"#{update.slug}")
        entries.append(FeedEntry(update.date, link, update.title, link, str(markup.render(update.body))))
    for change in data.subprocessors.history:
        sub = change.subprocessor
        page = _url(tc, linker.page_url(pages.SUBPROCESSORS))  # also names the entry (below): keep it
        # A former subprocessor is only in the change history; the others have their row on the page.
        link = _url(tc, linker.page_url(pages.SUBPROCESSOR_HISTORY)) if change.kind == "removed" else f"{page}#{sub.slug}"
        name = _escape(sub.display_name)
        if change.kind == "changed":
            summary = f"<p>{name} changed on {change.date.isoformat()}: {_escape(change.details)}.</p>"
        elif change.kind == "announced":
            # The notice: a new subprocessor is announced the day it is listed, with the day it starts.
            summary = (f"<p>{name} will start processing customer data on {_iso(sub.added)}. Purpose: "
                       f"{_escape(sub.purpose.rstrip('.'))}. Locations: {_escape(pages.location_names(sub))}.</p>")
        else:
            summary = (f"<p>{name} was {change.kind} as a subprocessor on {change.date.isoformat()}. Purpose: "
                       f"{_escape(sub.purpose.rstrip('.'))}. Locations: {_escape(pages.location_names(sub))}.</p>")
        # Stable ids: one entry per announced change, never shown twice by a reader. An announcement is named by
        # the day the subprocessor starts, which the YAML says, not by the day it was announced, which may be
        # the build's day where git cannot tell (no history): so `notify` never mails it twice.
        named = sub.added if change.kind == "announced" and sub.added is not None else change.date
        entry_id = f"{page}#{change.kind}-{sub.slug}-{named.isoformat()}"
        if change.details and change.kind == "changed":
            entry_id += "-" + hashlib.sha256(change.details.encode()).hexdigest()[:8]
        title = {"announced": f"Subprocessor announced: {sub.display_name}, from {_iso(sub.added)}"}.get(
            change.kind, f"Subprocessor {change.kind}: {sub.display_name}")
        entries.append(FeedEntry(change.date, entry_id, title, link, summary))
    entries += _certification_entries(data, linker)
    entries.sort(key=lambda e: (e.date, e.id), reverse=True)
    return entries


def _certification_entries(data: SiteData, linker: pages.Linker) -> list[FeedEntry]:
    """A report or certificate issued, and one that is no longer current: both derived from its dates, like the
    status the compliance page shows, so the notice and the page agree. A withdrawal carries no date: the page
    shows it, the feed cannot date it."""
    tc = data.tc
    page = _url(tc, linker.page_url(pages.COMPLIANCE))
    entries: list[FeedEntry] = []
    for view in data.certifications:
        cert = view.cert
        if view.status is model.Status.WITHDRAWN:
            continue
        name = cert.display_name
        link = f"{page}#{cert.id}"
        issued = cert.report_date or cert.valid_from
        if issued is not None and issued <= data.today:
            facts = [f"Auditor: {cert.auditor}." if cert.auditor else "",
                     f"Audit period: {pages.period_text(cert.audit_period)}." if cert.audit_period else "",
                     f"As of {pages.nice_date(cert.as_of)}." if cert.as_of else "",
                     f"Valid until {pages.nice_date(cert.valid_until)}." if cert.valid_until else ""]
            kind = "Certificate" if cert.valid_until and not cert.audit_period else "Report"
            summary = f"<p>{_escape(kind)} issued on {issued.isoformat()}: {_escape(name)}. " \
                      f"{_escape(' '.join(fact for fact in facts if fact))}</p>"
            entries.append(FeedEntry(issued, f"{page}#issued-{cert.id}-{issued.isoformat()}",
                                     f"{kind} issued: {name}", link, summary))
        until = cert.current_until
        if until is not None and until < data.today and (issued is None or issued <= until):
            ended = until + dt.timedelta(days=1)
            summary = (f"<p>{_escape(name)} counted as current until {until.isoformat()}. The compliance page "
                       "shows what replaces it, or when it is expected.</p>")
            entries.append(FeedEntry(ended, f"{page}#ended-{cert.id}-{until.isoformat()}",
                                     f"No longer current: {name}", link, summary))
    return entries


def atom_feed(data: SiteData, *, limit: int = 100) -> str:
    """Updates, subprocessor changes and certifications, newest first (RFC 4287)."""
    tc = data.tc
    entries = feed_entries(data)
    etree.register_namespace("", _ATOM)
    feed = etree.Element(f"{{{_ATOM}}}feed")
    _sub(feed, "title", f"{tc.company.display_name} Trust Center updates")
    _sub(feed, "id", _url(tc, FEED))
    _sub(feed, "updated", _timestamp(entries[0].date if entries else tc.last_updated))
    etree.SubElement(feed, f"{{{_ATOM}}}link", rel="self", href=_url(tc, FEED), type="application/atom+xml")
    etree.SubElement(feed, f"{{{_ATOM}}}link", rel="alternate", href=_url(tc, ""), type="text/html")
    author = etree.SubElement(feed, f"{{{_ATOM}}}author")
    _sub(author, "name", tc.company.name)
    for item in entries[:limit]:
        entry = etree.SubElement(feed, f"{{{_ATOM}}}entry")
        _sub(entry, "id", item.id)
        _sub(entry, "title", item.title)
        _sub(entry, "updated", _timestamp(item.date))
        etree.SubElement(entry, f"{{{_ATOM}}}link", rel="alternate", href=item.link, type="text/html")
        content = _sub(entry, "content", item.html)
        content.set("type", "html")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + etree.tostring(feed, encoding="unicode") + "\n"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _sub(parent: etree.Element, tag: str, text: str) -> etree.Element:
    element = etree.SubElement(parent, f"{{{_ATOM}}}{tag}")
    element.text = text
    return element


def _timestamp(date: dt.date) -> str:
    return f"{date.isoformat()}T00:00:00Z"


def security_txt(tc: model.TrustCenter) -> str:
    """RFC 9116. Every value was validated as an email or URL, so none can inject a field."""
    settings = tc.company.security_txt
    lines = [f"Contact: mailto:{tc.company.contacts.security}"]
    lines += [f"Contact: {url}" for url in settings.contact]
    lines.append(f"Expires: {settings.expires.isoformat()}T00:00:00Z")
    for field, value in (("Encryption", settings.encryption), ("Acknowledgments", settings.acknowledgments),
                         ("Policy", settings.policy), ("Hiring", settings.hiring)):
        if value:
            lines.append(f"{field}: {value}")
    lines.append(f"Preferred-Languages: {', '.join(settings.preferred_languages)}")
    lines.append(f"Canonical: {_url(tc, SECURITY_TXT)}")
    return "\n".join(lines) + "\n"
