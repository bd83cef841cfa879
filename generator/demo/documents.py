"""Write the demo company's PDFs (fictional Halyard Systems reports) to the paths the demo documents.yaml names."""

from __future__ import annotations

import io
import re
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors  # type: ignore[import-untyped]
from reportlab.lib.enums import TA_CENTER  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import LETTER  # type: ignore[import-untyped]
from reportlab.lib.styles import ParagraphStyle  # type: ignore[import-untyped]
from reportlab.platypus import (  # type: ignore[import-untyped]
    BaseDocTemplate,
    CondPageBreak,
    Frame,
    KeepTogether,
    NextPageTemplate,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from generator.content import tsc

COMPANY = "Halyard Systems, Inc."
AUDITOR = "Carraway & Finch LLP"
REGISTRAR = "Meridian Assurance Registrar Ltd."
PENTEST_FIRM = "Blackthorn & Sable Security"
PERIOD = "October 1, 2025 to September 30, 2026"
REPORT_DATE = "November 6, 2026"
FICTION_NOTICE = ("Fictional demo document. Halyard Systems, Inc. and every organization, person, finding and "
                  "event described in it are invented for demonstration; nothing here is a real audit result.")

BRAND = colors.HexColor("#0b5563")
ACCENT = colors.HexColor("#8fd3cf")
INK = colors.HexColor("#1d2731")
MUTED = colors.HexColor("#5b6670")
RULE = colors.HexColor("#c9d3d8")
ZEBRA = colors.HexColor("#f1f6f7")
PAGE_WIDTH, PAGE_HEIGHT = LETTER
MARGIN = 72.0
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN

Story = list[Any]  # reportlab flowables (the library ships no type information)


def _style(name: str, **settings: Any) -> Any:
    base = {"fontName": "Helvetica", "fontSize": 9.5, "leading": 13.5, "textColor": INK, "spaceAfter": 6}
    return ParagraphStyle(name, **{**base, **settings})


STYLES: dict[str, Any] = {
    "body": _style("body"),
    "small": _style("small", fontSize=8, leading=10.5, textColor=MUTED),
    "h1": _style("h1", fontName="Helvetica-Bold", fontSize=16, leading=20, textColor=BRAND, spaceBefore=4,
                 spaceAfter=10, keepWithNext=1),
    "h2": _style("h2", fontName="Helvetica-Bold", fontSize=11.5, leading=15, textColor=BRAND, spaceBefore=10,
                 spaceAfter=5, keepWithNext=1),
    "h3": _style("h3", fontName="Helvetica-Bold", fontSize=9.5, leading=13, spaceBefore=6, spaceAfter=3,
                 keepWithNext=1),
    "bullet": _style("bullet", leftIndent=14, bulletIndent=3, spaceAfter=3),
    "cell": _style("cell", fontSize=8, leading=10.2, spaceAfter=0),
    "cellhead": _style("cellhead", fontName="Helvetica-Bold", fontSize=8, leading=10.2, textColor=colors.white,
                       spaceAfter=0),
    "title": _style("title", fontName="Helvetica-Bold", fontSize=23, leading=28, textColor=BRAND, spaceAfter=12),
    "subtitle": _style("subtitle", fontSize=12, leading=16, textColor=MUTED, spaceAfter=4),
    "label": _style("label", fontName="Helvetica-Bold", fontSize=7.5, leading=10, textColor=MUTED, spaceAfter=0),
    "value": _style("value", fontSize=9.5, leading=12.5, spaceAfter=0),
    "notice": _style("notice", fontSize=8, leading=11, textColor=INK, spaceAfter=0),
    "center": _style("center", alignment=TA_CENTER),
    "cert_title": _style("cert_title", fontName="Helvetica-Bold", fontSize=26, leading=32, textColor=BRAND,
                         alignment=TA_CENTER, spaceAfter=4),
    "cert_big": _style("cert_big", fontName="Helvetica-Bold", fontSize=19, leading=24, alignment=TA_CENTER,
                       spaceAfter=4),
    "cert_text": _style("cert_text", fontSize=10, leading=14.5, alignment=TA_CENTER, spaceAfter=8),
}


# ---------------------------------------------------------------- small building blocks


def _markup(text: str) -> str:
    """Escape text for reportlab's paragraph markup, keeping **bold** and *italic* emphasis."""
    escaped = escape(text)
    escaped = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", escaped)
    return re.sub(r"(?<![*\w])\*(?!\s)(.+?)(?<!\s)\*(?![*\w])", r"<i>\1</i>", escaped)


def _p(text: str, style: str = "body") -> Any:
    return Paragraph(_markup(text), STYLES[style])


def _paras(*texts: str) -> Story:
    return [_p(text) for text in texts]


def _h1(text: str) -> Story:
    heading = _p(text, "h1")
    heading.outline_text = text  # _render bookmarks it and gives its page number to the contents page
    return [CondPageBreak(150), heading]


def _h2(text: str) -> Any:
    return _p(text, "h2")


def _h3(text: str) -> Any:
    return _p(text, "h3")


def _bullets(items: Sequence[str]) -> Story:
    return [Paragraph(_markup(item), STYLES["bullet"], bulletText="\u2022") for item in items]


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[float]) -> Any:
    """A ruled table with a brand-coloured header row that repeats on every page it spans."""
    total = sum(widths)
    col_widths = [CONTENT_WIDTH * width / total for width in widths]
    data = [[Paragraph(_markup(cell), STYLES["cellhead"]) for cell in header]]
    data += [[Paragraph(_markup(cell), STYLES["cell"]) for cell in row] for row in rows]
    style = [
        ("BACKGROUND", (0, 0), (-1, 0), BRAND),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.4, RULE),
        ("BOX", (0, 0), (-1, -1), 0.6, RULE),
        ("TOPPADDING", (0, 0), (-1, -1), 4),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
        ("LEFTPADDING", (0, 0), (-1, -1), 5),
        ("RIGHTPADDING", (0, 0), (-1, -1), 5),
    ]
    style += [("BACKGROUND", (0, row), (-1, row), ZEBRA) for row in range(2, len(data), 2)]
    table = Table(data, colWidths=col_widths, repeatRows=1, hAlign="LEFT", spaceBefore=4, spaceAfter=10)
    table.setStyle(TableStyle(style))
    return table


def _facts(pairs: Sequence[tuple[str, str]]) -> Any:
    """Label / value pairs, as on a cover page."""
    data = [[Paragraph(_markup(label.upper()), STYLES["label"]), Paragraph(_markup(value), STYLES["value"])]
            for label, value in pairs]
    table = Table(data, colWidths=[130, CONTENT_WIDTH - 130], hAlign="LEFT")
    table.setStyle(TableStyle([
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEABOVE", (0, 0), (-1, 0), 0.8, BRAND),
        ("LINEBELOW", (0, 0), (-1, -1), 0.4, RULE),
        ("TOPPADDING", (0, 0), (-1, -1), 5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
        ("LEFTPADDING", (0, 0), (-1, -1), 0),
    ]))
    return table


def _notice(text: str) -> Any:
    """A shaded box for confidentiality and use notices."""
    table = Table([[Paragraph(_markup(text), STYLES["notice"])]], colWidths=[CONTENT_WIDTH], hAlign="LEFT")
    table.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, -1), ZEBRA),
        ("LINEBEFORE", (0, 0), (0, -1), 3, BRAND),
        ("TOPPADDING", (0, 0), (-1, -1), 8),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 8),
        ("LEFTPADDING", (0, 0), (-1, -1), 10),
        ("RIGHTPADDING", (0, 0), (-1, -1), 10),
    ]))
    return table


def _signature(lines: Sequence[str]) -> Any:
    return KeepTogether([Spacer(1, 10), *[_p(line, "body") for line in lines]])


def _cover(title: str, subtitles: Sequence[str], facts: Sequence[tuple[str, str]], notice: str | None) -> Story:
    story: Story = [_p(title, "title"), *[_p(line, "subtitle") for line in subtitles], Spacer(1, 18), _facts(facts)]
    if notice:
        story += [Spacer(1, 18), _notice(notice)]
    return [*story, NextPageTemplate("body"), PageBreak()]


def _contents_page() -> Story:
    """Page 2, left empty for the contents that _body_page draws from _Pdf.contents."""
    return [Spacer(1, 1), PageBreak()]


# ---------------------------------------------------------------- page decoration


def _draw_mark(canvas: Any, x: float, y: float, size: float, *, on_brand: bool = False) -> None:
    """The Halyard mark (the same shapes as trust/assets/logo.svg), lower-left corner at x, y."""
    unit = size / 64.0

    def point(px: float, py: float) -> tuple[float, float]:
        return x + px * unit, y + (64 - py) * unit

    canvas.saveState()
    canvas.setFillColor(colors.white if on_brand else BRAND)
    canvas.roundRect(x, y, size, size, 14 * unit, stroke=0, fill=1)
    for shape, fill in (((31, 10), (31, 46), (13, 46)), colors.white), (((35, 16), (35, 46), (50, 46)), ACCENT):
        path = canvas.beginPath()
        path.moveTo(*point(*shape[0]))
        for corner in shape[1:]:
            path.lineTo(*point(*corner))
        path.close()
        canvas.setFillColor(BRAND if on_brand and fill == colors.white else fill)
        canvas.drawPath(path, stroke=0, fill=1)
    canvas.setStrokeColor(BRAND if on_brand else colors.white)
    canvas.setLineCap(1)
    canvas.setLineWidth(2.5 * unit)
    canvas.line(*point(33, 8), *point(33, 48))
    canvas.setLineWidth(3 * unit)
    curve = canvas.beginPath()
    curve.moveTo(*point(12, 51))
    curve.curveTo(*point(25.3, 55.7), *point(38.7, 55.7), *point(52, 51))
    canvas.drawPath(curve, stroke=1, fill=0)
    canvas.restoreState()


@dataclass(frozen=True)
class _Pdf:
    """One demo document: where it goes, what its pages say about it, and its content."""

    path: str  # relative to trust/, as in documents.yaml
    title: str  # PDF metadata title
    kind: str  # the label on the cover band, e.g. "SOC 2 Type II report"
    running_title: str  # right-hand side of every page header
    confidential: bool
    story: Callable[[], Story]
    certificate: bool = False
    # Contents on page 2 (the story starts with _contents_page()): label, and the _h1 heading it points to.
    contents: tuple[tuple[str, str], ...] = ()


def _cover_page(pdf: _Pdf) -> Callable[[Any, Any], None]:
    def draw(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        band = 250
        canvas.setFillColor(BRAND)
        canvas.rect(0, PAGE_HEIGHT - band, PAGE_WIDTH, band, stroke=0, fill=1)
        _draw_mark(canvas, MARGIN, PAGE_HEIGHT - 102, 40, on_brand=True)
        canvas.setFillColor(colors.white)
        canvas.setFont("Helvetica-Bold", 15)
        canvas.drawString(MARGIN + 52, PAGE_HEIGHT - 80, "HALYARD")
        canvas.setFont("Helvetica", 9)
        canvas.drawString(MARGIN + 52, PAGE_HEIGHT - 95, "SYSTEMS, INC.")
        canvas.setFillColor(ACCENT)
        canvas.setFont("Helvetica-Bold", 10)
        canvas.drawString(MARGIN, PAGE_HEIGHT - band + 40, pdf.kind.upper())
        canvas.setFillColor(colors.white)
        canvas.setFont("Helvetica", 9)
        label = "CONFIDENTIAL" if pdf.confidential else "FOR GENERAL USE"
        canvas.drawRightString(PAGE_WIDTH - MARGIN, PAGE_HEIGHT - band + 40, label)
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.5)
        canvas.line(MARGIN, 70, PAGE_WIDTH - MARGIN, 70)
        canvas.setFillColor(MUTED)
        canvas.setFont("Helvetica-Oblique", 7.5)
        for number, line in enumerate(textwrap.wrap(FICTION_NOTICE, 118)):
            canvas.drawString(MARGIN, 56 - 10 * number, line)
        canvas.restoreState()

    return draw


def _body_page(pdf: _Pdf) -> Callable[[Any, Any], None]:
    def draw(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        top = PAGE_HEIGHT - 48
        _draw_mark(canvas, MARGIN, top - 5, 15)
        canvas.setFillColor(INK)
        canvas.setFont("Helvetica-Bold", 8.5)
        canvas.drawString(MARGIN + 21, top, COMPANY)
        canvas.setFillColor(MUTED)
        canvas.setFont("Helvetica", 8)
        canvas.drawRightString(PAGE_WIDTH - MARGIN, top, pdf.running_title)
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.5)
        canvas.line(MARGIN, top - 11, PAGE_WIDTH - MARGIN, top - 11)
        canvas.line(MARGIN, 54, PAGE_WIDTH - MARGIN, 54)
        canvas.setFont("Helvetica-Oblique", 7.5)
        canvas.drawString(MARGIN, 42, "Fictional demo document")
        if pdf.confidential:
            canvas.setFillColor(BRAND)
            canvas.setFont("Helvetica-Bold", 7.5)
            canvas.drawCentredString(PAGE_WIDTH / 2, 42, "CONFIDENTIAL \u2014 SUBJECT TO NON-DISCLOSURE AGREEMENT")
        canvas.setFillColor(MUTED)
        canvas.setFont("Helvetica", 8)
        canvas.drawRightString(PAGE_WIDTH - MARGIN, 42, f"Page {doc.page}")
        canvas.restoreState()
        if doc.page == 2 and pdf.contents:
            _draw_contents(canvas, pdf.contents)

    return draw


def _draw_contents(canvas: Any, entries: Sequence[tuple[str, str]]) -> None:
    """The contents list; each page number is a form that _render defines when the heading is placed."""
    canvas.saveState()
    y = PAGE_HEIGHT - 110
    canvas.setFillColor(BRAND)
    canvas.setFont("Helvetica-Bold", 16)
    canvas.drawString(MARGIN, y, "Contents")
    y -= 34
    for index, (label, heading) in enumerate(entries):
        canvas.setFillColor(INK)
        canvas.setFont("Helvetica-Bold", 9.5)
        canvas.drawString(MARGIN, y, label)
        indent = MARGIN + (62 if label else 0)
        canvas.setFont("Helvetica", 9.5)
        canvas.drawString(indent, y, heading)
        start = indent + canvas.stringWidth(heading, "Helvetica", 9.5) + 6
        canvas.setStrokeColor(RULE)
        canvas.setDash(1, 3)
        canvas.line(start, y, PAGE_WIDTH - MARGIN - 24, y)
        canvas.setDash()
        canvas.saveState()
        canvas.translate(PAGE_WIDTH - MARGIN, y)
        canvas.doForm(_page_form(index))
        canvas.restoreState()
        y -= 24
    canvas.restoreState()


def _page_form(index: int) -> str:
    return f"contents-page-{index}"


def _certificate_page(canvas: Any, doc: Any) -> None:
    canvas.saveState()
    canvas.setStrokeColor(BRAND)
    canvas.setLineWidth(3)
    canvas.rect(36, 36, PAGE_WIDTH - 72, PAGE_HEIGHT - 72, stroke=1, fill=0)
    canvas.setStrokeColor(ACCENT)
    canvas.setLineWidth(0.8)
    canvas.rect(44, 44, PAGE_WIDTH - 88, PAGE_HEIGHT - 88, stroke=1, fill=0)
    _draw_mark(canvas, PAGE_WIDTH / 2 - 20, PAGE_HEIGHT - 110, 40)
    canvas.setFillColor(MUTED)
    canvas.setFont("Helvetica-Oblique", 7)
    for number, line in enumerate(textwrap.wrap(FICTION_NOTICE, 110)):
        canvas.drawCentredString(PAGE_WIDTH / 2, 64 - 9 * number, line)
    canvas.restoreState()


def _render(pdf: _Pdf) -> bytes:
    """The PDF's bytes; invariant=1 fixes dates and the document id so a rebuild is byte-identical."""
    buffer = io.BytesIO()
    doc = BaseDocTemplate(
        buffer, pagesize=LETTER, invariant=1, pageCompression=1, title=pdf.title, author=f"{COMPANY} (fictional)",
        subject="Fictional demo document for the trust center generator", creator="trustcenter demo content",
        lang="en-US", displayDocTitle=1,
    )
    if pdf.certificate:
        frame = Frame(72, 90, PAGE_WIDTH - 144, PAGE_HEIGHT - 215, id="certificate")
        doc.addPageTemplates([PageTemplate("certificate", frames=[frame], onPage=_certificate_page)])
    else:
        cover_frame = Frame(MARGIN, 90, CONTENT_WIDTH, PAGE_HEIGHT - 250 - 90 - 30, id="cover")
        body_frame = Frame(MARGIN, 66, CONTENT_WIDTH, PAGE_HEIGHT - 66 - 72, id="body")
        doc.addPageTemplates([
            PageTemplate("cover", frames=[cover_frame], onPage=_cover_page(pdf)),
            PageTemplate("body", frames=[body_frame], onPage=_body_page(pdf)),
        ])
    headings = {heading: index for index, (_label, heading) in enumerate(pdf.contents)}
    placed: set[str] = set()

    def after_flowable(flowable: Any) -> None:
        text = getattr(flowable, "outline_text", None)
        if text is None or text in placed:
            return
        placed.add(text)
        canvas = doc.canv
        key = f"h{len(placed)}"
        canvas.bookmarkPage(key)
        canvas.addOutlineEntry(text, key, level=0)
        if text in headings:
            canvas.beginForm(_page_form(headings[text]), lowerx=-40, lowery=-4, upperx=1, uppery=12)
            canvas.setFont("Helvetica-Bold", 9.5)
            canvas.setFillColor(INK)
            canvas.drawRightString(0, 0, str(doc.page))
            canvas.endForm()

    doc.afterFlowable = after_flowable
    doc.build(pdf.story())
    missing = set(headings) - placed
    if missing:
        raise ValueError(f"{pdf.path}: contents entries without a heading: {sorted(missing)}")
    return buffer.getvalue()


# ---------------------------------------------------------------- shared narrative


def _system_overview() -> Story:
    return [
        _h2("Company overview"),
        *_paras(
            "Halyard Systems, Inc. (\u201cHalyard\u201d or \u201cthe Company\u201d) was founded in 2021 and is "
            "headquartered in Portland, Oregon, with an office in Dublin, Ireland operated by its subsidiary "
            "Halyard Systems Ireland Ltd. The Company has approximately 240 employees.",
            "Halyard provides **Halyard**, a managed data-pipeline service. Customers connect source systems "
            "(operational databases, software-as-a-service applications, event streams and files) and destinations "
            "(cloud data warehouses and object storage). Halyard extracts data from the sources, applies the "
            "transformations the customer defines, loads the results into the destinations on a schedule or "
            "continuously, and reports the status of every run to the customer.",
        ),
        _h2("Services in scope"),
        *_bullets([
            "**Connectors**: more than 300 managed source and destination connectors, run by Halyard.",
            "**Transformations**: SQL and declarative column rules (exclusion, hashing, type mapping) applied in "
            "flight, before data reaches the destination.",
            "**Orchestration and monitoring**: scheduling, retries, schema-change handling, run history, alerts "
            "by email, SMS and webhook.",
            "**Web application and public API**: configuration, user management with single sign-on and SCIM, "
            "and the customer audit log.",
        ]),
    ]


def _boundaries() -> Story:
    return [
        _h2("Infrastructure"),
        _p("The system runs entirely on public cloud infrastructure. Halyard owns and operates no data centres. "
           "It consists of a control plane, hosted in the United States, and a pipeline execution plane in each "
           "production region. Customer pipeline data is processed and staged only in the region the customer "
           "selects."),
        _table(["Component", "Purpose", "Provider and location"], [
            ["Control plane", "Web application, public API, scheduler, metadata store (Amazon Aurora PostgreSQL), "
             "secrets service", "AWS us-east-1, with a standby in us-west-2"],
            ["Execution plane, United States", "Pipeline workers in isolated containers; encrypted staging",
             "AWS us-east-1 and us-west-2"],
            ["Execution plane, European Union", "Pipeline workers in isolated containers; encrypted staging",
             "AWS eu-central-1 and eu-west-1; Google Cloud europe-west3"],
            ["Execution plane, Australia", "Pipeline workers in isolated containers; encrypted staging",
             "AWS ap-southeast-2 (from March 2026)"],
            ["Edge", "DNS, TLS termination, web application firewall, DDoS mitigation", "Cloudflare (global)"],
            ["Key management", "Encryption keys; per-tenant keys for connector credentials",
             "AWS KMS and Google Cloud KMS in each region"],
            ["Observability", "Metrics, traces, logs, security event correlation", "Datadog (United States, EU)"],
        ], [1.3, 2.4, 2.0]),
        _h2("Software"),
        _p("Halyard's services are written mainly in Go and TypeScript and run on Kubernetes clusters managed "
           "with Terraform and a GitOps deployment pipeline. Supporting software includes the identity provider "
           "for staff, the source code hosting and continuous integration service, a compliance automation "
           "platform, the ticketing system and the on-call alerting service."),
        _h2("People"),
        _table(["Function", "Responsibilities"], [
            ["Executive management", "Sets objectives and risk appetite; approves policies; reports to the board."],
            ["Security (CISO and team of 9)", "Security programme, risk management, detection and response, "
             "vulnerability management, compliance, vendor risk."],
            ["Site reliability engineering", "Infrastructure, availability, capacity, backups, disaster recovery, "
             "on-call."],
            ["Product engineering", "Design, development and testing of the service, following the secure "
             "development lifecycle."],
            ["People operations", "Hiring, background checks, onboarding, training records, offboarding."],
            ["Customer support", "Customer requests; escalations to engineering through the ticketing system."],
        ], [1.6, 4.2]),
        _h2("Data"),
        _table(["Data", "Description", "Retention"], [
            ["Customer pipeline data", "Records extracted from customer sources, processed in memory and staged "
             "encrypted for retries", "Purged 7 days after staging"],
            ["Connector credentials", "Passwords, keys and OAuth tokens for customer sources and destinations, "
             "envelope-encrypted with per-tenant keys", "Until deleted by the customer or 30 days after "
             "termination"],
            ["Pipeline metadata", "Configuration, schemas, run history, row counts, error messages",
             "Life of the account plus 30 days"],
            ["Account data", "Users, roles, audit log, billing contacts", "Life of the account plus 30 days; "
             "audit log 13 months"],
            ["Operational logs", "Application, infrastructure and security logs", "13 months"],
        ], [1.5, 3.1, 1.6]),
        _h2("Procedures"),
        _p("Documented policies and procedures cover information security, acceptable use, access control, "
           "change management, secure development, vulnerability management, logging and monitoring, incident "
           "response, business continuity and disaster recovery, data classification and retention, vendor "
           "management, and human resources security. They are reviewed at least once a year and approved by the "
           "Chief Information Security Officer and executive management."),
    ]


_COMMITMENTS = [
    ["Security", "Customer data is encrypted in transit and at rest; access to production is restricted to "
     "authorized personnel; security incidents affecting customer data are notified within 72 hours."],
    ["Availability", "The service is available 99.9% of each calendar month, excluding announced maintenance; "
     "recovery time objective of 4 hours and recovery point objective of 1 hour for the control plane."],
    ["Confidentiality", "Customer data is used only to provide the service, is processed in the region the "
     "customer selects, and is deleted within 30 days of termination (staged data within 7 days)."],
]

CUECS = [
    "Customers restrict administrative access to their Halyard organization to authorized personnel and review "
    "users and roles periodically.",
    "Customers enable single sign-on and enforce multi-factor authentication through their own identity provider.",
    "Customers provide connector credentials with the least privilege the pipeline requires and rotate them when "
    "personnel change.",
    "Customers select the processing region that meets their data residency obligations.",
    "Customers configure destinations, column exclusions and hashing rules so that only the data they intend to "
    "replicate is loaded.",
    "Customers monitor pipeline failure notifications and act on data that fails validation.",
    "Customers notify Halyard promptly of suspected security incidents or unauthorized use of their accounts.",
]

SUBSERVICE = [
    ["Amazon Web Services, Inc.", "Cloud infrastructure for the control plane and the execution plane",
     "Physical and environmental security of data centres; hardware maintenance and disposal; availability of "
     "the underlying compute, storage and network", "CC6.4, CC6.5, A1.2"],
    ["Google LLC (Google Cloud)", "Cloud infrastructure for the Google Cloud execution region",
     "Physical and environmental security of data centres; hardware disposal; availability of the underlying "
     "infrastructure", "CC6.4, CC6.5, A1.2"],
    ["Cloudflare, Inc.", "DNS, content delivery, TLS termination, firewall and DDoS mitigation",
     "Logical access to the Cloudflare platform; availability and integrity of the edge network",
     "CC6.1, CC6.6, A1.2"],
]


def _auditor_report(kind: str) -> Story:
    """The independent service auditor's report; kind is "SOC 2" (restricted use) or "SOC 3" (general use)."""
    description = ("the accompanying description of the Halyard managed data-pipeline system" if kind == "SOC 2"
                   else "management's assertion about the Halyard managed data-pipeline system")
    story: Story = [
        *_h1("Independent Service Auditor's Report"),
        _p("To the Board of Directors and Management of Halyard Systems, Inc.:"),
        _h2("Scope"),
        _p(f"We have examined {description} (the \u201csystem\u201d) throughout the period {PERIOD}, based on "
           "the criteria for a description of a service organization's system and the trust services criteria "
           "relevant to security, availability and confidentiality (the \u201capplicable trust services "
           "criteria\u201d) set forth in the AICPA's *Trust Services Criteria for Security, Availability, "
           "Processing Integrity, Confidentiality, and Privacy* (2017, with revised points of focus, 2022)."),
        _p("Halyard uses subservice organizations for cloud infrastructure and edge network services. "
           "Complementary subservice organization controls are assumed in the design of Halyard's controls. "
           "Our examination did not extend to the controls of the subservice organizations, and we have not "
           "evaluated the suitability of their design or their operating effectiveness (the carve-out method)."),
        _p("Certain service commitments can be achieved only if complementary user entity controls assumed in the "
           "design of Halyard's controls are suitably designed and operating effectively. Our examination did not "
           "extend to such controls."),
        _h2("Service organization's responsibilities"),
        _p("Halyard is responsible for its service commitments and system requirements and for designing, "
           "implementing and operating effective controls within the system to provide reasonable assurance that "
           "they were achieved. Halyard has provided the accompanying assertion about the effectiveness of those "
           "controls, and is responsible for selecting the applicable trust services criteria and for "
           "identifying the risks that threaten the achievement of its commitments and requirements."),
        _h2("Service auditor's responsibilities"),
        _p("Our responsibility is to express an opinion based on our examination. We conducted our examination "
           "in accordance with attestation standards established by the American Institute of Certified Public "
           "Accountants. Those standards require that we plan and perform the examination to obtain reasonable "
           "assurance about whether management's assertion is fairly stated, in all material respects. We "
           "believe that the evidence we obtained is sufficient and appropriate to provide a reasonable basis for "
           "our opinion. We are required to be independent and to meet our other ethical responsibilities."),
        _p("Our examination included obtaining an understanding of the system and the service commitments and "
           "system requirements; assessing the risks that controls were not effective; performing procedures to "
           "obtain evidence about whether controls were effective; testing the operating effectiveness of those "
           "controls; and performing such other procedures as we considered necessary in the circumstances."),
        _h2("Inherent limitations"),
        _p("There are inherent limitations in the effectiveness of any system of internal control, including the "
           "possibility of human error and the circumvention of controls. Because of their nature, controls may "
           "not always operate effectively. Projections of any evaluation of effectiveness to future periods are "
           "subject to the risk that controls may become inadequate because of changes in conditions."),
    ]
    if kind == "SOC 2":
        story += [
            _h2("Description of tests of controls"),
            _p("The specific controls we tested and the nature, timing and results of those tests are listed in "
               "Section IV of this report. For one control, the results of our tests identified a deviation, "
               "which is described in Section IV; management's response is presented in Section V, which we did "
               "not audit and on which we express no opinion."),
        ]
    story += [
        _h2("Opinion"),
        _p(f"In our opinion, {'in all material respects, ' if kind == 'SOC 2' else ''}the description presents "
           "the system that was designed and implemented throughout the period " + PERIOD + ", and the controls "
           "stated therein were suitably designed and operated effectively throughout that period to provide "
           "reasonable assurance that Halyard's service commitments and system requirements were achieved based "
           "on the applicable trust services criteria, if the complementary subservice organization controls and "
           "complementary user entity controls assumed in the design of Halyard's controls also operated "
           "effectively throughout that period."),
    ]
    if kind == "SOC 2":
        story += [
            _h2("Restricted use"),
            _p("This report, including the description of tests of controls and results thereof in Section IV, "
               "is intended solely for the information and use of Halyard, user entities of the system during "
               "some or all of the period, business partners subject to risks arising from interactions with "
               "the system, prospective user entities and business partners, practitioners providing services "
               "to them, and regulators who have sufficient knowledge and understanding of the matters it "
               "describes. It is not intended to be, and should not be, used by anyone other than these "
               "specified parties."),
        ]
    return [*story, _signature([f"**{AUDITOR}**", "Boston, Massachusetts", REPORT_DATE])]


def _management_assertion() -> Story:
    return [
        *_h1("Management's Assertion"),
        _p("We are responsible for designing, implementing, operating and maintaining effective controls within "
           "the Halyard managed data-pipeline system (the \u201csystem\u201d) throughout the period " + PERIOD
           + ", to provide reasonable assurance that Halyard's service commitments and system requirements "
           "relevant to security, availability and confidentiality were achieved."),
        _p("Our description of the boundaries of the system is presented in this report and identifies the "
           "aspects of the system covered by our assertion. Halyard uses Amazon Web Services, Google Cloud and "
           "Cloudflare as subservice organizations; the description indicates the complementary subservice "
           "organization controls assumed in the design of our controls, and does not include the controls of "
           "the subservice organizations. The description also indicates the complementary user entity controls "
           "assumed in the design of our controls."),
        _p("We have performed an evaluation of the effectiveness of the controls within the system throughout "
           "the period, based on the trust services criteria relevant to security, availability and "
           "confidentiality. Our principal service commitments and system requirements related to those "
           "criteria are presented in this report."),
        _p("There are inherent limitations in any system of internal control, including the possibility of "
           "human error and the circumvention of controls. Because of these limitations, a service organization "
           "may achieve reasonable, but not absolute, assurance that its commitments and requirements are "
           "achieved."),
        _p("We assert that the controls within the system were effective throughout the period " + PERIOD
           + ", to provide reasonable assurance that Halyard's service commitments and system requirements were "
           "achieved based on the applicable trust services criteria, if the complementary subservice "
           "organization controls and complementary user entity controls assumed in the design of Halyard's "
           "controls operated effectively throughout that period."),
        _signature(["**Halyard Systems, Inc.**", "Maren Lindqvist, Chief Executive Officer",
                    "Tomasz Okafor, Chief Information Security Officer", REPORT_DATE]),
    ]


# ---------------------------------------------------------------- SOC 2 Type II


# Control id, criteria, control activity, test performed by the service auditor.
SOC2_CONTROLS: list[tuple[str, tuple[str, ...], str, str]] = [
    ("OS-01", ("CC5.3", "CC2.2", "CC5.1"),
     "Information security policies are documented, reviewed at least annually, approved by the CISO and executive "
     "management, and published to all personnel on the intranet.",
     "Inspected the policy set, its version history and the approval record to determine that policies were "
     "reviewed and approved during the period and published to personnel."),
    ("OS-02", ("CC1.2", "CC2.2"),
     "The audit committee of the board of directors meets at least quarterly and reviews the security programme, "
     "key risks and audit results.",
     "Inspected the audit committee charter and the minutes of the meetings held during the period to determine "
     "that security was reviewed each quarter."),
    ("OS-03", ("CC1.3",),
     "An organizational chart defines reporting lines; the CISO reports to the CEO; security roles and "
     "responsibilities are documented.",
     "Inspected the organizational chart and the documented security roles and responsibilities to determine "
     "that they were current and defined reporting lines."),
    ("OS-04", ("CC1.1", "C1.1"),
     "New personnel accept the code of conduct and a confidentiality agreement before receiving access; all "
     "personnel re-acknowledge the code of conduct annually.",
     "For a sample of 25 new hires and 25 current employees, inspected signed acknowledgements to determine that "
     "they were accepted timely."),
    ("OS-05", ("CC1.4",),
     "Personnel with access to production systems complete a background check before their start date, where "
     "permitted by local law.",
     "For a sample of 25 new hires, inspected background check completion records to determine that checks were "
     "completed before the start date."),
    ("OS-06", ("CC1.4", "CC2.2"),
     "Personnel complete security awareness and privacy training within 30 days of hire and annually; quarterly "
     "phishing simulations are followed by targeted training.",
     "For a sample of 25 new hires and 25 current employees, inspected training completion records; inspected "
     "the results of the four phishing simulations performed during the period."),
    ("OS-07", ("CC1.5",),
     "Security responsibilities are included in job descriptions and performance reviews; a disciplinary process "
     "addresses policy violations.",
     "Inspected job descriptions for a sample of 10 roles and the performance review template; inspected the "
     "disciplinary policy and its approval."),
    ("SP-01", ("CC3.1", "CC3.2", "CC3.3", "CC3.4", "CC9.1"),
     "A risk assessment covering security, availability, confidentiality, fraud and significant changes is "
     "performed annually; risks are scored, and treatment plans have owners and due dates.",
     "Inspected the risk assessment performed during the period and the risk register to determine that risks "
     "were identified, scored and assigned treatment plans, including fraud and change-related risks."),
    ("SP-02", ("CC4.1", "CC5.1", "CC5.2", "CC2.1"),
     "A compliance automation platform continuously monitors cloud, identity and endpoint configuration against "
     "defined tests; failing tests create tickets assigned to control owners.",
     "Inspected the monitoring platform's test configuration and, for a sample of 25 failing tests, the related "
     "tickets to determine that they were assigned and resolved."),
    ("SP-03", ("CC4.1", "CC4.2"),
     "The security team performs quarterly internal control reviews; deficiencies are reported to management and "
     "tracked to remediation.",
     "Inspected the quarterly internal review reports and the deficiency log for the period to determine that "
     "reviews occurred and deficiencies were tracked to remediation."),
    ("SP-04", ("CC7.1",),
     "Infrastructure, container images and dependencies are scanned continuously; vulnerabilities are remediated "
     "within 7 days (critical), 30 days (high) and 90 days (medium).",
     "Inspected scanner configuration; for a sample of 25 vulnerabilities identified during the period, "
     "inspected the remediation tickets to determine that they were remediated within the defined timeframes."),
    ("SP-05", ("CC7.2", "CC7.3", "CC2.1"),
     "Logs from infrastructure, applications, identity and security tools are centralized and retained for 13 "
     "months; detection rules alert the on-call engineer.",
     "Inspected the log source inventory, retention settings and detection rules; for a sample of 25 alerts, "
     "inspected evidence of triage."),
    ("SP-06", ("CC6.7", "CC6.8"),
     "Company laptops are centrally managed with full-disk encryption, automatic updates, screen lock and "
     "endpoint detection and response.",
     "Inspected the device management configuration; for a sample of 25 laptops, inspected encryption and "
     "endpoint detection status."),
    ("SP-07", ("CC6.5", "CC2.1"),
     "Cloud resources and laptops are inventoried automatically; retired laptops are wiped by a certified "
     "vendor and certificates of destruction are retained.",
     "Inspected the asset inventory; for a sample of 10 retired laptops, inspected certificates of destruction."),
    ("IS-01", ("CC6.1", "CC6.6"),
     "Each environment and region runs in a separate VPC; security groups deny traffic by default; only load "
     "balancers behind the edge provider accept traffic from the internet.",
     "Inspected the network configuration of production VPCs and security groups to determine that inbound "
     "traffic was restricted as described."),
    ("IS-02", ("CC6.1", "C1.1"),
     "Databases, object storage, volumes and backups are encrypted at rest with AES-256 using keys held in a "
     "cloud key management service.",
     "Inspected encryption settings for all production databases, storage buckets and volume policies to "
     "determine that encryption at rest was enabled."),
    ("IS-03", ("CC6.7",),
     "Public endpoints accept TLS 1.2 or later only, with HSTS; internal service traffic is encrypted with "
     "mutual TLS.",
     "Inspected TLS configuration of public endpoints using a TLS scanner and the service mesh configuration to "
     "determine that encryption in transit was enforced."),
    ("IS-04", ("CC6.6",),
     "Web and API traffic passes through a web application firewall with rate limiting and DDoS mitigation.",
     "Inspected the edge configuration to determine that all public hostnames were proxied and protected by "
     "the web application firewall."),
    ("IS-05", ("CC7.1", "CC6.8"),
     "Production hosts boot from hardened images rebuilt weekly; interactive SSH access is disabled; break-glass "
     "access uses a recorded session manager.",
     "Inspected the image build pipeline and the host configuration; for a sample of 5 weeks, inspected image "
     "build records; inspected break-glass session logs."),
    ("IS-06", ("CC6.8", "CC7.2"),
     "Cloud threat detection and container runtime sensors monitor production accounts and workloads and alert "
     "the security on-call engineer.",
     "Inspected the threat detection configuration across production accounts; for a sample of 15 alerts, "
     "inspected triage evidence."),
    ("IS-07", ("CC7.1", "CC8.1"),
     "Production infrastructure is defined as code; configuration drift is detected daily and corrected or "
     "reviewed as a change.",
     "Inspected the drift detection job configuration and, for a sample of 10 drift reports, evidence of "
     "resolution."),
    ("IS-08", ("CC6.1", "C1.1"),
     "Encryption keys are rotated annually; connector credentials are envelope-encrypted with per-tenant keys; "
     "key administration is restricted to the security team.",
     "Inspected key rotation settings and the key policies to determine that rotation was enabled and "
     "administrative access was restricted."),
    ("AC-01", ("CC6.1", "CC6.2"),
     "Personnel authenticate to internal systems through single sign-on with phishing-resistant multi-factor "
     "authentication.",
     "Inspected the identity provider's authentication policies and the list of connected applications to "
     "determine that multi-factor authentication was enforced."),
    ("AC-02", ("CC6.3", "CC6.1"),
     "Access is granted through role-based groups; access to production data requires a time-limited elevation "
     "approved by a second engineer.",
     "For a sample of 25 production elevations, inspected the request, approval and expiry to determine that "
     "each was approved by a second engineer and expired within 8 hours."),
    ("AC-03", ("CC6.2", "CC6.3"),
     "System owners review user access to production systems and critical applications quarterly; "
     "inappropriate access is removed.",
     "For each quarter of the period, inspected the access reviews for production systems and critical "
     "applications and evidence that access flagged for removal was removed."),
    ("AC-04", ("CC6.2",),
     "Access is revoked within one business day of termination, triggered from the HR system through the "
     "identity provider.",
     "For a sample of 25 terminations, inspected the termination date and the date access was removed from the "
     "identity provider and applications not connected to single sign-on."),
    ("AC-05", ("CC6.1", "CC7.2"),
     "Privileged sessions and elevations are logged to the security information and event management system.",
     "Inspected the logging configuration and, for a sample of 25 elevations, the corresponding log entries."),
    ("PS-01", ("CC8.1", "CC3.2"),
     "New features and significant changes receive a threat model and security design review before "
     "development.",
     "For a sample of 10 significant changes, inspected the threat model and security review."),
    ("PS-02", ("CC7.1", "CC8.1"),
     "Pull requests are scanned by static analysis, dependency and container scanners; high severity findings "
     "block the merge.",
     "Inspected the CI configuration; for a sample of 40 changes, inspected scan results before merge."),
    ("PS-03", ("CC6.1", "CC8.1"),
     "Pre-commit hooks and CI scan changes for credentials; a detected secret blocks the change and is rotated.",
     "Inspected the secret scanning configuration and, for all 3 detections during the period, evidence of "
     "rotation."),
    ("PS-04", ("CC4.1", "CC7.1"),
     "An independent firm performs a penetration test at least annually; findings are remediated within "
     "vulnerability SLAs and retested.",
     "Inspected the penetration test report and the retest letter to determine that findings were remediated "
     "and retested."),
    ("PS-05", ("CC2.3", "CC7.1"),
     "A published vulnerability disclosure policy describes how to report vulnerabilities; reports are "
     "acknowledged within two business days.",
     "Inspected the published policy; for all 14 reports received during the period, inspected the "
     "acknowledgement dates."),
    ("PS-06", ("CC6.1", "C1.1"),
     "Each pipeline run executes in an isolated container with short-lived credentials and per-tenant "
     "encryption keys.",
     "Inspected the worker isolation configuration and observed a pipeline run to determine that it executed "
     "with tenant-scoped credentials."),
    ("PS-07", ("CC6.1", "CC6.2"),
     "Customers can enforce SAML or OIDC single sign-on, provision users with SCIM and assign role-based "
     "permissions.",
     "Observed the configuration of single sign-on, SCIM provisioning and roles in a test organization."),
    ("PS-08", ("CC7.2",),
     "Sign-ins, configuration changes and credential updates are recorded in a customer-visible audit log.",
     "Observed configuration changes in a test organization and inspected the corresponding audit log entries."),
    ("CM-01", ("CC8.1",),
     "Branch protection requires approval by a reviewer other than the author before changes merge to the main "
     "branch.",
     "Inspected branch protection settings; for a sample of 40 changes, inspected approval by a reviewer other "
     "than the author."),
    ("CM-02", ("CC8.1",),
     "Changes are deployed only through the CI/CD pipeline after automated tests pass.",
     "Inspected pipeline configuration; for a sample of 40 deployments, inspected passing test results."),
    ("CM-03", ("CC8.1", "C1.1"),
     "Development, staging and production are separate cloud accounts; production customer data is not used "
     "outside production.",
     "Inspected the cloud account structure and the data handling policy; inquired of engineering management."),
    ("CM-04", ("CC8.1",),
     "Emergency changes are reviewed and approved retroactively within two business days.",
     "For all 6 emergency changes during the period, inspected the retroactive review and approval."),
    ("CM-05", ("CC8.1", "CC5.2"),
     "Infrastructure changes are reviewed and approved in the pull request before the pipeline applies them.",
     "For a sample of 25 infrastructure changes, inspected the approval before apply."),
    ("DP-01", ("C1.1",),
     "Data is classified as public, internal, confidential or customer data, with handling rules for each "
     "class.",
     "Inspected the data classification policy and its approval."),
    ("DP-02", ("C1.2", "CC6.5"),
     "Staged pipeline data is purged after 7 days; customer data is deleted within 30 days of termination.",
     "Inspected the staging lifecycle rules; for a sample of 10 terminated customers, inspected deletion "
     "records."),
    ("DP-03", ("C1.1", "CC6.7"),
     "Customer pipeline data is processed and staged only in the region the customer selects.",
     "Inspected region routing configuration and observed a pipeline run in the EU region."),
    ("IR-01", ("CC7.3", "CC7.4"),
     "An incident response plan defines severity levels, roles and communications; it is tested annually.",
     "Inspected the plan and the report of the tabletop exercise held on May 21, 2026."),
    ("IR-02", ("CC7.2", "CC7.4"),
     "Engineers are on call 24 hours a day; critical alerts are acknowledged within 15 minutes.",
     "Inspected on-call schedules; for a sample of 25 critical alerts, inspected acknowledgement times."),
    ("IR-03", ("CC7.3",),
     "Security alerts are triaged within 30 minutes; events that may affect customer data become incidents.",
     "For a sample of 25 security alerts, inspected triage records and escalation decisions."),
    ("IR-04", ("CC2.3", "CC7.4"),
     "Affected customers are notified within 72 hours of a confirmed security incident affecting their data.",
     "Inquired of the CISO and inspected the incident log; no incidents requiring customer notification "
     "occurred during the period, so the operating effectiveness of the notification could not be tested."),
    ("IR-05", ("CC7.5", "CC4.2"),
     "Significant incidents receive a post-incident review; corrective actions are tracked to completion.",
     "For all 4 significant incidents during the period, inspected the review and the corrective action "
     "tickets."),
    ("BC-01", ("A1.2",),
     "Databases are backed up continuously with 35 days of point-in-time recovery; daily encrypted snapshots "
     "are copied to a second region.",
     "Inspected backup configuration and, for a sample of 10 days, cross-region snapshot copies."),
    ("BC-02", ("A1.3",),
     "Restores from backup are tested quarterly and recovery times are recorded.",
     "Inspected the restore test records for each quarter of the period."),
    ("BC-03", ("A1.2",),
     "Production services run in at least three availability zones per region with automatic replacement of "
     "failed instances.",
     "Inspected cluster and database configuration for multi-zone deployment."),
    ("BC-04", ("A1.1",),
     "Capacity is monitored with alerts; workers scale automatically; capacity is reviewed monthly.",
     "Inspected monitoring and autoscaling configuration and, for a sample of 3 months, the capacity reviews."),
    ("BC-05", ("A1.3", "CC9.1"),
     "The disaster recovery plan is exercised annually by failing the control plane over to a second region.",
     "Inspected the disaster recovery plan and the exercise report of April 29, 2026."),
    ("BC-06", ("CC9.1",),
     "A business continuity plan covers loss of offices, key personnel and critical vendors; it is reviewed "
     "annually.",
     "Inspected the business continuity plan and evidence of its review during the period."),
    ("BC-07", ("CC2.3", "A1.1"),
     "Service status, incidents and maintenance are published on a status page customers can subscribe to.",
     "Inspected the status page and, for the 4 significant incidents, the published notices."),
    ("VM-01", ("CC9.2",),
     "Vendors handling customer data or supporting production are risk-assessed before engagement.",
     "For all 3 new vendors of that kind engaged during the period, inspected the assessment before engagement."),
    ("VM-02", ("CC9.2", "CC4.1"),
     "Critical vendors' assurance reports are reviewed annually, including complementary controls.",
     "Inspected the annual reviews of the SOC 2 reports of the subservice organizations."),
    ("VM-03", ("CC9.2",),
     "Subprocessors sign a data processing agreement with security and breach notification obligations.",
     "For a sample of 10 subprocessors, inspected the signed data processing agreement."),
    ("VM-04", ("CC2.3",),
     "Customers receive at least 30 days' notice before a new subprocessor processes their data.",
     "For the new subprocessor added during the period, inspected the notice date and effective date."),
]

# Control id prefix: the domain's name and the person the auditor asked about its controls.
DOMAINS: dict[str, tuple[str, str]] = {
    "OS": ("Organizational security", "VP People and the CISO"),
    "SP": ("Internal security procedures", "Director of Security Operations"),
    "IS": ("Infrastructure security", "Head of Site Reliability Engineering"),
    "AC": ("Access control", "IT and Identity Manager"),
    "PS": ("Product security", "Product Security Lead"),
    "CM": ("Change management", "VP Engineering"),
    "DP": ("Data and privacy", "Data Protection Officer"),
    "IR": ("Incident response", "Director of Security Operations"),
    "BC": ("Business continuity", "Head of Site Reliability Engineering"),
    "VM": ("Vendor management", "Security Compliance Manager"),
}

# How often each control operates (drives the auditor's sample size).
FREQUENCY: dict[str, str] = {
    "OS-01": "Annual", "OS-02": "Quarterly", "OS-03": "Annual", "OS-04": "At hire; annual", "OS-05": "At hire",
    "OS-06": "At hire; annual", "OS-07": "Annual", "SP-01": "Annual", "SP-02": "Continuous",
    "SP-03": "Quarterly", "SP-04": "Continuous", "SP-05": "Continuous", "SP-06": "Continuous",
    "SP-07": "Continuous; as needed", "IS-01": "Continuous", "IS-02": "Continuous", "IS-03": "Continuous",
    "IS-04": "Continuous", "IS-05": "Weekly", "IS-06": "Continuous", "IS-07": "Daily", "IS-08": "Annual",
    "AC-01": "Continuous", "AC-02": "Per request", "AC-03": "Quarterly", "AC-04": "Per termination",
    "AC-05": "Continuous", "PS-01": "Per significant change", "PS-02": "Per change", "PS-03": "Per change",
    "PS-04": "Annual", "PS-05": "Per report", "PS-06": "Continuous", "PS-07": "Continuous",
    "PS-08": "Continuous", "CM-01": "Per change", "CM-02": "Per change", "CM-03": "Continuous",
    "CM-04": "Per emergency change", "CM-05": "Per change", "DP-01": "Annual", "DP-02": "Daily; per termination",
    "DP-03": "Continuous", "IR-01": "Annual", "IR-02": "Continuous", "IR-03": "Per alert",
    "IR-04": "Per incident", "IR-05": "Per incident", "BC-01": "Continuous; daily", "BC-02": "Quarterly",
    "BC-03": "Continuous", "BC-04": "Continuous; monthly", "BC-05": "Annual", "BC-06": "Annual",
    "BC-07": "Per incident", "VM-01": "Per new vendor", "VM-02": "Annual", "VM-03": "Per new vendor",
    "VM-04": "Per new subprocessor",
}

# Halyard's own mapping of its controls to ISO/IEC 27001:2022 Annex A (unaudited, Section V).
ANNEX_A: dict[str, str] = {
    "OS-01": "5.1, 5.37", "OS-02": "5.4, 5.35", "OS-03": "5.2, 5.3", "OS-04": "6.2, 6.6", "OS-05": "6.1",
    "OS-06": "6.3", "OS-07": "6.4", "SP-01": "5.7, 5.31", "SP-02": "5.36, 8.9", "SP-03": "5.35, 5.36",
    "SP-04": "8.8", "SP-05": "8.15, 8.16", "SP-06": "8.1, 8.7", "SP-07": "5.9, 7.14", "IS-01": "8.20, 8.22",
    "IS-02": "8.24", "IS-03": "8.24, 5.14", "IS-04": "8.20, 8.23", "IS-05": "8.9, 8.19", "IS-06": "8.7, 8.16",
    "IS-07": "8.9, 8.32", "IS-08": "8.24", "AC-01": "5.16, 5.17, 8.5", "AC-02": "5.15, 8.2, 8.3",
    "AC-03": "5.18", "AC-04": "5.18, 6.5", "AC-05": "8.2, 8.15", "PS-01": "8.25, 8.26, 8.27",
    "PS-02": "8.28, 8.29", "PS-03": "8.4, 8.28", "PS-04": "8.29, 8.34", "PS-05": "5.5, 8.8", "PS-06": "8.3, 8.22",
    "PS-07": "5.15, 8.5", "PS-08": "8.15", "CM-01": "8.32, 8.4", "CM-02": "8.29, 8.32", "CM-03": "8.31",
    "CM-04": "8.32", "CM-05": "8.9, 8.32", "DP-01": "5.12, 5.13", "DP-02": "8.10, 5.33", "DP-03": "5.34",
    "IR-01": "5.24", "IR-02": "5.24, 5.26", "IR-03": "5.25", "IR-04": "5.26, 6.8", "IR-05": "5.27",
    "BC-01": "8.13", "BC-02": "8.13", "BC-03": "8.14", "BC-04": "8.6", "BC-05": "5.30", "BC-06": "5.29",
    "BC-07": "5.24", "VM-01": "5.19, 5.21", "VM-02": "5.22, 5.23", "VM-03": "5.20", "VM-04": "5.20",
}

_DEVIATION = ("AC-04", "Exception noted. For 1 of 25 terminations sampled, access to the status page administration "
              "tool, which is not connected to single sign-on, was removed six business days after termination. "
              "No activity occurred on the account after the termination date.")


def _soc2_criterion_tables() -> Story:
    """Section IV: every criterion in scope with the controls that address it and the test results."""
    story: Story = []
    by_criterion: dict[str, list[tuple[str, str, str]]] = {}
    for control_id, criteria, activity, test in SOC2_CONTROLS:
        for criterion in criteria:
            by_criterion.setdefault(criterion, []).append((control_id, activity, test))
    groups = [("Common criteria (security)", "CC"), ("Additional criteria for availability", "A"),
              ("Additional criteria for confidentiality", "C")]
    for title, prefix in groups:
        story += [CondPageBreak(200), _h2(title)]
        for criterion, criterion_title in tsc.CRITERIA.items():
            if criterion.rstrip("0123456789.") != prefix:
                continue
            story.append(_h3(f"{criterion} \u2014 {criterion_title}"))
            rows = by_criterion.get(criterion, [])
            if not rows:
                story.append(_p("The criterion is met by controls at the subservice organizations (carve-out); "
                                "see Section III.", "small"))
                continue
            table_rows = [[control_id, activity, f"Inquired of the {DOMAINS[control_id[:2]][1]} about the control. "
                           f"{test}", _DEVIATION[1] if control_id == _DEVIATION[0] else "No exceptions noted."]
                          for control_id, activity, test in rows]
            story.append(_table(["Control", "Control activity specified by Halyard",
                                 "Test performed by the service auditor", "Result"], table_rows,
                                [0.55, 2.1, 2.1, 1.05]))
    return story


def _control_activities() -> Story:
    """Section III: the control activities by domain, with how often each operates."""
    story: Story = [_h2("Control activities"),
                    _p("Halyard's control activities are designed to meet the applicable trust services criteria. "
                       "They are listed below by domain and again, with the criteria they address and the tests "
                       "performed, in Section IV. Although presented in Section IV, they are an integral part of "
                       "this description.")]
    for prefix, (domain, _owner) in DOMAINS.items():
        rows = [[control_id, activity, FREQUENCY[control_id]]
                for control_id, _criteria, activity, _test in SOC2_CONTROLS if control_id.startswith(prefix)]
        story += [_h3(domain), _table(["Control", "Control activity", "Frequency"], rows, [0.6, 4.3, 1.1])]
    return story


def _data_flow() -> Story:
    return [
        _h2("Processing of customer data"),
        _p("A pipeline run processes customer data in the following steps; each step runs in the region the "
           "customer selected for the pipeline."),
        *[Paragraph(_markup(step), STYLES["bullet"], bulletText=f"{number}.") for number, step in enumerate([
            "The scheduler in the control plane starts a run and requests short-lived, run-scoped credentials "
            "from the secrets service.",
            "An isolated worker container starts in the execution plane of the selected region and receives the "
            "decrypted connector credentials over mutual TLS; they exist only in the container's memory.",
            "The worker extracts changed records from the source over an encrypted connection, applies the "
            "customer's transformations and column rules, and writes batches to encrypted staging storage.",
            "The worker loads the batches into the destination and records row counts, schema changes and errors "
            "in the control plane. It does not record the content of the data.",
            "The container and its credentials are destroyed at the end of the run. Staged batches are purged by "
            "a lifecycle rule after 7 days.",
        ], 1)],
    ]


def _policies() -> Story:
    return [
        _h2("Policies"),
        _table(["Policy", "Owner", "Last reviewed"], [
            ["Information Security Policy", "CISO", "June 9, 2026"],
            ["Acceptable Use Policy", "CISO", "June 9, 2026"],
            ["Access Control Policy", "IT and Identity Manager", "June 9, 2026"],
            ["Secure Development Policy", "Product Security Lead", "June 9, 2026"],
            ["Change Management Policy", "VP Engineering", "June 9, 2026"],
            ["Vulnerability Management Policy", "Director of Security Operations", "June 9, 2026"],
            ["Logging and Monitoring Standard", "Director of Security Operations", "June 9, 2026"],
            ["Incident Response Plan", "Director of Security Operations", "May 14, 2026"],
            ["Business Continuity and Disaster Recovery Plan", "Head of Site Reliability Engineering",
             "April 2, 2026"],
            ["Data Classification and Retention Policy", "Data Protection Officer", "June 9, 2026"],
            ["Encryption and Key Management Standard", "Head of Site Reliability Engineering", "June 9, 2026"],
            ["Vendor Management Policy", "Security Compliance Manager", "June 9, 2026"],
            ["Human Resources Security Policy", "VP People", "June 9, 2026"],
            ["Risk Management Policy", "CISO", "June 9, 2026"],
        ], [3.0, 2.2, 1.2]),
    ]


def _sampling() -> Story:
    return [
        _h2("Sampling"),
        _p("Where a control operated many times during the period, the auditor tested a sample. Samples were "
           "selected at random from complete populations whose completeness and accuracy were tested first."),
        _table(["Frequency of the control", "Minimum sample"], [
            ["Annual", "1"], ["Quarterly", "2"], ["Monthly", "2"], ["Weekly", "5"], ["Daily", "25"],
            ["Multiple times a day, or per event", "25 to 40, depending on the population"],
            ["Automated (configured once)", "1, with testing of the change controls over the configuration"],
        ], [3.5, 2.5]),
    ]


def _cross_reference() -> Story:
    rows = []
    for criterion, title in tsc.CRITERIA.items():
        if criterion.rstrip("0123456789.") not in ("CC", "A", "C"):
            continue
        controls = [control_id for control_id, criteria, _activity, _test in SOC2_CONTROLS if criterion in criteria]
        rows.append([criterion, title, ", ".join(controls) or "Subservice organizations (carve-out)"])
    return [_h2("Cross-reference of criteria to controls"),
            _table(["Criterion", "Title", "Controls"], rows, [0.8, 3.0, 2.2])]


def _annex_a_mapping() -> Story:
    rows = [[control_id, DOMAINS[control_id[:2]][0], ANNEX_A[control_id]]
            for control_id, _criteria, _activity, _test in SOC2_CONTROLS]
    return [_h2("Mapping of controls to ISO/IEC 27001:2022 Annex A"),
            _p("Halyard's information security management system is certified against ISO/IEC 27001:2022 "
               "(certificate MAR-ISMS-25-04187, valid until April 13, 2028). For customers who assess vendors "
               "against Annex A, management maps each control in this report to the Annex A controls it "
               "supports."),
            _table(["Control", "Domain", "ISO/IEC 27001:2022 Annex A"], rows, [0.8, 2.6, 2.6])]


def _csocs() -> Story:
    rows = [
        ["1", "AWS, Google Cloud", "Physical access to data centres is restricted to authorized personnel and "
         "monitored.", "CC6.4"],
        ["2", "AWS, Google Cloud", "Storage media are securely decommissioned and destroyed before disposal.",
         "CC6.5, C1.2"],
        ["3", "AWS, Google Cloud", "Environmental protections (power, cooling, fire suppression) are maintained "
         "and tested.", "A1.2"],
        ["4", "AWS, Google Cloud", "Changes to the underlying infrastructure and managed services are authorized, "
         "tested and approved.", "CC8.1"],
        ["5", "AWS, Google Cloud", "Logical access to the hypervisor and management networks is restricted to "
         "authorized personnel.", "CC6.1, CC6.3"],
        ["6", "AWS, Google Cloud", "Key management services protect key material in hardware security modules and "
         "enforce key policies.", "CC6.1"],
        ["7", "AWS, Google Cloud", "Managed database and storage services replicate data across availability "
         "zones as configured.", "A1.2"],
        ["8", "Cloudflare", "Access to the edge platform's production systems is restricted and reviewed.",
         "CC6.1, CC6.2"],
        ["9", "Cloudflare", "The edge network is monitored for availability, and DDoS mitigation operates "
         "continuously.", "CC6.6, A1.1"],
        ["10", "All", "Security incidents affecting Halyard's services are communicated to Halyard in a timely "
         "manner.", "CC7.3, CC7.4"],
    ]
    return [_h3("Complementary subservice organization controls expected"),
            _table(["#", "Subservice organization", "Control expected", "Criteria"], rows, [0.3, 1.4, 3.4, 0.9]),
            _p("Halyard monitors the subservice organizations by reviewing their SOC 2 Type II reports every year, "
               "including the complementary user entity controls they expect from Halyard, and by following their "
               "security bulletins and status pages.")]


def _soc2_other_information() -> Story:
    months = ["October 2025", "November 2025", "December 2025", "January 2026", "February 2026", "March 2026",
              "April 2026", "May 2026", "June 2026", "July 2026", "August 2026", "September 2026"]
    availability = ["99.99%", "99.97%", "100.00%", "99.93%", "99.99%", "99.98%", "100.00%", "99.96%", "99.99%",
                    "99.91%", "99.99%", "100.00%"]
    return [
        _h2("Service availability during the period"),
        _p("Monthly availability of the control plane and API as measured by external probes, against the "
           "commitment of 99.9%. Pipeline runs delayed by source or destination outages are excluded."),
        _table(["Month", "Availability", "Month", "Availability"],
               [[months[i], availability[i], months[i + 6], availability[i + 6]] for i in range(6)],
               [1.6, 1.2, 1.6, 1.2]),
        _h2("Review of subservice organization reports"),
        _table(["Organization", "Report reviewed", "Opinion", "Relevant exceptions"], [
            ["Amazon Web Services", "SOC 2 Type II, April 1, 2025 to March 31, 2026", "Unqualified", "None"],
            ["Google Cloud", "SOC 2 Type II, May 1, 2025 to April 30, 2026", "Unqualified", "None"],
            ["Cloudflare", "SOC 2 Type II, January 1 to December 31, 2025", "Unqualified", "None"],
        ], [1.5, 2.6, 1.0, 1.1]),
        _h2("Glossary"),
        _table(["Term", "Meaning"], [
            ["Carve-out method", "Presentation in which the subservice organization's controls are excluded from "
             "the description and from the scope of the examination."],
            ["Complementary user entity control (CUEC)", "A control that the service organization assumes its "
             "customers operate, and that is needed to meet the criteria."],
            ["Control plane", "The part of Halyard that holds configuration and schedules runs."],
            ["Execution plane", "The part of Halyard, per region, where pipeline runs process customer data."],
            ["Exception (deviation)", "A test result showing that a control did not operate as described in an "
             "instance tested."],
            ["Service commitments", "Declarations made by Halyard to its customers about the system, in contracts, "
             "service level agreements and published documentation."],
            ["System requirements", "The specifications of how the system should function to meet the service "
             "commitments."],
            ["Trust services criteria (TSC)", "The AICPA criteria used to evaluate controls over security, "
             "availability, processing integrity, confidentiality and privacy."],
            ["Type II report", "A report on the fairness of the description and on the suitability of the design "
             "and the operating effectiveness of controls throughout a period."],
        ], [2.0, 4.0]),
    ]


def _soc2_story() -> Story:
    story = _cover(
        "Report on Halyard Systems, Inc.'s Description of Its Managed Data-Pipeline System and on the Suitability "
        "of the Design and Operating Effectiveness of Its Controls",
        ["Relevant to security, availability and confidentiality", f"For the period {PERIOD}"],
        [("Report", "SOC 2 Type II (AICPA AT-C section 205)"), ("Service organization", COMPANY),
         ("Period", PERIOD), ("Report date", REPORT_DATE), ("Service auditor", AUDITOR),
         ("Trust services criteria", "Security, availability, confidentiality (2017 TSC, revised 2022)")],
        "**Confidential.** This report is intended solely for the specified parties named in Section I. It is "
        "provided under a non-disclosure agreement and may not be copied or redistributed. Each copy is marked with "
        "the name of its recipient.",
    )
    story += _contents_page()
    story += [_p("SECTION I", "label"), *_auditor_report("SOC 2"), PageBreak()]
    story += [_p("SECTION II", "label"), *_management_assertion(), PageBreak()]
    story += [_p("SECTION III", "label"), *_h1("Description of the Halyard Managed Data-Pipeline System"),
              *_system_overview(),
              _h2("Principal service commitments and system requirements"),
              _p("Halyard's service commitments are documented in the customer agreement, the service level "
                 "agreement, the Data Processing Addendum and the security documentation on its trust center. "
                 "System requirements are the operational and technical requirements Halyard has established to "
                 "meet them, documented in its policies and procedures."),
              _table(["Category", "Principal commitments"], _COMMITMENTS, [1.2, 4.8]),
              *_boundaries(),
              *_data_flow(),
              *_policies(),
              _h2("Control environment"),
              *_paras(
                  "Integrity and ethical values are set out in the code of conduct, which personnel accept at hire "
                  "and annually. The board of directors exercises oversight through its audit committee, which "
                  "meets quarterly and receives reports from the CISO. The organizational structure assigns "
                  "authority and responsibility through documented reporting lines and job descriptions.",
                  "Halyard's commitment to competence is supported by defined hiring criteria, background checks, "
                  "onboarding, and annual training. Personnel are held accountable for their security "
                  "responsibilities through performance reviews and a disciplinary process."),
              _h2("Risk assessment"),
              _p("The security team leads an annual risk assessment, updated when significant changes occur, "
                 "such as the launch of a new processing region. Risks, including the risk of fraud, are scored "
                 "for likelihood and impact; risks above the appetite set by executive management receive a "
                 "treatment plan with an owner and due date, tracked in the risk register."),
              _h2("Information and communication"),
              _p("Policies are published on the intranet; changes are announced to personnel. Customers are "
                 "informed of commitments through the customer agreement and the trust center, of service status "
                 "through the status page, and of changes to subprocessors at least 30 days in advance."),
              _h2("Monitoring activities"),
              _p("A compliance automation platform tests control configuration continuously. The security team "
                 "performs quarterly internal control reviews, and an independent firm performs an annual "
                 "penetration test. Deficiencies are reported to management and tracked to remediation."),
              *_control_activities(),
              _h2("Complementary subservice organization controls"),
              _p("Halyard's controls were designed with the assumption that the following subservice "
                 "organizations implement certain controls (carve-out method)."),
              _table(["Subservice organization", "Service", "Controls expected", "Criteria"], SUBSERVICE,
                     [1.3, 1.6, 2.4, 0.9]),
              *_csocs(),
              _h2("Complementary user entity controls"),
              _p("Halyard's controls were designed with the assumption that user entities implement the controls "
                 "below. User entities should evaluate whether they have done so."),
              _table(["#", "Complementary user entity control"],
                     [[str(number), text] for number, text in enumerate(CUECS, 1)], [0.3, 5.7]),
              _h2("Trust services criteria not applicable"),
              _p("All criteria relevant to security, availability and confidentiality are applicable. Criterion "
                 "CC6.4 (physical access) is met by controls at the subservice organizations; Halyard operates "
                 "no data centres and holds no customer data in its offices."),
              _h2("Significant changes during the period"),
              *_bullets([
                  "March 2026: the Australia (Sydney) processing region became generally available.",
                  "February 2026: incident coordination moved to a dedicated incident management service.",
                  "Throughout the period: workforce authentication began moving to passkeys.",
              ]),
              _h2("Incidents during the period"),
              _p("No security incident affected the confidentiality of customer data during the period. Four "
                 "availability incidents exceeded 30 minutes of degraded service; each was communicated on the "
                 "status page and received a post-incident review."),
              PageBreak()]
    story += [_p("SECTION IV", "label"),
              *_h1("Trust Services Criteria, Related Controls, Tests of Controls and Results"),
              _p("The examination was performed in accordance with AT-C section 205. Tests of operating "
                 "effectiveness covered the period " + PERIOD + " and combined the following types of procedure:"),
              _table(["Test", "Description"], [
                  ["Inquiry", "Inquired of appropriate personnel and corroborated the responses."],
                  ["Observation", "Observed the application, performance or existence of the control."],
                  ["Inspection", "Inspected documents, records and system configuration showing the control "
                   "operated."],
                  ["Reperformance", "Independently performed the control and compared the outcome."],
              ], [1.2, 4.8]),
              _p("Inquiry alone was not used as evidence of operating effectiveness. Sample sizes were set by the "
                 "frequency of the control, following the AICPA guide *SOC 2 Reporting on an Examination of "
                 "Controls at a Service Organization*. Where a control operates automatically, one instance was "
                 "tested together with the change controls over its configuration."),
              *_sampling(), *_cross_reference(), PageBreak(),
              *_soc2_criterion_tables(), PageBreak()]
    story += [_p("SECTION V", "label"), *_h1("Other Information Provided by Management"),
              _p("The information in this section is presented by Halyard to provide additional information. It "
                 "is not part of the description of the system and was not subjected to the procedures applied "
                 "in the examination; the service auditor expresses no opinion on it.", "small"),
              _h2("Management's response to the exception noted"),
              _table(["Control", "Exception", "Management's response"], [
                  ["AC-04", "For 1 of 25 terminations, access to the status page administration tool was removed "
                   "six business days after termination.",
                   "The tool was the last application not connected to single sign-on. It was connected to the "
                   "identity provider on October 14, 2026, so that access now ends automatically with the "
                   "identity. A review of the tool's audit log confirmed the account was not used after the "
                   "termination date."],
              ], [0.6, 2.2, 3.2]),
              _h2("Planned improvements"),
              *_bullets([
                  "Customer-managed encryption keys (general availability planned for Q1 2027).",
                  "Passkeys for all personnel by the end of Q1 2027.",
                  "A SOC 1 Type I examination as of December 31, 2026.",
              ]),
              *_soc2_other_information(),
              *_annex_a_mapping()]
    return story


# ---------------------------------------------------------------- penetration test


def _pentest_story() -> Story:
    findings = [
        ["HAL-26-01", "Webhook target validation allowed requests to link-local addresses (SSRF)", "High", "7.7",
         "Fixed, retested"],
        ["HAL-26-02", "Session not invalidated on all devices after password change", "Medium", "5.4",
         "Fixed, retested"],
        ["HAL-26-03", "Verbose error messages disclosed internal hostnames in one API endpoint", "Medium", "5.3",
         "Fixed, retested"],
        ["HAL-26-04", "Missing rate limit on SCIM token validation endpoint", "Medium", "5.3", "Fixed, retested"],
        ["HAL-26-05", "CSV export susceptible to spreadsheet formula injection", "Low", "3.5", "Fixed, retested"],
        ["HAL-26-06", "Content-Security-Policy allowed inline styles on two legacy pages", "Low", "3.1",
         "Fixed, retested"],
        ["HAL-26-07", "Invitation links valid for 14 days instead of the documented 7", "Low", "3.1",
         "Fixed, retested"],
        ["HAL-26-08", "Outdated TLS cipher suite offered on a status callback endpoint", "Low", "2.6",
         "Fixed, retested"],
        ["HAL-26-09", "User enumeration through timing of the password reset form", "Low", "3.7",
         "Risk accepted (mitigated by rate limiting)"],
        ["HAL-26-10", "Security headers missing on the static documentation host", "Informational", "\u2014",
         "Fixed"],
        ["HAL-26-11", "Server version banner on the metrics endpoint", "Informational", "\u2014", "Fixed"],
        ["HAL-26-12", "Unused IAM role with broad read permissions in staging", "Informational", "\u2014", "Fixed"],
        ["HAL-26-13", "Recommendation: sign webhook payloads with rotating keys", "Informational", "\u2014",
         "Planned"],
    ]
    story = _cover(
        "Penetration Test Executive Summary 2026",
        ["Halyard web application, public API and pipeline execution plane", f"Prepared by {PENTEST_FIRM}"],
        [("Client", COMPANY), ("Testing window", "June 29 to July 24, 2026"),
         ("Report issued", "July 31, 2026"), ("Retest completed", "August 18, 2026"),
         ("Version", "1.1 (August 21, 2026)"), ("Overall risk", "Low (after remediation)")],
        "**Confidential.** This summary is shared under a non-disclosure agreement for the purpose of evaluating "
        "Halyard as a service provider. It omits exploit details by design.",
    )
    story += [
        *_h1("1. Executive summary"),
        _p(f"{COMPANY} engaged {PENTEST_FIRM} to perform its annual penetration test of the Halyard service. Two "
           "testers spent 36 person-days on a combined grey-box assessment: they had documentation, user accounts "
           "in two test tenants and read access to selected source code, but no privileged access."),
        _p("The test found **no critical vulnerabilities**. The most significant finding was a server-side request "
           "forgery in webhook target validation (HAL-26-01), which could have let an authenticated administrator "
           "reach the cloud metadata endpoint from a webhook worker. The worker's instance role had no access to "
           "customer data, and the finding was fixed within 48 hours of being reported."),
        _p("Tenant isolation held throughout: the testers could not read, modify or infer another tenant's "
           "pipeline data, credentials or metadata through the web application, the API or a pipeline run."),
        _table(["Severity", "Found", "Fixed and retested", "Open"], [
            ["Critical", "0", "0", "0"], ["High", "1", "1", "0"], ["Medium", "3", "3", "0"],
            ["Low", "5", "4", "1 (risk accepted)"], ["Informational", "4", "3", "1 (planned)"],
        ], [1.5, 1, 1.5, 1.5]),
        *_h1("2. Scope and approach"),
        _table(["Target", "Description", "Environment"], [
            ["Web application", "app.halyard.example: sign-in, organization and user management, pipeline "
             "configuration, audit log", "Dedicated test tenants in production"],
            ["Public API", "REST API v2 (138 endpoints) and SCIM 2.0 endpoint", "Production, test tenants"],
            ["Pipeline execution plane", "Worker containers, transformation runtime, staging storage, credential "
             "delivery", "Staging, identical to production"],
            ["Cloud configuration", "Review of IAM, network and KMS configuration in one production account",
             "Read-only review"],
        ], [1.4, 3.2, 1.6]),
        _p("Out of scope: denial-of-service testing, social engineering, physical security, and the "
           "infrastructure of Halyard's cloud and edge providers."),
        _p("The methodology followed the OWASP Web Security Testing Guide and the OWASP Application Security "
           "Verification Standard 4.0 level 2, complemented by a container escape and tenant isolation test plan "
           "agreed with Halyard. Findings are rated with CVSS 3.1 base scores."),
        *_h1("3. Findings"),
        _table(["ID", "Finding", "Severity", "CVSS", "Status"], findings, [0.9, 3.2, 0.9, 0.5, 1.3]),
        *_h1("4. Notable findings"),
        _h2("HAL-26-01 \u2014 Server-side request forgery in webhook targets (High)"),
        _p("**Description.** The webhook target validation resolved host names once at configuration time. A "
           "host name whose DNS record changed after validation could direct the webhook worker to a link-local "
           "address."),
        _p("**Impact.** An authenticated organization administrator could have made the webhook worker send "
           "requests to the instance metadata service. The worker's role had no access to customer data or "
           "secrets; the testers obtained only temporary credentials scoped to publishing metrics."),
        _p("**Remediation.** Halyard now resolves and checks the address at connection time, blocks private and "
           "link-local ranges at the egress proxy, and requires IMDSv2 with a hop limit of 1 on all workers. "
           "Retest on August 11, 2026 confirmed the fix."),
        _h2("HAL-26-02 \u2014 Sessions survived a password change (Medium)"),
        _p("**Description and impact.** Changing the password ended the current session only; sessions on other "
           "devices stayed valid until they expired after 12 hours. **Remediation.** A password change, MFA reset "
           "or removal from the organization now revokes every session of the user. Retested and closed."),
        _h2("HAL-26-03 and HAL-26-04 (Medium)"),
        _p("An error path in the connector test endpoint returned internal host names; errors are now mapped to "
           "generic messages with a correlation id. The SCIM token validation endpoint lacked the rate limit of "
           "the other API endpoints; it now shares the API limits and alerts on bursts. Both retested and closed."),
        *_h1("5. Tenant isolation assessment"),
        _p("The testers attempted to cross tenant boundaries from every position an attacker could hold:"),
        *_bullets([
            "as a user of tenant A, through the API and web application, by manipulating object identifiers, "
            "organization headers and pagination cursors (insecure direct object reference);",
            "from inside a pipeline run, by running crafted transformations that attempted to read the file "
            "system, the network, environment variables and the staging bucket of another tenant;",
            "from a connector, by supplying a malicious source that returned oversized, malformed and hostile "
            "payloads to the parsing and type-mapping code;",
            "with a stolen short-lived worker credential, by replaying it against other tenants' resources.",
        ]),
        _p("None of the attempts succeeded. Worker containers ran without privileges under a restrictive seccomp "
           "profile, egress was limited to the configured source and destination, and credentials were scoped to "
           "a single run of a single tenant and expired within 15 minutes."),
        *_h1("6. Conclusion"),
        _p("Halyard's security posture is strong for a service of its kind. The one high severity finding was "
           "limited in impact by defence in depth and was fixed promptly; all high and medium findings were "
           "verified as fixed on retest. We recommend completing the planned signing of webhook payloads "
           "(HAL-26-13) and repeating the isolation test plan after the customer-managed key feature launches."),
        _h2("Severity ratings"),
        _table(["Rating", "Meaning"], [
            ["Critical", "Direct compromise of customer data or the platform, without special conditions."],
            ["High", "Significant compromise possible under realistic conditions."],
            ["Medium", "Limited compromise, or one requiring significant preconditions."],
            ["Low", "Minor weakness with little direct impact."],
            ["Informational", "Hardening recommendation; no vulnerability."],
        ], [1.2, 4.8]),
        *_h1("Appendix A \u2014 Engagement timeline"),
        _table(["Date", "Event"], [
            ["June 12, 2026", "Scoping call; rules of engagement and test accounts agreed"],
            ["June 29, 2026", "Testing starts; daily status updates to Halyard's Product Security Lead"],
            ["July 2, 2026", "HAL-26-01 reported immediately as high severity; fix deployed July 4, 2026"],
            ["July 24, 2026", "Testing ends; debrief with Halyard engineering and security"],
            ["July 31, 2026", "Full report issued (version 1.0)"],
            ["August 11 to 18, 2026", "Retest of all remediated findings"],
            ["August 21, 2026", "Executive summary updated with retest results (version 1.1)"],
        ], [1.6, 4.4]),
        *_h1("Appendix B \u2014 Test coverage"),
        _p("Coverage of the OWASP Application Security Verification Standard 4.0 chapters, level 2."),
        _table(["Chapter", "Area", "Coverage", "Result"], [
            ["V1", "Architecture, design and threat modelling", "Reviewed", "No findings"],
            ["V2", "Authentication", "Tested", "HAL-26-09"],
            ["V3", "Session management", "Tested", "HAL-26-02, HAL-26-07"],
            ["V4", "Access control", "Tested (including tenant isolation)", "No findings"],
            ["V5", "Validation, sanitization and encoding", "Tested", "HAL-26-01, HAL-26-05"],
            ["V6", "Stored cryptography", "Reviewed", "No findings"],
            ["V7", "Error handling and logging", "Tested", "HAL-26-03"],
            ["V8", "Data protection", "Tested", "No findings"],
            ["V9", "Communication", "Tested", "HAL-26-08"],
            ["V10", "Malicious code", "Reviewed (selected source)", "No findings"],
            ["V11", "Business logic", "Tested", "HAL-26-04"],
            ["V12", "Files and resources", "Tested", "No findings"],
            ["V13", "API and web service", "Tested", "No findings"],
            ["V14", "Configuration", "Tested", "HAL-26-06, HAL-26-10, HAL-26-11"],
        ], [0.6, 2.6, 1.8, 1.6]),
        *_h1("Appendix C \u2014 Retest results"),
        _table(["ID", "Remediation by Halyard", "Retest"], [
            ["HAL-26-01", "Connection-time address validation; egress proxy blocks private and link-local ranges; "
             "IMDSv2 with hop limit 1", "Fixed (August 11)"],
            ["HAL-26-02", "All sessions revoked on password change, MFA reset or removal", "Fixed (August 11)"],
            ["HAL-26-03", "Generic error messages with correlation id", "Fixed (August 12)"],
            ["HAL-26-04", "SCIM endpoint placed under the API rate limits; burst alerting", "Fixed (August 12)"],
            ["HAL-26-05", "Cells starting with =, +, - or @ are escaped in CSV exports", "Fixed (August 13)"],
            ["HAL-26-06", "Legacy pages moved to the strict Content-Security-Policy", "Fixed (August 13)"],
            ["HAL-26-07", "Invitation links expire after 7 days", "Fixed (August 13)"],
            ["HAL-26-08", "Callback endpoint moved behind the edge TLS policy", "Fixed (August 14)"],
            ["HAL-26-09", "Risk accepted: rate limiting and uniform responses limit enumeration; constant-time "
             "reset flow scheduled for Q1 2027", "Not retested"],
            ["HAL-26-10 to 12", "Configuration changes", "Fixed (August 14)"],
        ], [1.0, 3.8, 1.2]),
        _signature([f"**{PENTEST_FIRM}**", "Lead tester: Ines Carvalho, OSCE3, CREST CCT App",
                    "Engagement manager: David Achterberg", "August 21, 2026"]),
    ]
    return story


# ---------------------------------------------------------------- SOC 3


def _soc3_story() -> Story:
    story = _cover(
        "SOC 3 Report for the Halyard Managed Data-Pipeline System",
        ["Relevant to security, availability and confidentiality", f"For the period {PERIOD}"],
        [("Report", "SOC 3 (general use)"), ("Service organization", COMPANY), ("Period", PERIOD),
         ("Report date", REPORT_DATE), ("Service auditor", AUDITOR), ("Opinion", "Unqualified")],
        "This report is intended for general use and may be distributed freely. The detailed tests of controls "
        "are in Halyard's SOC 2 Type II report, which is available under a non-disclosure agreement.",
    )
    story += _contents_page()
    story += [_p("SECTION I", "label"), *_auditor_report("SOC 3"), PageBreak()]
    story += [_p("SECTION II", "label"), *_management_assertion(), PageBreak()]
    story += [
        _p("SECTION III", "label"),
        *_h1("Description of the Boundaries of the Halyard Managed Data-Pipeline System"),
        *_system_overview(),
        *_boundaries(),
        _h2("Principal service commitments and system requirements"),
        _table(["Category", "Principal commitments"], _COMMITMENTS, [1.2, 4.8]),
        _h2("Subservice organizations"),
        _p("Halyard uses the subservice organizations below. Their controls are excluded from the scope of the "
           "examination (carve-out method); Halyard monitors them through the annual review of their own SOC 2 "
           "reports."),
        _table(["Subservice organization", "Service", "Controls expected", "Criteria"], SUBSERVICE,
               [1.3, 1.6, 2.4, 0.9]),
        _h2("Complementary user entity controls"),
        _p("Halyard's controls were designed with the assumption that its customers operate the controls below."),
        *_bullets(CUECS),
    ]
    return story


# ---------------------------------------------------------------- ISO 27001 certificate


def _certificate_story() -> Story:
    facts = _facts([
        ("Certificate number", "MAR-ISMS-25-04187"),
        ("Standard", "ISO/IEC 27001:2022"),
        ("Initial certification", "April 14, 2022"),
        ("Current certificate", "April 14, 2025"),
        ("Valid until", "April 13, 2028"),
        ("Statement of Applicability", "Version 4.2, dated February 27, 2025"),
        ("Locations", "Portland, Oregon, United States (headquarters); Dublin, Ireland"),
    ])
    return [
        Spacer(1, 6),
        _p("CERTIFICATE OF REGISTRATION", "cert_title"),
        _p("Information Security Management System", "cert_text"),
        Spacer(1, 10),
        _p("This is to certify that the management system of", "cert_text"),
        _p(COMPANY, "cert_big"),
        _p("and its subsidiary Halyard Systems Ireland Ltd.", "cert_text"),
        _p("has been assessed and found to conform to the requirements of **ISO/IEC 27001:2022** for the "
           "following scope:", "cert_text"),
        _notice("The information security management system supporting the design, development, operation and "
                "support of the Halyard managed data-pipeline service, provided from public cloud infrastructure, "
                "in accordance with the Statement of Applicability version 4.2."),
        Spacer(1, 14),
        facts,
        Spacer(1, 18),
        _p("Continued validity is subject to satisfactory annual surveillance audits. The validity of this "
           "certificate can be verified with the certification body by quoting the certificate number.", "small"),
        Spacer(1, 22),
        _signature([f"**For {REGISTRAR}**", "Eleanor Ashdown, Head of Certification",
                    "Issued April 14, 2025, London, United Kingdom"]),
    ]


# ---------------------------------------------------------------- security whitepaper


WHITEPAPER_SECTIONS = (
    "1. Introduction", "2. Architecture", "3. Data protection", "4. Identity and access", "5. Secure development",
    "6. Infrastructure and network security", "7. Monitoring and incident response", "8. Availability and recovery",
    "9. People and corporate security", "10. Vendors and subprocessors", "11. Shared responsibility",
    "12. Compliance",
)


def _whitepaper_story() -> Story:
    story = _cover(
        "Halyard Security Overview",
        ["How we protect the data that flows through your pipelines", "Version 2026.2"],
        [("Published", "October 12, 2026"), ("Audience", "Security, risk and procurement teams"),
         ("Contact", "security@halyard.example"), ("Trust center", "https://trust.halyard.example")],
        None,
    )
    story += _contents_page()
    story += [
        *_h1("1. Introduction"),
        _p("Halyard runs data pipelines for our customers: we connect to their systems, move data into their "
           "warehouses and lakes, and keep the pipelines healthy. That means we handle data our customers value "
           "highly, often while it is in motion between systems they trust. This overview describes how we "
           "protect it. Independent auditors test these controls every year; the results are on our trust "
           "center."),
        *_h1("2. Architecture"),
        _p("Halyard has two parts. The **control plane** holds configuration: your users, pipelines, schedules "
           "and run history. The **execution plane** does the work: every pipeline run starts an isolated "
           "container in the region you chose, which receives short-lived credentials for that run only, moves "
           "the data, and is destroyed when the run ends."),
        _table(["Region", "Cloud locations", "Available since"], [
            ["United States", "AWS us-east-1, us-west-2", "2021"],
            ["European Union", "AWS eu-central-1 (Frankfurt), eu-west-1 (Dublin); Google Cloud europe-west3",
             "2022"],
            ["Australia", "AWS ap-southeast-2 (Sydney)", "March 2026"],
        ], [1.4, 3.4, 1.2]),
        _p("Pipeline data never leaves the region you select. It is processed in memory and, so that failed "
           "loads can be retried without reading your source again, staged in encrypted object storage for at "
           "most 7 days."),
        *_h1("3. Data protection"),
        _table(["Data", "In transit", "At rest"], [
            ["Pipeline data", "TLS 1.2+ to sources and destinations (where the system supports it); mutual TLS "
             "inside Halyard", "AES-256 in staging, key per region, purged after 7 days"],
            ["Connector credentials", "Delivered only to the run that needs them", "Envelope encryption with a key "
             "per tenant; customer-managed keys in beta"],
            ["Account data and metadata", "TLS 1.2+", "AES-256 (Aurora, KMS-managed keys)"],
            ["Backups", "Encrypted replication", "AES-256, copied to a second region"],
        ], [1.5, 2.2, 2.3]),
        _p("Column-level controls let you exclude or hash sensitive columns in flight, so they never reach your "
           "destination. Halyard does not use customer data for any purpose other than providing the service, "
           "and never to train machine learning models."),
        *_h1("4. Identity and access"),
        _h2("For your team"),
        *_bullets([
            "SAML 2.0 and OpenID Connect single sign-on, which admins can make mandatory.",
            "SCIM 2.0 provisioning and deprovisioning.",
            "Roles: owner, admin, editor and viewer; API keys scoped to a role and expiring.",
            "An audit log of sign-ins, configuration and credential changes, exportable through the API.",
        ]),
        _h2("For Halyard staff"),
        _p("Staff sign in through single sign-on with phishing-resistant multi-factor authentication. No one has "
           "standing access to production data: an engineer who needs it requests a time-limited elevation, "
           "approved by a second engineer and logged. Access is reviewed every quarter and removed within one "
           "business day when someone leaves."),
        *_h1("5. Secure development"),
        _p("Significant features start with a threat model and a security design review. Every change is "
           "reviewed by a second engineer and passes static analysis, dependency, container and secret scanning "
           "before it can merge. Deployments run only through the CI/CD pipeline, region by region, with "
           "automatic rollback. An independent firm tests the service at least once a year, and researchers can "
           "report vulnerabilities under our disclosure policy."),
        *_h1("6. Infrastructure and network security"),
        _p("All infrastructure is defined in code and reviewed like application code. Production runs in "
           "dedicated cloud accounts, separate from development and staging, with deny-by-default networking. "
           "Hosts are built from hardened images and replaced weekly; there is no SSH into production. Public "
           "traffic passes through a web application firewall and DDoS protection."),
        *_h1("7. Monitoring and incident response"),
        _p("Logs from every layer are centralized and kept for 13 months. Detection rules page the on-call "
           "security engineer, day and night. Our incident response plan is exercised every year. If an incident "
           "affects your data, we notify you without undue delay and within 72 hours."),
        *_h1("8. Availability and recovery"),
        _table(["Measure", "Commitment"], [
            ["Availability", "99.9% monthly, with service credits"],
            ["Recovery time objective (control plane)", "4 hours"],
            ["Recovery point objective (control plane)", "1 hour"],
            ["Backups", "Continuous, 35-day point-in-time recovery, daily cross-region copies"],
            ["Testing", "Quarterly restore tests; annual regional failover exercise"],
        ], [2.6, 3.4]),
        *_h1("9. People and corporate security"),
        _p("Everyone at Halyard passes a background check where the law allows, signs a confidentiality "
           "agreement, and completes security and privacy training when they join and every year. Quarterly "
           "phishing simulations keep the training practical. Company laptops are centrally managed, with "
           "full-disk encryption, automatic updates and endpoint detection and response; personal devices cannot "
           "reach internal systems."),
        *_h1("10. Vendors and subprocessors"),
        _p("Before we engage a vendor that will handle customer data or support production, our security team "
           "assesses it, and it signs a data processing agreement. We review critical vendors every year. The "
           "current list of subprocessors, with their locations, is on our trust center; we give at least 30 "
           "days' notice before adding one, through the trust center's feed and by email."),
        *_h1("11. Shared responsibility"),
        _p("Security is shared between Halyard and each customer. The table shows who is responsible for what."),
        _table(["Area", "Halyard", "Customer"], [
            ["Infrastructure", "Cloud accounts, networks, hosts, encryption, patching", "\u2014"],
            ["Application", "Secure development, testing, vulnerability management", "Keeping API keys and "
             "webhook secrets confidential"],
            ["Identity", "SSO, SCIM, MFA and roles available; staff access", "Enforcing SSO and MFA; reviewing "
             "users and roles"],
            ["Connectors", "Encrypting and isolating credentials", "Least-privilege database users and API "
             "scopes; rotation"],
            ["Data", "Processing only in the selected region; deletion", "Choosing the region; excluding or "
             "hashing columns that should not be replicated"],
            ["Destinations", "Encrypted delivery", "Access control and retention in the customer's warehouse"],
            ["Incidents", "Detection, response, notification", "Reporting suspected misuse of their accounts"],
        ], [1.3, 2.4, 2.3]),
        _h2("Recommendations for customers"),
        *_bullets([
            "Require single sign-on and turn off password sign-in for your organization.",
            "Provision users with SCIM so that leavers lose access automatically.",
            "Give each connector a dedicated, read-only database user limited to the tables you replicate.",
            "Exclude or hash personal data that your analytics do not need before it reaches the warehouse.",
            "Send the audit log to your SIEM through the API and alert on credential changes.",
            "Subscribe to the status page and to subprocessor change notices.",
        ]),
        *_h1("12. Compliance"),
        _table(["Framework", "Status"], [
            ["SOC 2 Type II", "Security, availability, confidentiality; annual, latest period ending September 30, "
             "2026"],
            ["SOC 3", "Public report for the same period"],
            ["ISO/IEC 27001:2022", "Certified, valid until April 13, 2028"],
            ["SOC 1 Type I", "In progress, expected March 2027"],
            ["GDPR", "Data Processing Addendum with Standard Contractual Clauses"],
            ["HIPAA", "Business Associate Agreement for Enterprise customers"],
        ], [1.8, 4.2]),
        _p("Reports, certificates and our subprocessor list are on the trust center at "
           "https://trust.halyard.example. Write to security@halyard.example with any question."),
    ]
    return story


# ---------------------------------------------------------------- data processing addendum


def _dpa_story() -> Story:
    story = _cover(
        "Data Processing Addendum",
        ["Template incorporating the EU Standard Contractual Clauses and the UK Addendum", "Version 3.1"],
        [("Effective", "March 2, 2026"), ("Processor", f"{COMPANY} and Halyard Systems Ireland Ltd."),
         ("Applies to", "Every agreement for the Halyard service; no signature required"),
         ("Privacy contact", "privacy@halyard.example")],
        None,
    )
    story += [
        *_h1("1. Scope and roles"),
        _p("This Data Processing Addendum (\u201cDPA\u201d) forms part of the agreement between Halyard and the "
           "customer for the Halyard service (the \u201cAgreement\u201d). It applies where Halyard processes "
           "personal data on behalf of the customer. The customer is the controller (or a processor acting for "
           "its own customers) and Halyard is the processor (or sub-processor). Terms not defined here have the "
           "meaning given in the GDPR."),
        *_h1("2. Processing on instructions"),
        _p("Halyard processes customer personal data only on the customer's documented instructions, including "
           "those given through the configuration of the service, and only to provide the service, unless the "
           "law requires otherwise; in that case Halyard informs the customer before processing, unless the law "
           "prohibits it. The details of processing are in Annex I."),
        *_h1("3. Confidentiality"),
        _p("Halyard ensures that persons authorized to process customer personal data are bound by "
           "confidentiality obligations and receive appropriate training."),
        *_h1("4. Security"),
        _p("Halyard implements the technical and organizational measures in Annex II and keeps them at a level "
           "appropriate to the risk. Halyard may update the measures, provided the overall level of protection "
           "does not decrease."),
        *_h1("5. Subprocessors"),
        _p("The customer authorizes the subprocessors listed on the trust center. Halyard gives at least 30 days' "
           "notice of a new subprocessor through the trust center feed and by email to subscribers. The customer "
           "may object on reasonable data protection grounds within that period; the parties will then discuss a "
           "solution in good faith, failing which the customer may terminate the affected service and receive a "
           "refund of prepaid fees. Halyard imposes data protection obligations on each subprocessor at least as "
           "protective as this DPA and remains responsible for its subprocessors."),
        *_h1("6. Assistance"),
        _p("Taking into account the nature of the processing, Halyard assists the customer with requests from "
           "data subjects, data protection impact assessments and prior consultations, through the features of "
           "the service and, where needed, on request."),
        *_h1("7. Personal data breaches"),
        _p("Halyard notifies the customer without undue delay, and in any event within 72 hours, after becoming "
           "aware of a personal data breach affecting customer personal data, with the information the customer "
           "needs to meet its own obligations, and keeps the customer informed as more becomes known."),
        *_h1("8. International transfers"),
        _p("Where customer personal data is transferred to a country without an adequacy decision, the Standard "
           "Contractual Clauses (Commission Implementing Decision (EU) 2021/914, module two or three as "
           "applicable) are incorporated by reference, with Irish law and courts chosen under clauses 17 and 18, "
           "and, for the United Kingdom, the International Data Transfer Addendum issued by the Information "
           "Commissioner. Halyard also participates in the EU-US Data Privacy Framework."),
        *_h1("9. Audits"),
        _p("Halyard makes available its current SOC 2 Type II report and ISO 27001 certificate, which the "
           "parties agree satisfy the customer's audit rights, and answers reasonable security questionnaires. "
           "Where a supervisory authority requires it, or after a personal data breach, the customer may conduct "
           "an audit on 30 days' notice, during business hours, once a year."),
        *_h1("10. Deletion and return"),
        _p("On termination, the customer may export its data for 30 days. Halyard then deletes customer personal "
           "data within 30 days, and from backups within a further 35 days, unless the law requires retention."),
        *_h1("Annex I \u2014 Details of processing"),
        _table(["Item", "Description"], [
            ["Subject matter", "Provision of the Halyard managed data-pipeline service."],
            ["Duration", "The term of the Agreement and the deletion period after it."],
            ["Nature and purpose", "Extraction, transformation, transient staging and loading of data between "
             "systems the customer designates; monitoring of pipeline runs; support."],
            ["Data subjects", "Determined by the customer; typically the customer's employees, customers, users "
             "and business contacts."],
            ["Categories of personal data", "Determined by the customer through the sources it connects; account "
             "data of the customer's users (name, email, role, sign-in records)."],
            ["Special categories", "Only where the customer connects sources containing them; the customer is "
             "responsible for a lawful basis. Health data only under a Business Associate Agreement."],
            ["Frequency", "Continuous, as scheduled by the customer."],
            ["Retention", "Staged pipeline data up to 7 days; other data as in section 10."],
        ], [1.6, 4.4]),
        *_h1("Annex II \u2014 Technical and organizational measures"),
        _table(["Area", "Measures"], [
            ["Encryption", "TLS 1.2+ in transit; AES-256 at rest; per-tenant keys for connector credentials."],
            ["Access control", "SSO with phishing-resistant MFA; least privilege; time-limited, approved "
             "production access; quarterly reviews."],
            ["Isolation", "Each pipeline run in an isolated container with run-scoped credentials."],
            ["Logging and monitoring", "Centralized logs kept 13 months; 24/7 on-call; annual incident "
             "exercise."],
            ["Availability", "Multi-zone deployment; continuous backups; quarterly restore tests; annual "
             "failover exercise."],
            ["Development", "Peer review; automated security scanning; annual independent penetration test."],
            ["People", "Background checks; confidentiality agreements; annual security and privacy training."],
            ["Certification", "SOC 2 Type II (annual); ISO/IEC 27001:2022."],
        ], [1.6, 4.4]),
        *_h1("Annex III \u2014 Subprocessors"),
        _p("The current list, with locations and transfer mechanisms, is published at "
           "https://trust.halyard.example and forms part of this Annex."),
    ]
    return story


# ---------------------------------------------------------------- entry point


DEMO_PDFS: tuple[_Pdf, ...] = (
    _Pdf("private/soc2-type2-2026.pdf", "Halyard Systems SOC 2 Type II Report 2025-2026", "SOC 2 Type II report",
         f"SOC 2 Type II \u00b7 {PERIOD}", True, _soc2_story,
         contents=(("Section I", "Independent Service Auditor's Report"), ("Section II", "Management's Assertion"),
                   ("Section III", "Description of the Halyard Managed Data-Pipeline System"),
                   ("Section IV", "Trust Services Criteria, Related Controls, Tests of Controls and Results"),
                   ("Section V", "Other Information Provided by Management"))),
    _Pdf("private/pentest-summary-2026.pdf", "Halyard Penetration Test Executive Summary 2026",
         "Penetration test summary", "Penetration test executive summary 2026", True, _pentest_story),
    _Pdf("documents/soc3-2026.pdf", "Halyard Systems SOC 3 Report 2025-2026", "SOC 3 report",
         f"SOC 3 \u00b7 {PERIOD}", False, _soc3_story,
         contents=(("Section I", "Independent Service Auditor's Report"), ("Section II", "Management's Assertion"),
                   ("Section III", "Description of the Boundaries of the Halyard Managed Data-Pipeline System"))),
    _Pdf("documents/iso27001-certificate.pdf", "Halyard Systems ISO/IEC 27001 Certificate", "Certificate",
         "ISO/IEC 27001:2022 certificate", False, _certificate_story, certificate=True),
    _Pdf("documents/security-whitepaper.pdf", "Halyard Security Overview", "Security overview",
         "Security overview \u00b7 October 2026", False, _whitepaper_story,
         contents=tuple(("", heading) for heading in WHITEPAPER_SECTIONS)),
    _Pdf("documents/dpa.pdf", "Halyard Data Processing Addendum", "Data Processing Addendum",
         "Data Processing Addendum \u00b7 version 3.1", False, _dpa_story),
)


def write_demo_pdfs(trust_dir: Path, *, confidential_only: bool = False) -> list[Path]:
    """Write the demo PDFs under trust_dir (same bytes on every run) and return their paths. The public ones
    are committed; the confidential ones are not (gated files never enter the repository) and are written
    by `trustcenter demo` and the tests."""
    written: list[Path] = []
    for pdf in DEMO_PDFS:
        if confidential_only and not pdf.confidential:
            continue
        target = trust_dir / pdf.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(_render(pdf))
        written.append(target)
    return written
