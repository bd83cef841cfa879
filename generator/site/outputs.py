"""Machine-readable files beside the pages: trust.json, subprocessors.json/.csv, Atom feed, security.txt, brand CSS."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import xml.etree.ElementTree as etree

from generator.content import markup, model
from generator.site import pages, public
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
    return {
        TRUST_JSON: public.to_json(public.trust_data(data, document_url)),
        SUBPROCESSORS_JSON: public.to_json(public.subprocessor_list(data)),
        SUBPROCESSORS_CSV: subprocessors_csv(data),
        FEED: atom_feed(data, limit=feed_entries),
        SECURITY_TXT: security_txt(tc),
        BRAND_CSS: brand_css(tc.company.brand_colour),
    }


def _url(tc: model.TrustCenter, path: str) -> str:
    return tc.company.trust_center_url.rstrip("/") + "/" + path


def subprocessors_csv(data: SiteData) -> str:
    groups = data.subprocessors
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["name", "purpose", "data_categories", "locations", "website", "added", "removed", "dpa",
                     "transfer_mechanism", "certifications", "status"])
    for sub in sorted(data.tc.subprocessors.subprocessors, key=lambda s: s.name.casefold()):
        writer.writerow([
            _csv_safe(sub.name), _csv_safe(sub.purpose), _csv_safe("; ".join(sub.data_categories)),
            " ".join(sub.locations), sub.website, sub.added.isoformat(),
            sub.removed.isoformat() if sub.removed else "", "yes" if sub.dpa else "no",
            _csv_safe(sub.transfer_mechanism or ""), _csv_safe("; ".join(sub.certifications)), groups.status(sub),
        ])
    return out.getvalue()


def _csv_safe(value: str) -> str:
    # A cell starting with = + - @ is a formula in spreadsheets (CSV injection); prefix it.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def atom_feed(data: SiteData, *, limit: int = 100) -> str:
    """Updates and subprocessor changes, newest first (RFC 4287)."""
    tc = data.tc
    linker = pages.Linker()
    entries: list[tuple[dt.date, str, str, str, str]] = []  # date, id, title, link, html
    for update in data.published_updates:
        link = _url(tc, linker.page_url(pages.UPDATES) + f"#{update.slug}")
        entries.append((update.date, link, update.title, link, str(markup.render(update.body))))
    for change in data.subprocessors.history:
        sub = change.subprocessor
        verb = change.kind
        link = _url(tc, linker.page_url(pages.SUBPROCESSORS) + ("#history" if change.kind == "removed"
                                                                 else f"#{sub.slug}"))
        if change.details:
            summary = (f"<p>{_escape(sub.name)} changed on {change.date.isoformat()}: "
                       f"{_escape(change.details)}.</p>")
        else:
            summary = (f"<p>{_escape(sub.name)} was {verb} as a subprocessor on {change.date.isoformat()}. "
                       f"Purpose: {_escape(sub.purpose.rstrip('.'))}. Locations: {_escape(pages.country_names(sub.locations))}.</p>")
        entry_id = f"{_url(tc, linker.page_url(pages.SUBPROCESSORS))}#{verb}-{sub.slug}-{change.date.isoformat()}"
        if change.details:
            entry_id += "-" + hashlib.sha256(change.details.encode()).hexdigest()[:8]
        entries.append((change.date, entry_id, f"Subprocessor {verb}: {sub.name}", link, summary))
    entries.sort(key=lambda e: (e[0], e[1]), reverse=True)
    etree.register_namespace("", _ATOM)
    feed = etree.Element(f"{{{_ATOM}}}feed")
    _sub(feed, "title", f"{tc.company.name} Trust Center updates")
    _sub(feed, "id", _url(tc, FEED))
    _sub(feed, "updated", _timestamp(entries[0][0] if entries else tc.last_updated))
    etree.SubElement(feed, f"{{{_ATOM}}}link", rel="self", href=_url(tc, FEED), type="application/atom+xml")
    etree.SubElement(feed, f"{{{_ATOM}}}link", rel="alternate", href=_url(tc, ""), type="text/html")
    author = etree.SubElement(feed, f"{{{_ATOM}}}author")
    _sub(author, "name", tc.company.name)
    for date, entry_id, title, link, html_text in entries[:limit]:
        entry = etree.SubElement(feed, f"{{{_ATOM}}}entry")
        _sub(entry, "id", entry_id)
        _sub(entry, "title", title)
        _sub(entry, "updated", _timestamp(date))
        etree.SubElement(entry, f"{{{_ATOM}}}link", rel="alternate", href=link, type="text/html")
        content = _sub(entry, "content", html_text)
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


def _luminance(rgb: tuple[float, float, float]) -> float:
    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.03928 else float(((value + 0.055) / 1.055) ** 2.4)

    r, g, b = (channel(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _rgb(hex_colour: str) -> tuple[float, float, float]:
    return (int(hex_colour[1:3], 16) / 255, int(hex_colour[3:5], 16) / 255, int(hex_colour[5:7], 16) / 255)


def _hex(rgb: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{round(max(0.0, min(1.0, v)) * 255):02x}" for v in rgb)


def _mix(rgb: tuple[float, float, float], towards: float, amount: float) -> tuple[float, float, float]:
    r, g, b = rgb
    return (r + (towards - r) * amount, g + (towards - g) * amount, b + (towards - b) * amount)


def _until_contrast(rgb: tuple[float, float, float], background: tuple[float, float, float],
                    towards: float, ratio: float = 4.6) -> str:
    for step in range(0, 101, 2):
        candidate = _mix(rgb, towards, step / 100)
        if contrast(candidate, background) >= ratio:
            return _hex(candidate)
    return _hex((towards, towards, towards))


def brand_css(brand_colour: str) -> str:
    """Material colour variables from the brand colour, adjusted for WCAG AA text contrast."""
    white = (1.0, 1.0, 1.0)
    slate_background = _rgb("#1e2129")
    primary = _until_contrast(_rgb(brand_colour), white, 0.0)  # white header text; links on white
    dark_link = _until_contrast(_rgb(brand_colour), slate_background, 1.0)  # links on the dark scheme
    return (
        "/* Generated from company.yaml brand_colour; contrast-adjusted to WCAG AA. */\n"
        ":root, [data-md-color-scheme=\"default\"] {\n"
        f"  --md-primary-fg-color: {primary};\n"
        f"  --md-primary-fg-color--light: {primary};\n"
        f"  --md-primary-fg-color--dark: {_hex(_mix(_rgb(primary), 0.0, 0.2))};\n"
        f"  --md-accent-fg-color: {primary};\n"
        f"  --md-typeset-a-color: {primary};\n"
        f"  --tc-brand: {primary};\n"
        "}\n"
        "[data-md-color-scheme=\"slate\"] {\n"
        f"  --md-primary-fg-color: {primary};\n"
        f"  --md-primary-fg-color--dark: {_hex(_mix(_rgb(primary), 0.0, 0.2))};\n"
        f"  --md-accent-fg-color: {dark_link};\n"
        f"  --md-typeset-a-color: {dark_link};\n"
        f"  --tc-brand: {dark_link};\n"
        "}\n"
    )
