"""Stamp a PDF for one recipient: visible text on every page, the same facts in its metadata, and one download's
mark woven into the copy where removing the stamp does not reach.

reportlab draws one stamp page per page size; pikepdf (qpdf) places it over each page as a
shared Form XObject, upright whatever the page's /Rotate. Each page's own content becomes a Form
XObject too, drawn before the stamp: a reader restores the graphics state after a Form XObject,
so nothing the report's content does (unbalanced Q operators, a clipping path, a collapsed matrix,
invisible text) reaches the stamp. A page's content stream is copied still compressed, not compressed
again, which keeps a 100-page report well under 50 ms. The copy keeps the source's Title, Author and owner
restrictions, and loses its scripts, launch actions, additional actions and attachments
(`generator.content.pdf`), whether or not `trustcenter check` ran.

The stamp and the metadata can be taken off again: a recipient can drop the stamp's form and clear the metadata in
a dozen lines of pikepdf, and the page's own content is left as it was. So a download also carries a `Mark`: a
random serial, with a check only the audit key makes, recorded (as a keyed digest, not the serial) in the
DOWNLOADED event. It is woven twice. As the document's permanent identifier (/ID's first half), which re-saves
keep (pikepdf and qpdf do; the PDF standard asks every editor to). And as a row of short grey dashes along the
bottom edge, drawn by operators put at the front of each page's *own* content stream, spliced into its
compressed bytes, not added beside it: whoever takes off what was added still has them, and whatever keeps the
page's look (a re-save, a print to PDF, a rasterised copy) keeps them. `generator.gate.trace` reads them back.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import io
import secrets
import struct
import unicodedata
import zlib
from pathlib import Path

import pikepdf
from reportlab.pdfbase.pdfmetrics import stringWidth  # type: ignore[import-untyped]
from reportlab.pdfgen import canvas  # type: ignore[import-untyped]

from generator.content.pdf import remove_active_content

_FONT, _BOLD = "Helvetica", "Helvetica-Bold"

# The woven code: guard cells, the serial, the first CODE_CHECK_BYTES of the keyed check, guard cells. A cell is
# inked for a 1 and left blank for a 0; the guards differ read backwards, so a reader knows which end is which.
SERIAL_BYTES = 8  # 64 random bits: a forger cannot guess another download's serial
CHECK_BYTES = 8  # in the document's /ID
CODE_CHECK_BYTES = 2  # in the page code, where room is short: with the guards, a misread passes 1 time in 2**26
CODE_START, CODE_END = (1, 1, 1, 0, 1), (1, 0, 0, 1, 1)
CODE_CELLS = len(CODE_START) + 8 * (SERIAL_BYTES + CODE_CHECK_BYTES) + len(CODE_END)
# Where the code lies on the page as the reader sees it: across the middle 80 % of the width (so it scales with
# the page, and a rasterised copy is read at any resolution), in a band just above the bottom edge, under the
# footer's text. A cell is inked over its middle CODE_INK_SHARE, so neighbouring ones stay apart when read back.
CODE_SPAN = (0.1, 0.9)
CODE_BAND = (1.5, 4.5)  # points above the bottom edge
CODE_INK_SHARE = 0.7
CODE_GREY = 0.5


@dataclasses.dataclass(frozen=True)
class Mark:
    """One download's identifier: a random serial and its keyed check, woven into the copy; `record` is what the
    audit log keeps of it (the DOWNLOADED event's detail).

    The log keeps a keyed digest of the serial, not the serial: someone who can read the database still cannot
    make a copy that names another recipient. `trace` reads the serial from a copy and looks its digest up.
    """

    serial: bytes
    check: bytes
    record: str

    @classmethod
    def new(cls, key: bytes) -> Mark:
        """A fresh mark for one download, made with the audit key."""
        return cls.of(key, secrets.token_bytes(SERIAL_BYTES))

    @classmethod
    def of(cls, key: bytes, serial: bytes) -> Mark:
        """The mark of a serial read back from a copy: its check (to compare) and its record (to look up)."""
        check = hmac.new(key, b"trustcenter watermark check|" + serial, hashlib.sha256).digest()[:CHECK_BYTES]
        digest = hmac.new(key, b"trustcenter watermark record|" + serial, hashlib.sha256).hexdigest()
        return cls(serial, check, f"watermark {digest}")

    @property
    def document_id(self) -> bytes:
        """The copy's permanent identifier (/ID's first half): the serial and the whole check."""
        return self.serial + self.check

    @property
    def cells(self) -> tuple[int, ...]:
        """The page code, one value per cell: 1 inked, 0 blank."""
        return CODE_START + bits(self.serial + self.check[:CODE_CHECK_BYTES]) + CODE_END


def bits(data: bytes) -> tuple[int, ...]:
    """Each byte's bits, most significant first."""
    return tuple((byte >> shift) & 1 for byte in data for shift in range(7, -1, -1))


@dataclasses.dataclass(frozen=True)
class Stamp:
    recipient: str
    company: str
    date: dt.date
    link_id: str
    mark: Mark | None = None  # the download's own mark; without one, the copy carries the stamp and metadata only

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
        codes: dict[tuple[float, ...], bytes] = {}
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
            woven = b""
            if stamp.mark is not None:
                place = (box.llx, box.lly, box.urx, box.ury, page.rotation % 360)
                if place not in codes:  # most reports have one page size: the operators are written once
                    codes[place] = _code_operators(stamp.mark, box, page.rotation, width)
                woven = codes[place]
            # Random names, not fixed ones a script could look for and delete. It makes removal a little
            # work, no more: the stamp is a deterrent, not a protection.
            content, name = (pikepdf.Name(f"/Fm{secrets.token_hex(6)}") for _ in range(2))
            page.obj.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary({
                str(content): _content_as_form(pdf, page, woven), str(name): form}))
            placement = page.calc_form_xobject_placement(form, name, box, invert_transformations=True,
                                                         allow_shrink=True, allow_expand=True)
            page.obj.Contents = pdf.make_stream(b"q " + content.unparse() + b" Do Q\n" + placement)
        _set_metadata(pdf, stamp)
        if stamp.mark is not None:
            # Kept by every re-save that keeps the document (qpdf, pikepdf, viewers): the first half of /ID is the
            # document's permanent identifier; the second changes with each revision.
            identifier = pikepdf.String(stamp.mark.document_id)
            pdf.trailer.ID = pikepdf.Array([identifier, identifier])
        output = io.BytesIO()
        pdf.save(output, encryption=_same_restrictions(pdf))
        return output.getvalue()


def _visible_box(page: pikepdf.Page) -> pikepdf.Rectangle:
    """What a reader shows: the crop box cut to the media box (the whole media box if they do not overlap)."""
    crop, media = pikepdf.Rectangle(page.cropbox), pikepdf.Rectangle(page.mediabox)
    visible = crop & media
    return visible if visible.width > 0 and visible.height > 0 else media


def _content_as_form(pdf: pikepdf.Pdf, page: pikepdf.Page, woven: bytes = b"") -> pikepdf.Object:
    """The page's own content and resources as a Form XObject drawn in page space, `woven` at its front.

    A new stream, not the content stream with form keys added, so nothing the source put in that
    stream's dictionary (a /Matrix, an /OC that hides it) comes along. A single content stream,
    the usual case, keeps its compressed bytes, the woven operators spliced in front of them
    (`_prepend_to_flate`); an array of them is joined, as a reader would. The front, not the end:
    a page's content starts in the default graphics state, and may end in any (an unfinished string
    would swallow what follows it).
    """
    contents = page.obj.get("/Contents")
    form: pikepdf.Object | None = None
    if isinstance(contents, pikepdf.Stream):
        spliced = _prepend_to_flate(contents, woven) if woven else None
        if spliced is not None:
            form = pikepdf.Stream(pdf, spliced)
            form.Filter = pikepdf.Name.FlateDecode
        elif woven:
            decoded = _decoded(contents)
            if decoded is not None:  # undecodable: the page keeps its own bytes, without the code
                form = pikepdf.Stream(pdf, woven + decoded)
        if form is None:
            form = pikepdf.Stream(pdf, contents.read_raw_bytes())
            for key in ("/Filter", "/DecodeParms"):
                if key in contents:
                    form[key] = contents[key]
    else:
        parts = list(contents) if isinstance(contents, pikepdf.Array) else []  # none: a blank page
        form = pikepdf.Stream(pdf, woven + b"\n".join(
            part.read_bytes() for part in parts if isinstance(part, pikepdf.Stream)))
    form.Type = pikepdf.Name.XObject
    form.Subtype = pikepdf.Name.Form
    # A reader shows no more than the media box (it cuts the crop box to it), so clipping to it hides nothing.
    form.BBox = page.mediabox
    form.Resources = page.obj.get("/Resources", pikepdf.Dictionary())
    return form


def _decoded(stream: pikepdf.Stream) -> bytes | None:
    try:
        return stream.read_bytes()
    except pikepdf.PdfError:
        return None


def _prepend_to_flate(stream: pikepdf.Stream, prefix: bytes) -> bytes | None:
    """The stream's zlib data with `prefix` in front of what it decodes to, without compressing it again; None
    unless the stream is plain /FlateDecode (no predictor, no preset dictionary) that decodes whole.

    A deflate stream is a series of blocks: an uncompressed ("stored") block, not the last, put before the
    source's blocks decodes to `prefix` followed by the source's data. Only the zlib trailer, the Adler-32 of
    everything decoded, is computed again; decoding is several times faster than compressing, which keeps a
    long report within the time a download may take.
    """
    filters = stream.get("/Filter")
    if isinstance(filters, pikepdf.Array) and len(filters) == 1:
        filters = filters[0]
    parameters = stream.get("/DecodeParms")
    if filters != pikepdf.Name.FlateDecode or (parameters is not None and not _empty(parameters)):
        return None
    raw = stream.read_raw_bytes()
    if len(prefix) > 0xFFFF or len(raw) < 6 or raw[0] & 0x0F != 8 or raw[1] & 0x20 or (raw[0] << 8 | raw[1]) % 31:
        return None
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(raw)  # checks the trailer: a stream that does not decode whole is left alone
    except zlib.error:
        return None
    if not inflater.eof:
        return None
    end = len(raw) - len(inflater.unused_data)
    stored = b"\x00" + struct.pack("<HH", len(prefix), len(prefix) ^ 0xFFFF) + prefix  # BFINAL 0, BTYPE 00
    return raw[:2] + stored + raw[2:end - 4] + struct.pack(">I", zlib.adler32(data, zlib.adler32(prefix)))


def _empty(parameters: pikepdf.Object) -> bool:
    if isinstance(parameters, pikepdf.Array):
        return all(_empty(item) for item in parameters)
    return isinstance(parameters, pikepdf.Dictionary) and len(parameters.keys()) == 0


def code_cells(mark: Mark, width: float) -> list[tuple[float, float, float, float]]:
    """The inked cells of the page code, as rectangles (x, y, width, height) on a page `width` points wide, as
    the reader sees it (origin at the bottom left)."""
    start, end = CODE_SPAN
    cell = width * (end - start) / CODE_CELLS
    bottom, top = CODE_BAND
    return [(width * start + (index + (1 - CODE_INK_SHARE) / 2) * cell, bottom, cell * CODE_INK_SHARE, top - bottom)
            for index, value in enumerate(mark.cells) if value]


def _code_operators(mark: Mark, box: pikepdf.Rectangle, rotation: int, width: float) -> bytes:
    """The page code as content operators in page space: the reader's view (`width` wide, turned by /Rotate)
    mapped back onto the page, so the code lies along the bottom edge the reader sees."""
    x0, y0, x1, y1 = box.llx, box.lly, box.urx, box.ury
    # From the reader's view (u, v) to page space, for each clockwise turn the reader gives the page.
    matrix = {90: (0, 1, -1, 0, x1, y0), 180: (-1, 0, 0, -1, x1, y1), 270: (0, -1, 1, 0, x0, y1)}.get(
        rotation % 360, (1, 0, 0, 1, x0, y0))
    rectangles = " ".join(f"{_number(x)} {_number(y)} {_number(w)} {_number(h)} re"
                          for x, y, w, h in code_cells(mark, width))
    return (f"q {' '.join(_number(value) for value in matrix)} cm {CODE_GREY} g {rectangles} f Q\n").encode()


def _number(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") or "0"


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
    if stamp.mark is not None:
        # The page code again, above the report: the one in the page's own content may lie under a
        # footer the report paints edge to edge. This one goes when the stamp goes; that one stays.
        drawing.setFillGray(CODE_GREY, alpha=1)
        for x, y, w, h in code_cells(stamp.mark, width):
            drawing.rect(x, y, w, h, stroke=0, fill=1)
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
