"""`trustcenter trace`: a leaked copy named back to its download, from copies a real gate served and then put
through what a leaker does to them: the stamp and metadata taken off by script, `qpdf --qdf`, a print to PDF
that re-draws the pages (poppler's cairo, as GNOME's viewers print), a rasterised copy (every page an image)."""

from __future__ import annotations

import datetime as dt
import io
import re
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import pikepdf
import pytest
from click.testing import CliRunner
from conftest import GATED_ID
from loopback import RECIPIENT, RECIPIENT_COMPANY, Browser, RunningGate, Signer, running_gate, settings
from PIL import Image
from reportlab.lib.pagesizes import A4, LETTER, landscape  # type: ignore[import-untyped]
from reportlab.pdfgen import canvas  # type: ignore[import-untyped]
from stores import db_argument
from support import gate_database

from generator.cli import main
from generator.content.project import Project
from generator.gate import app as gate_app
from generator.gate import audit, tokens, trace, watermark
from generator.gate.settings import audit_key

# On SQLite and on PostgreSQL (`gate_store`, tests/conftest.py).
pytestmark = pytest.mark.usefixtures("gate_store")

MARKS = ("woven code", "document id", "visible stamp", "metadata")

# What a leaker runs on the copy, written as one would after a look at the file with pikepdf: each page draws
# two forms; the one with "Confidential" in it is the stamp, the other is the page itself. Drop the stamp, put
# the page back as it was, clear the document information and the XMP. `{extra}` is one more line for a leaker
# who has read the documentation.
REMOVAL_SCRIPT = """\
import sys, pikepdf
with pikepdf.open(sys.argv[1]) as pdf:
    for page in pdf.pages:
        forms = page.Resources.XObject
        for name in [name for name, form in forms.items() if b"Confidential" in form.read_bytes()]:
            del forms[name]
        [own] = forms.values()
        page.Contents, page.Resources = pdf.make_stream(own.read_bytes()), own.Resources
    del pdf.trailer["/Info"]
    del pdf.Root["/Metadata"]
    {extra}
    pdf.save(sys.argv[2])
"""
NEW_ID = "del pdf.trailer['/ID']  # a new document id, made when saving"


# ---------------------------------------------------------------- the copies


def report(path: Path, pages: int = 3) -> Path:
    """A report as reports are exported: several lines of text a page, its content streams /FlateDecode."""
    drawing = canvas.Canvas(str(path), pagesize=A4)
    drawing.setTitle("SOC 2 Type II report")
    for number in range(1, pages + 1):
        for line in range(30):
            drawing.drawString(72, 760 - line * 22, f"Page {number}, finding {line}: controls operated effectively.")
        drawing.showPage()
    drawing.save()
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        # reportlab writes ASCII85 over Flate; most exporters write plain Flate, the case the stamp splices into.
        pdf.save(path, stream_decode_level=pikepdf.StreamDecodeLevel.generalized)
    return path


@pytest.fixture
def gate(project: Path, tmp_path: Path, signer: Signer) -> Iterator[RunningGate]:
    report(project / "trust" / "private" / "soc2.pdf")
    with running_gate(settings(project, tmp_path)) as running:
        yield running


def download(gate: RunningGate, token: str, browser: Browser | None = None) -> bytes:
    """The document through the link, as a recipient gets it: NDA accepted, download chosen."""
    browser = browser or gate.browser()
    assert browser.accept(token).status == 303
    offer = browser.get(f"/access/{token}")
    assert browser.post(f"/access/{token}", {"csrf": browser.csrf_from(offer), "step": "download"}).status == 303
    reply = browser.get(f"/access/{token}/download")
    assert reply.status == 200 and reply.header("Content-Type") == "application/pdf"
    return reply.body


def downloads_of(gate: RunningGate, *, link_id: str | None = None, grant_id: str | None = None) -> list[audit.Row]:
    log = gate_app.current_of(gate.app).log
    return log.events(link_id, grant_id=grant_id, kinds=[audit.Kind.DOWNLOADED])


@pytest.fixture
def leaked(gate: RunningGate, signer: Signer, tmp_path: Path) -> tuple[Path, str, audit.Row]:
    """A copy Alice downloaded, the link's id, and the DOWNLOADED event the gate recorded."""
    link = signer.link()
    copy = tmp_path / "leaked" / "soc2-report.pdf"
    copy.parent.mkdir()
    copy.write_bytes(download(gate, signer.token(link)))
    [event] = downloads_of(gate, link_id=link.link_id)
    return copy, link.link_id, event


def removed(copy: Path, extra: str = "") -> Path:
    """The copy after the leaker's removal script."""
    output = copy.with_name("stamp-removed.pdf")
    subprocess.run([sys.executable, "-c", REMOVAL_SCRIPT.format(extra=extra), str(copy), str(output)], check=True)
    return output


def qdf(copy: Path) -> Path:
    output = copy.with_name(f"{copy.stem}-qdf.pdf")
    # qpdf exits 3 when it had warnings to give; it wrote the file all the same.
    assert subprocess.run(["qpdf", "--qdf", "--object-streams=disable", str(copy), str(output)]).returncode in (0, 3)
    return output


def reprinted(copy: Path) -> Path:
    """A print to PDF that draws every page again (poppler through cairo, as GNOME's viewers print): a new file,
    no metadata or /ID of the copy's, the text and the drawings kept."""
    output = copy.with_name(f"{copy.stem}-reprinted.pdf")
    subprocess.run(["pdftocairo", "-pdf", str(copy), str(output)], check=True)
    return output


def rasterised(copy: Path, dpi: int = 100) -> Path:
    """Every page an image, as a print through a raster driver or a screenshot of each page at the size it is
    shown: rendered at `dpi`, put back together by Pillow (its PDF pages are JPEG images)."""
    output = copy.with_name(f"{copy.stem}-rasterised.pdf")
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(copy), f"{folder}/page"], check=True)
        pages = [Image.open(file).convert("RGB") for file in sorted(Path(folder).glob("page-*.png"))]
        pages[0].save(output, "PDF", save_all=True, append_images=pages[1:], resolution=float(dpi))
    return output


def page_text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


# ---------------------------------------------------------------- running `trace`


def run_trace(tmp_path: Path, project: Path, copy: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["trace", str(copy), "--db", db_argument(gate_database(tmp_path)),
                                       "--project", str(project)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def marks(output: str) -> dict[str, str]:
    """Each mark's line of the report, by mark."""
    found = {}
    for line in output.splitlines():
        for mark in MARKS:
            if line.startswith(f"  {mark} "):
                found[mark] = line[len(mark) + 2:].strip()
    assert set(found) == set(MARKS), output
    return found


def assert_traced_to(output: str, event: audit.Row, link_id: str) -> None:
    """The verdict names the download: recipient, company, time, link, document, audit event."""
    lines = output.splitlines()
    assert lines[0].startswith("traced: ") and lines[0].endswith("is the copy of this download:"), output
    assert lines[1] == (f"  {RECIPIENT} ({RECIPIENT_COMPANY}, as recorded with the download) downloaded {GATED_ID} "
                        f"at {event.at} through link {link_id}, from 127.0.0.1 (audit event {event.id})")
    assert lines[2].startswith("certainty: sure")


def sure(line: str, event: audit.Row) -> bool:
    return line.startswith("found: serial ") and line.endswith(f"names audit event {event.id}; sure")


# ---------------------------------------------------------------- the copy as served, and as leakers change it


def test_a_copy_as_served_is_traced_by_all_four_marks(leaked: tuple[Path, str, audit.Row], tmp_path: Path,
                                                      project: Path) -> None:
    copy, link_id, event = leaked
    code, output = run_trace(tmp_path, project, copy)
    assert code == 0, output
    assert_traced_to(output, event, link_id)
    found = marks(output)
    assert re.search(r"on 3 of 3 pages read", found["woven code"]) and sure(found["woven code"], event)
    assert sure(found["document id"], event)
    for weak in ("visible stamp", "metadata"):
        assert found[weak] == (f"found: link {link_id}, {RECIPIENT}, ({RECIPIENT_COMPANY}), {event.at[:10]}; "
                               f"names audit event {event.id}; weak")
    assert "warning" not in output and "audit log: intact" in output


def test_the_download_records_a_keyed_digest_of_the_mark_not_the_mark(leaked: tuple[Path, str, audit.Row]) -> None:
    copy, _, event = leaked
    with pikepdf.open(copy) as pdf:
        serial = bytes(pdf.trailer.ID[0])[:watermark.SERIAL_BYTES]
    assert event.detail is not None and re.fullmatch(r"watermark [0-9a-f]{64}", event.detail)
    assert serial.hex() not in event.detail  # who reads the database cannot weave the serial into another copy


def test_the_removal_script_takes_off_the_stamp_and_metadata_and_the_woven_marks_stay(
        leaked: tuple[Path, str, audit.Row], tmp_path: Path, project: Path) -> None:
    copy, link_id, event = leaked
    stripped = removed(copy)
    # The script did what it was written for: no stamp to read, no metadata.
    assert RECIPIENT not in page_text(stripped) and link_id not in page_text(stripped)
    assert "controls operated effectively" in page_text(stripped)  # the report itself is all there
    with pikepdf.open(stripped) as pdf:
        assert "/Info" not in pdf.trailer and "/Metadata" not in pdf.Root
        assert all(len(page.Resources.get("/XObject", {})) == 0 for page in pdf.pages)
    code, output = run_trace(tmp_path, project, stripped)
    assert code == 0, output
    assert_traced_to(output, event, link_id)
    found = marks(output)
    assert sure(found["woven code"], event) and sure(found["document id"], event)
    assert found["visible stamp"].startswith("not found: no stamp in the text")
    assert found["metadata"].startswith("not found: no trust center entries")


def test_a_leaker_who_also_replaces_the_document_id_is_traced_by_the_woven_code(
        leaked: tuple[Path, str, audit.Row], tmp_path: Path, project: Path) -> None:
    copy, link_id, event = leaked
    code, output = run_trace(tmp_path, project, removed(copy, NEW_ID))
    assert code == 0, output
    assert_traced_to(output, event, link_id)
    found = marks(output)
    assert sure(found["woven code"], event)
    assert found["document id"].startswith("not found: its /ID is not one this gate wrote")


@pytest.mark.parametrize("stripped", [False, True], ids=["as-served", "stamp-removed"])
def test_qpdf_qdf_keeps_every_mark_it_is_given(leaked: tuple[Path, str, audit.Row], tmp_path: Path, project: Path,
                                               stripped: bool) -> None:
    copy, link_id, event = leaked
    code, output = run_trace(tmp_path, project, qdf(removed(copy) if stripped else copy))
    assert code == 0, output
    assert_traced_to(output, event, link_id)
    found = marks(output)
    assert sure(found["woven code"], event) and sure(found["document id"], event)
    assert found["visible stamp"].startswith("not found" if stripped else "found")


@pytest.mark.parametrize("stripped", [False, True], ids=["as-served", "stamp-removed"])
def test_a_print_to_pdf_keeps_the_woven_code(leaked: tuple[Path, str, audit.Row], tmp_path: Path, project: Path,
                                             stripped: bool) -> None:
    copy, link_id, event = leaked
    printed = reprinted(removed(copy) if stripped else copy)
    code, output = run_trace(tmp_path, project, printed)
    assert code == 0, output
    assert_traced_to(output, event, link_id)
    found = marks(output)
    assert sure(found["woven code"], event)
    assert found["document id"].startswith("not found")  # a new file, with an /ID of its own
    assert found["metadata"].startswith("not found")
    if stripped:
        assert found["visible stamp"].startswith("not found")
    else:  # still text, in the fonts the printer embedded
        assert found["visible stamp"].startswith(f"found: link {link_id}, {RECIPIENT}")


@pytest.mark.parametrize("stripped", [False, True], ids=["as-served", "stamp-removed"])
def test_a_rasterised_copy_keeps_only_what_can_be_seen_and_is_traced_by_the_woven_code(
        leaked: tuple[Path, str, audit.Row], tmp_path: Path, project: Path, stripped: bool) -> None:
    copy, link_id, event = leaked
    pictures = rasterised(removed(copy) if stripped else copy)
    with pikepdf.open(pictures) as pdf:
        assert all(len(page.get_images()) == 1 for page in pdf.pages)  # nothing left but pictures of the pages
    code, output = run_trace(tmp_path, project, pictures)
    assert code == 0, output
    assert_traced_to(output, event, link_id)
    found = marks(output)
    assert sure(found["woven code"], event)
    assert found["visible stamp"] == "not found: no text on the pages read (pages made of images: read the stamp by eye)"
    assert found["document id"].startswith("not found") and found["metadata"].startswith("not found")


def test_a_copy_rasterised_at_screen_resolution_and_turned_is_still_traced(leaked: tuple[Path, str, audit.Row],
                                                                           tmp_path: Path, project: Path) -> None:
    copy, link_id, event = leaked
    pictures = rasterised(removed(copy), dpi=72)
    with pikepdf.open(pictures, allow_overwriting_input=True) as pdf:
        for page in pdf.pages:
            page.rotate(90, relative=True)  # shared sideways
        pdf.save(pictures)
    code, output = run_trace(tmp_path, project, pictures)
    assert code == 0, output
    assert_traced_to(output, event, link_id)


# ---------------------------------------------------------------- telling downloads and recipients apart


def test_two_downloads_through_one_link_are_told_apart(gate: RunningGate, signer: Signer, tmp_path: Path,
                                                       project: Path) -> None:
    link = signer.link()
    token = signer.token(link)
    browser = gate.browser()
    first, second = tmp_path / "first.pdf", tmp_path / "second.pdf"
    first.write_bytes(download(gate, token, browser))
    second.write_bytes(download(gate, token, browser))
    events = downloads_of(gate, link_id=link.link_id)
    assert len(events) == 2
    for copy, event in zip((first, second), events, strict=True):
        code, output = run_trace(tmp_path, project, removed(copy))
        assert code == 0, output
        assert_traced_to(output, event, link.link_id)
    # The stamp is the same on both: on its own it names the link, and both of its downloads.
    found = marks(run_trace(tmp_path, project, first)[1])
    assert found["visible stamp"].endswith(f"names audit events {events[0].id}, {events[1].id}; weak")


def test_a_grant_download_is_traced_to_the_grant(gate: RunningGate, tmp_path: Path, project: Path) -> None:
    store = gate_app.current_of(gate.app).store
    with store.db.write() as tx:  # a grant as staff approve one (the request flow is tested in test_requests.py)
        grant, token = store.access.create_grant(tx, email="jane@partner.test", name="Jane Doe", company="Partner Ltd",
                                                 documents=[GATED_ID], days=7, nda_on_file=True,
                                                 approved_by="staff@example.com", request_id=None)
    reply = gate.browser().get(f"/grant/{token}/documents/{GATED_ID}")
    assert reply.status == 200
    copy = tmp_path / "granted.pdf"
    copy.write_bytes(reply.body)
    [event] = downloads_of(gate, grant_id=grant.id)
    code, output = run_trace(tmp_path, project, removed(copy))
    assert code == 0, output
    assert output.splitlines()[1] == (f"  jane@partner.test (Partner Ltd, as recorded with the download) downloaded "
                                      f"{GATED_ID} at {event.at} through grant {grant.id}, from 127.0.0.1 "
                                      f"(audit event {event.id})")


def test_a_link_whose_id_starts_like_a_grant_id_is_named_a_link(gate: RunningGate, signer: Signer, tmp_path: Path,
                                                                   project: Path) -> None:
    """Link ids are 16 random URL-safe characters: one in 4,096 starts "g-", as grant ids do (CI met one)."""
    link = signer.link(link_id="g-" + tokens.new_link_id()[2:])
    copy = tmp_path / "g-link.pdf"
    copy.write_bytes(download(gate, signer.token(link)))
    [event] = downloads_of(gate, link_id=link.link_id)
    found = marks(run_trace(tmp_path, project, copy)[1])
    for weak in ("visible stamp", "metadata"):
        assert found[weak].startswith(f"found: link {link.link_id}, {RECIPIENT}, ")
        assert found[weak].endswith(f"names audit event {event.id}; weak")


# ---------------------------------------------------------------- forgeries and what the log does not know


def test_a_stamp_and_metadata_edited_to_name_someone_else_do_not_move_the_trace(
        gate: RunningGate, signer: Signer, tmp_path: Path, project: Path) -> None:
    """Mallory leaks her copy after making its stamp and metadata name Bob's link: the keyed marks still name her."""
    bob = signer.link(recipient="bob@customer.test")
    download(gate, signer.token(bob))
    mallory = signer.link(recipient="mallory@customer.test")
    copy = tmp_path / "mallory.pdf"
    copy.write_bytes(download(gate, signer.token(mallory)))
    with pikepdf.open(copy, allow_overwriting_input=True) as pdf:
        pdf.docinfo["/TrustCenterLinkId"] = bob.link_id
        pdf.docinfo["/TrustCenterRecipient"] = "bob@customer.test"
        for page in pdf.pages:
            for form in page.Resources.XObject.values():
                data = form.read_bytes()
                if b"Confidential" in data:
                    form.write(data.replace(mallory.link_id.encode(), bob.link_id.encode())
                               .replace(b"mallory@", b"bob@"))
        pdf.save(copy)
    assert f"Link {bob.link_id}" in page_text(copy)
    code, output = run_trace(tmp_path, project, copy)
    assert code == 0, output
    [event] = downloads_of(gate, link_id=mallory.link_id)
    assert output.splitlines()[1].startswith(f"  mallory@customer.test ({RECIPIENT_COMPANY}, as recorded with the "
                                             f"download) downloaded {GATED_ID} at {event.at} through link "
                                             f"{mallory.link_id}")
    warnings = [line for line in output.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: the {mark} names {bob.link_id}, not the link or grant the keyed marks name: it was "
                        "edited (to frame someone else?), or the copy was put together from others"
                        for mark in ("visible stamp", "metadata")]


def test_marks_made_without_the_audit_key_are_not_believed(gate: RunningGate, signer: Signer, tmp_path: Path,
                                                           project: Path) -> None:
    """A forger who knows how the marks are made, but not the key, weaves a well-formed mark into a copy: trace finds
    no keyed mark, and the stamp alone (naming Alice's link, which the forger knows) is only a weak lead."""
    alice = signer.link()
    download(gate, signer.token(alice))
    forged = tmp_path / "forged.pdf"
    stamp = watermark.Stamp(RECIPIENT, RECIPIENT_COMPANY, dt.datetime.now(dt.UTC).date(), alice.link_id,
                            watermark.Mark.new(b"not the audit key" * 2))
    forged.write_bytes(watermark.watermark(project / "trust" / "private" / "soc2.pdf", stamp))
    code, output = run_trace(tmp_path, project, forged)
    found = marks(output)
    assert found["woven code"].startswith("not found") and found["document id"].startswith("not found")
    assert output.splitlines()[0].startswith("traced, weakly: ")
    assert "certainty: weak" in output
    assert code == 0  # a lead: the link the stamp names was downloaded


def test_a_keyed_mark_no_download_recorded_is_reported_not_traced(gate: RunningGate, tmp_path: Path,
                                                                  project: Path) -> None:
    """A copy stamped with this audit key that the log never recorded (another database, or events lost)."""
    stripped_source = tmp_path / "unrecorded.pdf"
    mark = watermark.Mark.new(audit_key(Project.at(project)))
    stamp = watermark.Stamp(RECIPIENT, RECIPIENT_COMPANY, dt.date(2026, 11, 23), "AbCdEfGh12345678", mark)
    stripped_source.write_bytes(watermark.watermark(project / "trust" / "private" / "soc2.pdf", stamp))
    code, output = run_trace(tmp_path, project, removed(stripped_source))
    assert code == 1
    assert output.splitlines()[0] == ("not traced: stamp-removed.pdf carries a mark made with this gate's audit key, "
                                      "but no download in this audit log records it: is --db the gate's database? "
                                      "were events lost?")
    assert marks(output)["woven code"].endswith("no download in this audit log has it; sure")


def test_a_report_that_never_went_through_the_gate_is_not_traced(gate: RunningGate, tmp_path: Path,
                                                                 project: Path) -> None:
    code, output = run_trace(tmp_path, project, project / "trust" / "private" / "soc2.pdf")
    assert code == 1
    assert output.splitlines()[0] == "not traced: no mark of this gate was found in soc2.pdf"
    assert all(line.startswith("not found") for line in marks(output).values())


# ---------------------------------------------------------------- hostile files


def hostile(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def assert_not_traced_cleanly(tmp_path: Path, project: Path, path: Path) -> str:
    code, output = run_trace(tmp_path, project, path)
    assert code == 1, output
    assert "Traceback" not in output and output.startswith("not traced: ")
    return output


def test_a_file_that_is_not_a_pdf_is_answered_not_crashed_on(gate: RunningGate, tmp_path: Path,
                                                             project: Path) -> None:
    output = assert_not_traced_cleanly(tmp_path, project, hostile(tmp_path, "leak.pdf", b"<html>not a pdf</html>"))
    found = marks(output)
    assert found["document id"] == found["metadata"] == "not found: not read: pikepdf cannot read it (damaged, or not a PDF)"
    assert found["woven code"] == "not found: not read: pdftoppm cannot read it (damaged, or not a PDF)"


def test_an_empty_file_is_answered_not_crashed_on(gate: RunningGate, tmp_path: Path, project: Path) -> None:
    assert_not_traced_cleanly(tmp_path, project, hostile(tmp_path, "empty.pdf", b""))


def test_a_truncated_copy_is_read_as_far_as_it_goes(leaked: tuple[Path, str, audit.Row], tmp_path: Path,
                                                    project: Path) -> None:
    copy, _, _ = leaked
    data = copy.read_bytes()
    code, output = run_trace(tmp_path, project, hostile(tmp_path, "half.pdf", data[: len(data) // 2]))
    assert code in (0, 1) and "Traceback" not in output
    marks(output)


def test_a_password_protected_file_says_so(leaked: tuple[Path, str, audit.Row], tmp_path: Path,
                                           project: Path) -> None:
    copy, _, _ = leaked
    locked = tmp_path / "locked.pdf"
    with pikepdf.open(copy) as pdf:
        pdf.save(locked, encryption=pikepdf.Encryption(owner="owner", user="open-sesame"))
    output = assert_not_traced_cleanly(tmp_path, project, locked)
    assert marks(output)["document id"] == "not found: not read: it needs a password to open"


def test_a_file_larger_than_any_report_is_refused_before_it_is_read(gate: RunningGate, tmp_path: Path,
                                                                   project: Path) -> None:
    huge = tmp_path / "huge.pdf"
    with huge.open("wb") as handle:
        handle.truncate(trace.MAX_BYTES + 1)  # sparse: no disk is used
    code, output = run_trace(tmp_path, project, huge)
    assert code == 1
    assert output == f"error: {huge} is 512 MiB, more than the 512 MiB a copy of a report can be: it is not one the gate served\n"


def test_a_missing_file_is_a_clear_error(gate: RunningGate, tmp_path: Path, project: Path) -> None:
    code, output = run_trace(tmp_path, project, tmp_path / "nowhere.pdf")
    assert code == 1 and output.startswith("error: cannot read ") and "give the path of the leaked copy" in output


def test_metadata_that_would_decode_to_a_gigabyte_is_read_within_bounds(gate: RunningGate, tmp_path: Path,
                                                                       project: Path) -> None:
    path = report(tmp_path / "bomb.pdf", pages=1)
    # 1 GiB of zeros in 1 MB of zlib: one flushed block of a mebibyte of zeros, 1024 times, and the checksum.
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = deflate.compress(bytes(1 << 20)) + deflate.flush(zlib.Z_FULL_FLUSH)
    packed = b"\x78\xda" + block * 1024 + deflate.flush() + ((1 << 30) % 65521 << 16 | 1).to_bytes(4, "big")
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        stream = pikepdf.Stream(pdf, packed)
        stream.Filter = pikepdf.Name.FlateDecode
        pdf.Root.Metadata = pdf.make_indirect(stream)
        pdf.save(path, fix_metadata_version=False)  # pikepdf would otherwise read the XMP (all of it) to update it
    assert path.stat().st_size > len(packed)
    output = assert_not_traced_cleanly(tmp_path, project, path)
    assert marks(output)["metadata"].startswith("not found")


def test_text_from_the_file_reaches_the_terminal_without_control_characters(
        leaked: tuple[Path, str, audit.Row], tmp_path: Path, project: Path) -> None:
    copy, link_id, event = leaked
    with pikepdf.open(copy, allow_overwriting_input=True) as pdf:
        pdf.docinfo["/TrustCenterRecipient"] = "\x1b]0;owned\x07\x1b[2Jalice"
        pdf.save(copy)
    code, output = run_trace(tmp_path, project, copy)
    assert code == 0 and "\x1b" not in output and "\x07" not in output
    assert_traced_to(output, event, link_id)


def test_tracing_without_the_gates_database_says_where_it_looked(tmp_path: Path, project: Path) -> None:
    copy = report(tmp_path / "copy.pdf", pages=1)
    wrong = tmp_path / "elsewhere.sqlite3"
    result = CliRunner().invoke(main, ["trace", str(copy), "--db", str(wrong), "--project", str(project)])
    assert result.exit_code == 1 and f"there is no gate database at {wrong}" in result.output


# ---------------------------------------------------------------- the woven code itself


def test_the_code_is_spliced_into_the_pages_own_compressed_stream_not_added_beside_it(tmp_path: Path) -> None:
    source = report(tmp_path / "report.pdf", pages=2)
    mark = watermark.Mark.new(b"k" * 32)
    copy = tmp_path / "copy.pdf"
    copy.write_bytes(watermark.watermark(source, watermark.Stamp(RECIPIENT, RECIPIENT_COMPANY, dt.date(2026, 11, 23),
                                                                 "AbCdEfGh12345678", mark)))
    with pikepdf.open(source) as original, pikepdf.open(copy) as stamped:
        for before, after in zip(original.pages, stamped.pages, strict=True):
            raw = before.Contents.read_raw_bytes()
            own = [form for form in after.Resources.XObject.values() if b"Confidential" not in form.read_bytes()]
            [form] = own
            decoded = form.read_bytes()
            assert decoded.endswith(before.Contents.read_bytes())  # the page's own content, unchanged, after the code
            assert decoded.startswith(b"q ") and b" re " in decoded.split(before.Contents.read_bytes())[0]
            assert raw[2:-4] in form.read_raw_bytes()  # its compressed blocks as they were: not compressed again
    assert subprocess.run(["qpdf", "--check", str(copy)], capture_output=True).returncode == 0


def mixed_pdf(path: Path) -> Path:
    """Pages of different sizes, one landscape, one turned with /Rotate, one with a cropped, shifted box."""
    drawing = canvas.Canvas(str(path))
    for size in (A4, landscape(LETTER), A4, (300, 200)):
        drawing.setPageSize(size)
        drawing.drawString(60, 60, f"report page {size[0]:.0f}x{size[1]:.0f}")
        drawing.showPage()
    drawing.save()
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        pdf.pages[2].rotate(90, relative=False)
        pdf.pages[3].cropbox = pikepdf.Array([50, 20, 290, 190])
        pdf.save(path)
    return path


@pytest.mark.parametrize("turn", [0, 90, 180, 270])
def test_the_code_lies_along_the_bottom_the_reader_sees_on_every_kind_of_page(tmp_path: Path, turn: int) -> None:
    source = mixed_pdf(tmp_path / "mixed.pdf")
    with pikepdf.open(source, allow_overwriting_input=True) as pdf:
        pdf.pages[2].rotate(turn, relative=False)
        pdf.save(source)
    key = b"k" * 32
    mark = watermark.Mark.new(key)
    stamped = tmp_path / "stamped.pdf"
    stamped.write_bytes(watermark.watermark(source, watermark.Stamp(RECIPIENT, RECIPIENT_COMPANY,
                                                                    dt.date(2026, 11, 23), "AbCdEfGh12345678", mark)))
    stripped = removed(stamped)

    def verifies(serial: bytes, check: bytes) -> bool:
        return watermark.Mark.of(key, serial).check[:len(check)] == check

    for number in range(1, 5):
        png = subprocess.run(["pdftoppm", "-r", "150", "-cropbox", "-png", "-f", str(number), "-l", str(number),
                              str(stripped)], capture_output=True, check=True).stdout
        page = Image.open(io.BytesIO(png))
        assert trace.codes_in(page, verifies) == {mark.serial}, f"page {number}"
        # Along the bottom edge as shown: the rows of the code are in the bottom 5 % of the rendered page.
        width, height = page.size
        bottom = page.crop((0, height - height // 20, width, height))
        assert trace.codes_in(bottom, verifies) == {mark.serial}, f"page {number}"
