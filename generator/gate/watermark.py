"""Stamp a PDF for one recipient: visible text on every page, and the same facts in its metadata.

reportlab draws one stamp page per page size; pikepdf (qpdf) places it over each page as a
shared Form XObject, upright whatever the page's /Rotate. Each page's own content becomes a Form
XObject too, drawn before the stamp: a reader restores the graphics state after a Form XObject,
so nothing the report's content does (unbalanced Q operators, a clipping path, a collapsed matrix,
invisible text) reaches the stamp. A page's content stream is copied still compressed, not decoded
and rewritten, which keeps a 100-page report well under 50 ms. The copy keeps the source's Title, Author and owner
restrictions, and loses its scripts, launch actions, additional actions and attachments
(`generator.content.pdf`), whether or not `trustcenter check` ran.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import secrets
import unicodedata
from pathlib import Path

import pikepdf
from reportlab.pdfbase.pdfmetrics import stringWidth  # type: ignore[import-untyped]
from reportlab.pdfgen import canvas  # type: ignore[import-untyped]

from generator.content.pdf import remove_active_content

_FONT, _BOLD = "Helvetica", "Helvetica-Bold"


@dataclasses.dataclass(frozen=True)
class Stamp:
    recipient: str
    company: str
    date: dt.date
    link_id: str

    @property
    def diagonal(self) -> tuple[str, str]:
        return (f"Confidential \u2014 {self.recipient}", f"{self.company} \u00b7 {self.date.isoformat()}")

    @property
    def footer(self) -> tuple[str, str]:
        return (f"Shared with {self.recipient} ({self.company}) on {self.date.isoformat()} under NDA; "
                "do not redistribute.",
                f"Link {self.link_id}")

    @property
    def summary(self) -> str:
        return (f"Confidential: shared with {self.recipient} ({self.company}) on {self.date.isoformat()}, "
                f"link {self.link_id}")


def watermark(source: Path, stamp: Stamp) -> bytes:
    """The document stamped for this recipient, as PDF bytes. The source file is not changed."""
    with pikepdf.open(source) as pdf:
        remove_active_content(pdf)
        # Annotations are drawn above the page: one with an opaque appearance could cover the stamp. Their
        # appearances become page content, under the stamp; links keep working (flattening leaves them).
        pdf.flatten_annotations(mode="all")
        forms: dict[tuple[float, float], pikepdf.Object] = {}
        for page in pdf.pages:
            box = _visible_box(page)
            page.cropbox = box  # a crop box reaching past the media box would place the stamp off the page
            width, height = box.width, box.height
            if page.rotation % 180 == 90:  # the reader sees the page turned: draw for what it shows
                width, height = height, width
            key = (round(width, 1), round(height, 1))
            if key not in forms:
                with pikepdf.open(io.BytesIO(_stamp_page(width, height, stamp))) as drawn:
                    forms[key] = pdf.copy_foreign(pikepdf.Page(drawn.pages[0]).as_form_xobject())
            form = forms[key]
            # Random names, not fixed ones a script could look for and delete. It makes removal a little
            # work, no more: the stamp is a deterrent, not a protection.
            content, name = (pikepdf.Name(f"/Fm{secrets.token_hex(6)}") for _ in range(2))
            page.obj.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary({
                str(content): _content_as_form(pdf, page), str(name): form}))
            placement = page.calc_form_xobject_placement(form, name, box, invert_transformations=True,
                                                         allow_shrink=True, allow_expand=True)
            page.obj.Contents = pdf.make_stream(b"q " + content.unparse() + b" Do Q\n" + placement)
        _set_metadata(pdf, stamp)
        output = io.BytesIO()
        pdf.save(output, encryption=_same_restrictions(pdf))
        return output.getvalue()


def _visible_box(page: pikepdf.Page) -> pikepdf.Rectangle:
    """What a reader shows: the crop box cut to the media box (the whole media box if they do not overlap)."""
    crop, media = pikepdf.Rectangle(page.cropbox), pikepdf.Rectangle(page.mediabox)
    visible = crop & media
    return visible if visible.width > 0 and visible.height > 0 else media


def _content_as_form(pdf: pikepdf.Pdf, page: pikepdf.Page) -> pikepdf.Object:
    """The page's own content and resources as a Form XObject drawn in page space.

    A new stream, not the content stream with form keys added, so nothing the source put in that
    stream's dictionary (a /Matrix, an /OC that hides it) comes along. A single content stream,
    the usual case, keeps its compressed bytes; an array of them is joined, as a reader would.
    """
    contents = page.obj.get("/Contents")
    if isinstance(contents, pikepdf.Stream):
        form = pikepdf.Stream(pdf, contents.read_raw_bytes())
        for key in ("/Filter", "/DecodeParms"):
            if key in contents:
                form[key] = contents[key]
    else:
        parts = list(contents) if isinstance(contents, pikepdf.Array) else []  # none: a blank page
        form = pikepdf.Stream(pdf, b"\n".join(part.read_bytes() for part in parts if isinstance(part, pikepdf.Stream)))
    form.Type = pikepdf.Name.XObject
    form.Subtype = pikepdf.Name.Form
    # A reader shows no more than the media box (it cuts the crop box to it), so clipping to it hides nothing.
    form.BBox = page.mediabox
    form.Resources = page.obj.get("/Resources", pikepdf.Dictionary())
    return form


def _same_restrictions(pdf: pikepdf.Pdf) -> pikepdf.Encryption | bool:
    """Encryption for the copy: the source's owner restrictions (printing, copying, changes) with a fresh
    owner password, and no password to open it; none if the source had none."""
    if not pdf.is_encrypted:
        return False
    # Opened without a password, so it had only an owner password. Saving without encryption
    # would lift every restriction its owner set.
    return pikepdf.Encryption(owner=secrets.token_urlsafe(24), user="", allow=pdf.allow)


def _stamp_page(width: float, height: float, stamp: Stamp) -> bytes:
    buffer = io.BytesIO()
    drawing = canvas.Canvas(buffer, pagesize=(width, height), pageCompression=0)
    drawing.setTitle("watermark")
    # Diagonal, light and translucent: visible on every page without hiding the report.
    diagonal = (width**2 + height**2) ** 0.5
    drawing.saveState()
    drawing.translate(width / 2, height / 2)
    drawing.rotate(_degrees(width, height))
    drawing.setFillColorRGB(0.75, 0.1, 0.1, alpha=0.18)
    first, second = (_printable(line) for line in stamp.diagonal)
    size = _fit(first, _BOLD, diagonal * 0.75, largest=40, smallest=9)
    drawing.setFont(_BOLD, size)
    drawing.drawCentredString(0, size * 0.3, first)
    small = _fit(second, _BOLD, diagonal * 0.75, largest=size * 0.7, smallest=8)
    drawing.setFont(_BOLD, small)
    drawing.drawCentredString(0, -small * 1.3, second)
    drawing.restoreState()
    # Footer: the same facts in small, plain text along the bottom edge.
    margin = min(24.0, width * 0.05)
    drawing.setFillColorRGB(0.25, 0.25, 0.25, alpha=0.9)
    for index, line in enumerate(reversed(stamp.footer)):
        text = _printable(line)
        drawing.setFont(_FONT, _fit(text, _FONT, width - 2 * margin, largest=7, smallest=3))
        drawing.drawString(margin, 8 + index * 9, text)
    drawing.showPage()
    drawing.save()
    return buffer.getvalue()


def _set_metadata(pdf: pikepdf.Pdf, stamp: Stamp) -> None:
    pdf.docinfo[pikepdf.Name("/TrustCenterRecipient")] = stamp.recipient
    pdf.docinfo[pikepdf.Name("/TrustCenterCompany")] = stamp.company
    pdf.docinfo[pikepdf.Name("/TrustCenterDate")] = stamp.date.isoformat()
    pdf.docinfo[pikepdf.Name("/TrustCenterLinkId")] = stamp.link_id
    with pdf.open_metadata(set_pikepdf_as_editor=False) as xmp:
        # On closing, pikepdf rewrites the info dictionary from XMP and drops what XMP lacks: copy
        # the entries XMP lacks (all of them, for a file with no XMP) so the Title and Author survive.
        info = pdf.docinfo
        xmp.load_from_docinfo({str(name): info[name] for namespace, key, name, _ in xmp.DOCINFO_MAPPING
                               if name in info and f"{{{namespace}}}{key}" not in xmp})
        ours = f"confidential; {stamp.recipient}; {stamp.company}; link {stamp.link_id}"
        theirs = str(xmp.get("pdf:Keywords", "")).strip()
        xmp["dc:rights"] = stamp.summary
        xmp["pdf:Keywords"] = f"{ours}; {theirs}" if theirs else ours


def _degrees(width: float, height: float) -> float:
    import math

    return math.degrees(math.atan2(height, width))


def _fit(text: str, font: str, room: float, *, largest: float, smallest: float) -> float:
    width = stringWidth(text, font, 1) or 1
    return max(smallest, min(largest, room / width))


def _printable(text: str) -> str:
    """Text the standard PDF fonts can show (WinAnsi). Other letters lose accents or become '?';
    the metadata keeps the exact text."""
    kept = []
    for char in unicodedata.normalize("NFC", text):
        if _winansi(char):
            kept.append(char)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
        kept.append(base if base and all(_winansi(c) for c in base) else "?")
    return "".join(kept)


def _winansi(char: str) -> bool:
    try:
        char.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return char.isprintable()
