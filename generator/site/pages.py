"""The trust center's Markdown pages, rendered from the site data (no MkDocs here: the plugin adds them)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import posixpath
from typing import Any

import jinja2
import jinja2.runtime
import yaml
from markupsafe import Markup

from generator.content import markup, model, tsc
from generator.site.structure import SiteData

# The generated pages in navigation order: source path -> navigation title.
INDEX = "index.md"
COMPLIANCE = "compliance.md"
CONTROLS = "controls.md"
SUBPROCESSORS = "subprocessors.md"
SUBPROCESSOR_HISTORY = "subprocessors/history.md"
DOCUMENTS = "documents.md"
FAQ = "faq.md"
UPDATES = "updates.md"
CONTACT = "contact.md"
PUBLIC_DOCUMENTS_DIR = "documents"
# The subprocessors page shows this many of the newest changes; the history page shows every one (a long-lived list
# gathers hundreds of changes, which doubled the page a phone had to read in).
RECENT_CHANGES = 10
# Long lists are cut into groups of this many rows (a <tbody> each), which the browser lays out only near the screen
# (content-visibility in trust.css): Material's start-up then restyles and measures a few groups, not every row.
ROWS_PER_GROUP = 20


def soc3_page(report: model.Soc3Report) -> str:
    return f"soc3/{report.id}.md"


@dataclasses.dataclass(frozen=True)
class Linker:
    """Relative URLs between generated pages and files, as MkDocs will place them."""

    use_directory_urls: bool = True

    def page_url(self, src: str) -> str:
        stem = src[: -len(".md")]
        if not self.use_directory_urls:
            return f"{stem}.html"
        if stem == "index" or stem.endswith("/index"):
            return stem[: -len("index")]
        return f"{stem}/"

    def _base(self, from_src: str) -> str:
        """The folder a page's relative links start from ('' for the site root)."""
        url = self.page_url(from_src)
        return url.rstrip("/") if self.use_directory_urls else posixpath.dirname(url)

    def to_page(self, from_src: str, to_src: str, anchor: str = "") -> str:
        target = self.page_url(to_src)
        relative = posixpath.relpath(target or ".", self._base(from_src) or ".")
        if target.endswith("/") or not target:
            relative = "./" if relative == "." else relative.rstrip("/") + "/"
        return relative + (f"#{anchor}" if anchor else "")

    def to_root(self, from_src: str) -> str:
        """The way from a page to the site root: '' for the home page, '../' one level down."""
        base = self._base(from_src)
        return "../" * (base.count("/") + 1) if base else ""

    def to_file(self, from_src: str, path: str) -> str:
        return posixpath.relpath(path, self._base(from_src) or ".")


def nice_date(value: dt.date | None) -> str:
    return f"{value:%b} {value.day}, {value.year}" if value else ""


def period_text(period: model.Period | None) -> str:
    return f"{nice_date(period.start)} – {nice_date(period.end)}" if period else ""


def qualifiers(sub: model.Subprocessor) -> list[str]:
    """What to say under a subprocessor's name, each once: an affiliate, its legal entity, its category."""
    found: list[str] = ["Affiliate"] if sub.affiliate else []
    for value in (sub.entity, sub.category):
        if value and value != sub.name and value not in found:
            found.append(value)
    return found


def location_names(sub: model.Subprocessor) -> str:
    """Where a subprocessor processes data, in words ("the customer's choice of ..." where they choose)."""
    names = ", ".join(model.location_name(code) for code in sub.locations)
    return f"Customer's choice of {names}" if sub.customer_selects_location else names


@jinja2.pass_context
def _markdown(context: jinja2.runtime.Context, text: str, heading_offset: int = 0) -> Markup:
    return markup.render(text, heading_offset=heading_offset, site_root=context["linker"].to_root(context["src"]))


@jinja2.pass_context
def _markdown_inline(context: jinja2.runtime.Context, text: str) -> Markup:
    return markup.inline(text, site_root=context["linker"].to_root(context["src"]))


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("generator.site", "templates"),
        autoescape=True,  # every YAML string is hostile until escaped
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # Markdown uses {#id} for heading anchors, so Jinja comments get other delimiters.
        comment_start_string="<#--",
        comment_end_string="--#>",
    )
    env.filters.update(md=_markdown, md_inline=_markdown_inline, heading=markup.heading_text,
                       date=nice_date, period=period_text, locations=location_names,
                       qualifiers=qualifiers)
    env.globals.update(criteria_titles=tsc.CRITERIA, categories=tsc.CATEGORIES, rows_per_group=ROWS_PER_GROUP)
    return env


_ENV: jinja2.Environment | None = None


def _env() -> jinja2.Environment:
    global _ENV
    if _ENV is None:
        _ENV = _environment()
    return _ENV


def gate_href(company: model.Company, linker: Linker, src: str, path: str) -> str:
    """The address of one of the gate's pages (e.g. 'request?document=x') from a page of the site: on the gate's own
    host when gate_url names one, else beside the site, which the gate then serves (relative, so any host works)."""
    if company.gate_url and company.gate_url.rstrip("/") != company.trust_center_url.rstrip("/"):
        return f"{company.gate_url.rstrip('/')}/{path}"
    return f"{linker.to_root(src)}{path}"


def render_pages(data: SiteData, linker: Linker | None = None) -> dict[str, str]:
    """Every generated page: source path (as if under docs_dir) -> Markdown."""
    linker = linker or Linker()
    tc = data.tc
    base: dict[str, Any] = {
        "site": data, "tc": tc, "company": tc.company, "Status": model.Status, "Access": model.Access,
        "ControlStatus": model.ControlStatus, "linker": linker, "nav": _nav_links(),
        "documents": {d.id: d for d in tc.documents},
        "gate_href": lambda src, path: gate_href(tc.company, linker, src, path),
    }
    name = tc.company.display_name
    pages: dict[str, str] = {}

    def page(src: str, template: str, title: str, description: str, **extra: Any) -> None:
        # One page per tab: the left sidebar would list only the page itself, so it is hidden. The subprocessor pages
        # keep their width for the list's columns; their history is linked from the page and the footer.
        hide = {"hide": ["navigation"]} if src != COMPLIANCE and not src.startswith("soc3/") else {}
        # MkDocs themes render without autoescape: what reaches them from YAML is escaped here.
        meta: dict[str, Any] = {"title": html.escape(title), "description": html.escape(description), **hide,
                                **extra.pop("meta", {})}
        front = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, width=10_000)
        body = _env().get_template(template).render(**base, src=src, **extra)
        pages[src] = f"---\n{front}---\n{body}"

    page(INDEX, "index.md", "Trust Center",
         f"{name} Trust Center: certifications, security controls, subprocessors and documents.",
         meta={"template": "home.html", "hide": ["navigation", "toc"]})
    page(COMPLIANCE, "compliance.md", "Compliance",
         f"Certifications, attestations and audit reports of {name}, with audit periods, auditors and status.")
    documents = base["documents"]
    for report in tc.soc3:
        page(soc3_page(report), "soc3.md", report.title,
             f"Summary of the {report.title} of {name}: the auditor's opinion, system description, criteria "
             "and subservice organizations.",
             report=report, basis=tc.certification(report.based_on), document=documents.get(report.document or ""))
    page(CONTROLS, "controls.md", "Security controls",
         f"The security controls {name} operates, their status and the Trust Services Criteria they map to.")
    page(SUBPROCESSORS, "subprocessors.md", "Subprocessors",
         f"Third parties that process customer data for {name}: purpose, data, locations and change history.",
         recent=RECENT_CHANGES)
    page(SUBPROCESSOR_HISTORY, "subprocessor_history.md", "Subprocessor change history",
         f"Every change to the subprocessors of {name}: additions, removals and edits, newest first.")
    page(DOCUMENTS, "documents.md", "Documents",
         f"Security and compliance documents of {name}: public downloads and reports available under NDA.",
         public_dir=PUBLIC_DOCUMENTS_DIR)
    if tc.faq:
        page(FAQ, "faq.md", "FAQ", f"Answers to common security and compliance questions about {name}.",
             groups=_faq_groups(tc.faq))
    if tc.updates:
        page(UPDATES, "updates.md", "Updates", f"Security and compliance announcements from {name}.")
    page(CONTACT, "contact.md", "Contact", f"How to reach {name}'s security team and report a vulnerability.",
         schema_version=model.SCHEMA_VERSION)
    return pages


def nav(tc: model.TrustCenter) -> list[dict[str, Any]]:
    """MkDocs nav entries for the generated pages, in reading order."""
    entries: list[dict[str, Any]] = [
        {"Overview": INDEX},
        {"Compliance": [COMPLIANCE, *[{html.escape(r.title): soc3_page(r)} for r in tc.soc3]] if tc.soc3
         else COMPLIANCE},
        {"Controls": CONTROLS},
        {"Subprocessors": [SUBPROCESSORS, {"Change history": SUBPROCESSOR_HISTORY}]},
        {"Documents": DOCUMENTS},
    ]
    if tc.faq:
        entries.append({"FAQ": FAQ})
    if tc.updates:
        entries.append({"Updates": UPDATES})
    entries.append({"Contact": CONTACT})
    return entries


def _nav_links() -> dict[str, str]:
    return {"compliance": COMPLIANCE, "controls": CONTROLS, "subprocessors": SUBPROCESSORS,
            "subprocessor_history": SUBPROCESSOR_HISTORY,
            "documents": DOCUMENTS, "faq": FAQ, "updates": UPDATES, "contact": CONTACT, "index": INDEX}


def _faq_groups(entries: list[model.FaqEntry]) -> list[tuple[str, list[model.FaqEntry]]]:
    groups: dict[str, list[model.FaqEntry]] = {}
    for entry in entries:
        groups.setdefault(entry.category or "General", []).append(entry)
    return list(groups.items())
