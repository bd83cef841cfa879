"""Name the recipient of a leaked copy: read every mark the gate put in it, and look each one up in the audit log.

A copy the gate served carries four marks (`generator.gate.watermark`), and `trace` reads each on its own,
so that one taken off does not hide the others:

- the woven code, a row of grey dashes at the front of each page's own content: a download's serial and a
  check only the audit key makes. Read from the pages as poppler renders them, so it is found in whatever
  keeps the look of the page: a copy with the stamp taken off, a re-save, a print to PDF, a rasterised copy;
- the document id, the same serial and a longer check in /ID: kept by re-saves, lost by a print to PDF;
- the visible stamp: the link (or grant) id, recipient, company and date as printed, read by pdftotext;
- the metadata: the same facts in the document information and XMP.

The first two are sure: only the audit key makes them, and the audit log recorded a keyed digest of the serial
in one DOWNLOADED event, which names the link or grant, the recipient and the time. The last two are weak: anyone
can type a stamp or write metadata, so they name a link to look at, not a proof; when they disagree with a sure
mark the report says so (a stamp edited to frame someone else, or pages put together from two copies).

The file is whatever someone found on the internet: it is read within bounds. Its size is capped, the metadata
read without an XML parser and with a cap on what a compressed stream may decode to, poppler run on the first
PAGES_READ pages only, each page rendered no larger than RENDER_PIXELS, with a time limit, and what poppler cannot
read is reported as not read, never as a crash.
"""

from __future__ import annotations

import dataclasses
import enum
import hmac
import html
import re
import subprocess
import tempfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pikepdf
from PIL import Image

from generator.errors import StoreError, UserError
from generator.gate import audit, grants, watermark
from generator.gate.store import Store

MAX_BYTES = 512 * 1024 * 1024  # larger than any report a trust center serves, scanned ones included
PAGES_READ = 10  # every page carries the same code and stamp: a few agreeing pages are enough
RENDER_PIXELS = 1600  # the long side of a page as rendered: a code cell is then 5 pixels wide or more on A4
TOOL_SECONDS = 60  # per poppler run; a page that takes longer to render is not one of ours
_METADATA_BYTES = 1 << 20  # the XMP stream, decoded
_TEXT_CHARS = 1 << 21
_DARK = 176  # a grey level darker than this is ink: the code is drawn at 128, paper is 255
_ROWS_SHARE = 20  # the code lies within the bottom 1/20 of the page (at least 16 rows) as rendered
_INK = bytes(1 if level < _DARK else 0 for level in range(256))

_ID = r"(g-[0-9a-f]{12}|[A-Za-z0-9_-]{16})(?![A-Za-z0-9_-])"  # a grant's id or a link's id (tokens.new_link_id)
_STAMP_LINK = re.compile(r"\bLink " + _ID)
# Matched only where their fixed start is found (`_facts`), on a slice of _FACTS_CHARS: a stranger's text full of
# "Shared with" cannot make the search take long.
_STAMP_SHARED = re.compile(r"Shared with (\S{1,320}) \(([^()]{0,300})\) on (\d{4}-\d{2}-\d{2}) under NDA")
_XMP_RIGHTS = re.compile(r"Confidential: shared with (\S{1,320}) \(([^()<]{0,300})\) on (\d{4}-\d{2}-\d{2}), link "
                         + _ID)
_FACTS_CHARS = 800
_FACTS_TRIED = 50


class Certainty(enum.StrEnum):
    SURE = "sure"  # only the audit key makes the mark, and the log recorded it for one download
    WEAK = "weak"  # anyone could have written the mark: it names a link to look at, not a proof


@dataclasses.dataclass(frozen=True)
class Download:
    """One DOWNLOADED event of the audit log, with the recipient's company found for it."""

    event_id: int
    at: str
    document: str | None
    link_id: str | None
    grant_id: str | None
    recipient: str | None
    company: str | None
    company_from: str  # where the company comes from: the download, the minted link, the grant, the NDA form
    ip: str | None

    @property
    def via(self) -> str:
        return f"grant {self.grant_id}" if self.grant_id else f"link {self.link_id}"

    def line(self) -> str:
        """The download in one line. Its company may have been typed by the recipient: shown printable only."""
        company = f" ({_printable(self.company)}, {self.company_from})" if self.company else ""
        return (f"{_printable(self.recipient or 'an unknown recipient')}{company} downloaded "
                f"{_printable(self.document or 'a document')} at {self.at} through {self.via}, "
                f"from {self.ip or 'an unrecorded address'} (audit event {self.event_id})")


@dataclasses.dataclass(frozen=True)
class Finding:
    """What one mark says: whether it was found, what it says (or why it was not read), and what the log makes
    of it."""

    mark: str
    found: bool
    says: str
    certainty: Certainty | None = None
    downloads: tuple[Download, ...] = ()
    names: str | None = None  # the link or grant id a weak mark names


@dataclasses.dataclass(frozen=True)
class Trace:
    path: Path
    findings: tuple[Finding, ...]
    chain: audit.ChainCheck

    @property
    def certainty(self) -> Certainty | None:
        if any(finding.downloads for finding in self._of(Certainty.SURE)):
            return Certainty.SURE
        if any(finding.downloads for finding in self._of(Certainty.WEAK)):
            return Certainty.WEAK
        return None

    @property
    def downloads(self) -> list[Download]:
        """The downloads the copy is traced to: those the sure marks name; failing them, those the weak ones do."""
        certainty = self.certainty
        named = {download.event_id: download for finding in self._of(certainty) for download in finding.downloads}
        return [named[event_id] for event_id in sorted(named)]

    @property
    def traced(self) -> bool:
        return bool(self.downloads)

    def _of(self, certainty: Certainty | None) -> Iterator[Finding]:
        return (finding for finding in self.findings if finding.found and finding.certainty is certainty)

    def lines(self) -> list[str]:
        """The report for a person: the verdict first, then each mark, then the state of the audit log."""
        name = _printable(self.path.name)
        downloads, certainty = self.downloads, self.certainty
        lines: list[str] = []
        if certainty is Certainty.SURE:
            lines.append(f"traced: {name} is the copy of {_count(len(downloads), 'download')}:" if len(downloads) > 1
                         else f"traced: {name} is the copy of this download:")
            lines += [f"  {download.line()}" for download in downloads]
            lines.append("certainty: sure (a mark only this gate's audit key makes, recorded for that download)")
        elif certainty is Certainty.WEAK:
            lines.append(f"traced, weakly: {name} names a link or grant downloaded {_count(len(downloads), 'time')}:")
            lines += [f"  {download.line()}" for download in downloads]
            lines.append("certainty: weak (only marks anyone could have written were found; a lead, not a proof)")
        else:
            if any(self._of(Certainty.SURE)):
                lines.append(f"not traced: {name} carries a mark made with this gate's audit key, but no download "
                             "in this audit log records it: is --db the gate's database? were events lost?")
            else:
                lines.append(f"not traced: no mark of this gate was found in {name}")
        lines.extend(self._disagreements())
        lines.append("marks:")
        width = max(len(finding.mark) for finding in self.findings)
        for finding in self.findings:
            state = "found" if finding.found else "not found"
            judged = f"; {finding.certainty}" if finding.found and finding.certainty else ""
            lines.append(f"  {finding.mark.ljust(width)}  {state}: {finding.says}{judged}")
        if self.chain.ok:
            lines.append(f"audit log: intact ({self.chain.events} events)")
        else:
            lines.append(f"audit log: DOES NOT VERIFY ({self.chain.problem}): what it says cannot be relied on")
        return lines

    def _disagreements(self) -> list[str]:
        sure = self.downloads if self.certainty is Certainty.SURE else []
        if not sure:
            return []
        ways = {download.grant_id or download.link_id for download in sure}
        return [f"warning: the {finding.mark} names {finding.names}, not the link or grant the keyed marks name: "
                "it was edited (to frame someone else?), or the copy was put together from others"
                for finding in self._of(Certainty.WEAK) if finding.names is not None and finding.names not in ways]


def trace(path: Path, store: Store, key: bytes) -> Trace:
    """Read every mark of the copy at `path` and look each up in the audit log of `store` (kept with `key`)."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}; give the path of the leaked copy") from None
    if not path.is_file():
        raise UserError(f"{path} is not a file; give the path of the leaked copy")
    if size > MAX_BYTES:
        raise UserError(f"{path} is {size // (1024 * 1024)} MiB, more than the {MAX_BYTES // (1024 * 1024)} MiB a "
                        "copy of a report can be: it is not one the gate served")
    log = _Log(store, key)
    pdf, problem = _open(path)
    try:
        findings = (
            _woven_code(path, log),
            _document_id(pdf, problem, log),
            _visible_stamp(path, log),
            _metadata(pdf, problem, log),
        )
    finally:
        if pdf is not None:
            pdf.close()
    return Trace(path, findings, store.log.verify_chain())


# ---------------------------------------------------------------- the audit log's side


class _Log:
    """The downloads of the audit log, found by the record of a mark or by the link or grant a stamp names."""

    def __init__(self, store: Store, key: bytes) -> None:
        self.store = store
        self.key = key
        self._downloads: list[audit.Row] | None = None

    def verifies(self, serial: bytes, check: bytes) -> bool:
        """Whether `check` is the start of the serial's keyed check: the mark was made with this audit key."""
        return len(check) > 0 and hmac.compare_digest(watermark.Mark.of(self.key, serial).check[:len(check)], check)

    def by_serial(self, serial: bytes) -> tuple[Download, ...]:
        record = watermark.Mark.of(self.key, serial).record
        return tuple(self._download(row) for row in self.downloads() if row.detail == record)

    def by_id(self, named: str, date: str | None) -> tuple[Download, ...]:
        """The downloads through a link or grant; on `date` (as printed) when given and any fall on it."""
        rows = [row for row in self.downloads() if named in (row.link_id, row.grant_id)]
        that_day = [row for row in rows if date is not None and row.at.startswith(date)]
        return tuple(self._download(row) for row in that_day or rows)

    def downloads(self) -> list[audit.Row]:
        if self._downloads is None:
            self._downloads = self.store.log.events(kinds=[audit.Kind.DOWNLOADED])
        return self._downloads

    def _download(self, row: audit.Row) -> Download:
        company, source = self._company(row)
        return Download(row.id, row.at, row.document, row.link_id, row.grant_id, row.recipient, company, source,
                        row.ip)

    def _company(self, row: audit.Row) -> tuple[str | None, str]:
        """The recipient's company: as the download recorded it, else as the link was minted or the grant made,
        else as typed on the NDA form."""
        if row.company:
            return row.company, "as recorded with the download"
        log = self.store.log
        if row.grant_id:
            try:
                grant = self.store.access.grant(row.grant_id)
            except StoreError:
                grant = None  # a grant row edited without the key: its company is not to be believed
            if grant is not None and grant.company:
                return grant.company, "as granted"
        elif row.link_id:
            minted = [event.company for event in log.events(row.link_id, kinds=[audit.Kind.MINTED]) if event.company]
            if minted:
                return minted[0], "as the link was minted"
        accepted = [event.company for event in (log.events(grant_id=row.grant_id) if row.grant_id else
                                                log.events(row.link_id)) if event.kind == audit.Kind.ACCEPTED
                    and event.company and event.browser == row.browser]
        return (accepted[-1], "as typed on accepting the NDA") if accepted else (None, "")


# ---------------------------------------------------------------- the sure marks


def _woven_code(path: Path, log: _Log) -> Finding:
    mark = "woven code"
    try:
        pages = _render(path)
    except _ToolProblem as problem:
        return Finding(mark, False, f"not read: {problem}")
    if not pages:
        return Finding(mark, False, "not read: poppler could not render a page of it")
    seen: Counter[bytes] = Counter()
    for page in pages:
        seen.update(codes_in(page, log.verifies))
    if not seen:
        return Finding(mark, False, f"not on the {_count(len(pages), 'page')} read (cut off, covered, printed "
                                    "scaled onto other paper, photographed, or not a copy from this gate)")
    downloads = tuple(download for serial in seen for download in log.by_serial(serial))
    read = ", ".join(f"serial {serial.hex()} on {seen[serial]} of {_count(len(pages), 'page')} read"
                     for serial in sorted(seen, key=seen.__getitem__, reverse=True))
    return Finding(mark, True, f"{read}{_names(downloads)}", Certainty.SURE, downloads)


def _document_id(pdf: pikepdf.Pdf | None, problem: str | None, log: _Log) -> Finding:
    mark = "document id"
    if pdf is None:
        return Finding(mark, False, f"not read: {problem}")
    try:
        identifier = pdf.trailer.get("/ID")
        first = identifier[0] if isinstance(identifier, pikepdf.Array) and len(identifier) > 0 else None
        value = bytes(first) if isinstance(first, pikepdf.String) else b""
    except (pikepdf.PdfError, ValueError, TypeError, RuntimeError):
        value = b""
    serial, check = value[:watermark.SERIAL_BYTES], value[watermark.SERIAL_BYTES:]
    if len(value) != watermark.SERIAL_BYTES + watermark.CHECK_BYTES or not log.verifies(serial, check):
        return Finding(mark, False, "its /ID is not one this gate wrote (the copy was re-made, or its /ID replaced)")
    downloads = log.by_serial(serial)
    return Finding(mark, True, f"serial {serial.hex()}{_names(downloads)}", Certainty.SURE, downloads)


def codes_in(page: Image.Image, verifies: Callable[[bytes, bytes], bool]) -> set[bytes]:
    """The serials of the woven codes on a rendered page (greyscale), whichever edge the code lies along: the
    bottom edge as the reader saw the page, which a turned or rasterised copy may have put elsewhere."""
    found: set[bytes] = set()
    page = page if page.mode == "L" else page.convert("L")
    turns = (None, Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_180, Image.Transpose.ROTATE_270)
    for turn in turns:
        view = page if turn is None else page.transpose(turn)
        width, height = view.size
        depth = min(height, max(16, height // _ROWS_SHARE))
        band = view.crop((0, height - depth, width, height)).tobytes()
        for row in range(depth):
            serial = _decode_row(band[row * width:(row + 1) * width].translate(_INK), width, verifies)
            if serial is not None:
                found.add(serial)
    return found


def _decode_row(inked: bytes, width: int, verifies: Callable[[bytes, bytes], bool]) -> bytes | None:
    """The serial a row of pixels (1 inked, 0 blank) holds, if it crosses a code whose check verifies.

    Cells are sampled at their centres: where the watermark put them (the middle 80 % of the width), and
    where the row's first and last inked pixels say they are, for a copy scaled or shifted a little.
    """
    cells = watermark.CODE_CELLS
    start, end = watermark.CODE_SPAN
    margin = (1 - watermark.CODE_INK_SHARE) / 2
    places = [(width * start, width * (end - start) / cells)]
    first, last = inked.find(1, width // 50, width // 2), inked.rfind(1, width // 2, width - width // 50)
    if 0 <= first < last:
        cell = (last + 1 - first) / (cells - 2 * margin)
        places.append((first - margin * cell, cell))
    for origin, cell in places:
        if cell < 2 or origin < 0 or origin + cells * cell > width:
            continue  # too small to read, or not within the page
        values = tuple(inked[int(origin + (index + 0.5) * cell)] for index in range(cells))
        head, tail = len(watermark.CODE_START), len(watermark.CODE_END)
        if values[:head] != watermark.CODE_START or values[cells - tail:] != watermark.CODE_END:
            continue
        payload = bytes(int("".join(map(str, values[at:at + 8])), 2) for at in range(head, cells - tail, 8))
        serial, check = payload[:watermark.SERIAL_BYTES], payload[watermark.SERIAL_BYTES:]
        if verifies(serial, check):
            return serial
    return None


# ---------------------------------------------------------------- the weak marks


def _visible_stamp(path: Path, log: _Log) -> Finding:
    mark = "visible stamp"
    try:
        text = _run(["pdftotext", "-f", "1", "-l", str(PAGES_READ), "-enc", "UTF-8", "-q", str(path.resolve()), "-"],
                    "pdftotext").decode("utf-8", "replace")[:_TEXT_CHARS]
    except _ToolProblem as problem:
        return Finding(mark, False, f"not read: {problem}")
    text = " ".join(text.split())
    if not text:
        return Finding(mark, False, "no text on the pages read (pages made of images: read the stamp by eye)")
    links = Counter(_STAMP_LINK.findall(text))
    if not links:
        return Finding(mark, False, "no stamp in the text of the pages read (taken off, or covered)")
    named = links.most_common(1)[0][0]
    shared = Counter(_facts(text, "Shared with ", _STAMP_SHARED)).most_common(1)
    recipient, company, date = shared[0][0] if shared else (None, None, None)
    return _weak(mark, named, recipient, company, date, log)


def _metadata(pdf: pikepdf.Pdf | None, problem: str | None, log: _Log) -> Finding:
    mark = "metadata"
    if pdf is None:
        return Finding(mark, False, f"not read: {problem}")
    info = _info(pdf)
    named = info.get("/TrustCenterLinkId")
    recipient, company, date = (info.get(key) for key in ("/TrustCenterRecipient", "/TrustCenterCompany",
                                                          "/TrustCenterDate"))
    if named is None or re.fullmatch(_ID, named) is None:
        rights = _facts(_xmp(pdf), "Confidential: shared with ", _XMP_RIGHTS)
        if not rights:
            return Finding(mark, False, "no trust center entries in its metadata (cleared, or lost when the "
                                        "copy was re-made)")
        recipient, company, date, named = (html.unescape(value) for value in rights[0])
    return _weak(mark, named, recipient, company, date, log)


def _facts(text: str, lead: str, pattern: re.Pattern[str]) -> list[tuple[str, ...]]:
    """The groups of `pattern` where it matches at one of the first _FACTS_TRIED places `lead` starts."""
    found: list[tuple[str, ...]] = []
    at = text.find(lead)
    for _ in range(_FACTS_TRIED):
        if at < 0:
            break
        match = pattern.match(text, at, at + _FACTS_CHARS)
        if match is not None:
            found.append(match.groups())
        at = text.find(lead, at + len(lead))
    return found


def _weak(mark: str, named: str, recipient: str | None, company: str | None, date: str | None,
          log: _Log) -> Finding:
    kind = "grant" if grants.is_grant_id(named) else "link"
    facts = ", ".join(fact for fact in (f"{kind} {named}", recipient and _printable(recipient),
                                        company and f"({_printable(company)})", date) if fact)
    downloads = log.by_id(named, date)
    if not downloads:
        return Finding(mark, True, f"{facts}; this audit log has no download through that {kind}", Certainty.WEAK,
                       names=named)
    return Finding(mark, True, f"{facts}{_names(downloads)}", Certainty.WEAK, downloads, names=named)


def _info(pdf: pikepdf.Pdf) -> dict[str, str]:
    """The document information's trust center entries, as text of bounded length."""
    found: dict[str, str] = {}
    try:
        info = pdf.trailer.get("/Info")
        if not isinstance(info, pikepdf.Dictionary):
            return found
        for key in ("/TrustCenterLinkId", "/TrustCenterRecipient", "/TrustCenterCompany", "/TrustCenterDate"):
            value = info.get(key)
            if isinstance(value, pikepdf.String):
                found[key] = str(value)[:320]
    except (pikepdf.PdfError, ValueError, TypeError, RuntimeError, UnicodeDecodeError):
        pass  # a damaged dictionary says nothing
    return found


def _xmp(pdf: pikepdf.Pdf) -> str:
    """The XMP packet as text, at most _METADATA_BYTES of it, decoded without trusting its declared length.

    Searched, not parsed: an XML parser on a stranger's file is one more thing to harden, and the gate wrote
    the one line it looks for.
    """
    try:
        stream = pdf.Root.get("/Metadata")
        if not isinstance(stream, pikepdf.Stream):
            return ""
        raw = stream.read_raw_bytes()
        filters = stream.get("/Filter")
        if filters is None:
            data = raw[:_METADATA_BYTES]
        elif filters == pikepdf.Name.FlateDecode and "/DecodeParms" not in stream:
            data = zlib.decompressobj().decompress(raw, _METADATA_BYTES)
        else:
            return ""
    except (pikepdf.PdfError, zlib.error, ValueError, TypeError, RuntimeError):
        return ""
    return data.decode("utf-8", "replace")


# ---------------------------------------------------------------- reading the file within bounds


class _ToolProblem(Exception):
    """poppler is missing, failed, or took too long: one mark not read."""


def _open(path: Path) -> tuple[pikepdf.Pdf | None, str | None]:
    """The file opened with pikepdf, or why it could not be: then only poppler's readers run."""
    try:
        return pikepdf.open(path), None
    except pikepdf.PasswordError:
        return None, "it needs a password to open"
    except (pikepdf.PdfError, ValueError, RuntimeError, RecursionError, MemoryError):
        return None, "pikepdf cannot read it (damaged, or not a PDF)"


def _render(path: Path) -> list[Image.Image]:
    """The first pages as a reader shows them (the crop box, turned by /Rotate), greyscale, the long side
    RENDER_PIXELS."""
    with tempfile.TemporaryDirectory(prefix="trustcenter-trace-") as folder:
        problem: _ToolProblem | None = None
        try:
            # Greyscale PGM: no time spent compressing pictures read once (PNG takes twenty times as long).
            _run(["pdftoppm", "-f", "1", "-l", str(PAGES_READ), "-cropbox", "-scale-to", str(RENDER_PIXELS), "-gray",
                  str(path.resolve()), str(Path(folder) / "page")], "pdftoppm")
        except _ToolProblem as failed:
            problem = failed  # the pages rendered before it failed still count
        pages = []
        for file in sorted(Path(folder).glob("page-*.pgm"), key=_page_number):
            try:
                with Image.open(file) as image:
                    pages.append(image.convert("L"))
            except (OSError, ValueError, Image.DecompressionBombError):
                continue  # cut short by the time limit
        if not pages and problem is not None:
            raise problem
        return pages


def _page_number(file: Path) -> int:
    number = file.stem.rsplit("-", 1)[-1]
    return int(number) if number.isdigit() else 0


def _run(command: list[str], tool: str) -> bytes:
    try:
        done = subprocess.run(command, capture_output=True, timeout=TOOL_SECONDS, check=False)
    except FileNotFoundError:
        raise _ToolProblem(f"{tool} is not installed (Debian: apt-get install poppler-utils)") from None
    except subprocess.TimeoutExpired:
        raise _ToolProblem(f"{tool} took more than {TOOL_SECONDS} s on it") from None
    if done.returncode != 0:
        raise _ToolProblem(f"{tool} cannot read it (damaged, or not a PDF)")
    return done.stdout


# ---------------------------------------------------------------- wording


def _names(downloads: Iterable[Download]) -> str:
    events = sorted({download.event_id for download in downloads})
    if not events:
        return "; no download in this audit log has it"
    return f"; names audit event{'s' if len(events) > 1 else ''} {', '.join(map(str, events))}"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _printable(text: str) -> str:
    """Text from the file, shown on a terminal: no control characters (no escape sequences), bounded."""
    cleaned = "".join(char if char.isprintable() else "\N{REPLACEMENT CHARACTER}" for char in text)
    return cleaned if len(cleaned) <= 120 else cleaned[:119] + "…"
