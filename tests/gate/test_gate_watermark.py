"""The documents the gate serves: every page stamped for the recipient, and `check` refusing what cannot be."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import subprocess
from pathlib import Path

import pikepdf
import pytest
from click.testing import CliRunner
from conftest import write_pdf
from PIL import Image
from reportlab.lib.pagesizes import A4, LETTER, landscape  # type: ignore[import-untyped]
from reportlab.pdfgen import canvas  # type: ignore[import-untyped]

from generator.cli import main
from generator.gate import watermark

# On SQLite and on PostgreSQL (`gate_store`, tests/conftest.py).
pytestmark = pytest.mark.usefixtures("gate_store")

STAMP = watermark.Stamp("alice@customer.test", "Customer Inc", dt.date(2026, 11, 23), "KVaDsHjqrAI12XBZ")


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


def page_text(pdf: Path, number: int, *options: str) -> str:
    return subprocess.run(["pdftotext", *options, "-f", str(number), "-l", str(number), str(pdf), "-"],
                          capture_output=True, text=True, check=True).stdout


def stamped(source: Path, tmp_path: Path, stamp: watermark.Stamp = STAMP) -> Path:
    output = tmp_path / "stamped.pdf"
    output.write_bytes(watermark.watermark(source, stamp))
    return output


def test_every_page_shows_recipient_company_date_and_link_id(tmp_path: Path) -> None:
    output = stamped(mixed_pdf(tmp_path / "report.pdf"), tmp_path)
    with pikepdf.open(output) as pdf:
        assert len(pdf.pages) == 4
    for number in range(1, 5):
        text = page_text(output, number)
        for fact in (STAMP.recipient, STAMP.company, "2026-11-23", STAMP.link_id):
            assert fact in text, f"page {number} lacks {fact}"
        assert "report" in page_text(output, number, "-raw")  # the page's own content is still there


def test_the_footer_stands_at_the_bottom_of_a_turned_page_as_the_reader_sees_it(tmp_path: Path) -> None:
    output = stamped(mixed_pdf(tmp_path / "report.pdf"), tmp_path)
    box = page_text(output, 3, "-bbox")
    # pdftotext gives word places as the reader sees the page; turned by 90°, its height is the page's width.
    seen_height = float(box.split('<page width="')[1].split('"')[0])
    link_word = next(line for line in box.splitlines() if ">Link<" in line)
    y_min = float(link_word.split('yMin="')[1].split('"')[0])
    assert seen_height * 0.9 < y_min < seen_height


def test_the_metadata_names_the_recipient_too(tmp_path: Path) -> None:
    output = stamped(write_pdf(tmp_path / "report.pdf"), tmp_path)
    with pikepdf.open(output) as pdf:
        assert str(pdf.docinfo["/TrustCenterRecipient"]) == STAMP.recipient
        assert str(pdf.docinfo["/TrustCenterCompany"]) == STAMP.company
        assert str(pdf.docinfo["/TrustCenterDate"]) == "2026-11-23"
        assert str(pdf.docinfo["/TrustCenterLinkId"]) == STAMP.link_id
        with pdf.open_metadata() as xmp:
            assert STAMP.recipient in str(xmp["dc:rights"]) and STAMP.link_id in str(xmp["dc:rights"])


def test_the_source_file_is_left_unchanged(tmp_path: Path) -> None:
    source = write_pdf(tmp_path / "report.pdf")
    before = hashlib.sha256(source.read_bytes()).hexdigest()
    watermark.watermark(source, STAMP)
    assert hashlib.sha256(source.read_bytes()).hexdigest() == before


def test_letters_the_pdf_fonts_lack_are_approximated_on_the_page_and_exact_in_the_metadata(tmp_path: Path) -> None:
    stamp = watermark.Stamp("zoe@customer.test", "Żółć 株式会社 Société", dt.date(2026, 11, 23), "AbCdEfGh12345678")
    output = stamped(write_pdf(tmp_path / "report.pdf", pages=1), tmp_path, stamp)
    assert "(Zó?c ???? Société)" in page_text(output, 1)  # ł has no plain form; ż and ć lose their accents
    with pikepdf.open(output) as pdf:
        assert str(pdf.docinfo["/TrustCenterCompany"]) == "Żółć 株式会社 Société"


def test_a_very_long_address_still_fits_on_the_page(tmp_path: Path) -> None:
    long_address = "a" * 60 + "@" + "department." * 10 + "customer.test"
    stamp = watermark.Stamp(long_address, "Customer Inc", dt.date(2026, 11, 23), "AbCdEfGh12345678")
    output = stamped(write_pdf(tmp_path / "report.pdf", pages=1), tmp_path, stamp)
    assert long_address in page_text(output, 1, "-nopgbrk").replace("\n", "")


def test_a_hundred_page_report_is_stamped_on_every_page(tmp_path: Path) -> None:
    output = stamped(write_pdf(tmp_path / "report.pdf", pages=100), tmp_path)
    text = subprocess.run(["pdftotext", str(output), "-"], capture_output=True, text=True, check=True).stdout
    assert text.count(STAMP.link_id) == 100


# ---------------------------------------------------------------- a crafted report cannot hide the stamp


def ending_every_page_with(path: Path, operators: bytes) -> Path:
    """A two-page report whose pages end with `operators`, as a crafted export could end them."""
    write_pdf(path, pages=2)
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        for page in pdf.pages:
            page.contents_add(b"\n" + operators + b"\n", prepend=False)
        pdf.save(path)
    return path


def stamp_pixels(pdf: Path, number: int) -> int:
    """Pixels of the stamp's translucent red in the middle of the rendered page, which the diagonal crosses."""
    png = subprocess.run(["pdftoppm", "-r", "50", "-png", "-f", str(number), "-l", str(number), str(pdf)],
                         capture_output=True, check=True).stdout
    image = Image.open(io.BytesIO(png)).convert("RGB")
    width, height = image.size
    middle = image.crop((width // 3, height // 3, 2 * width // 3, 2 * height // 3)).tobytes()
    pixels = zip(middle[0::3], middle[1::3], middle[2::3], strict=True)
    return sum(1 for red, green, blue in pixels if red - green > 12 and red - blue > 12)


def assert_stamp_shows_on_every_page(output: Path) -> None:
    for number in (1, 2):
        assert STAMP.recipient in page_text(output, number), f"page {number} lost the stamp's text"
        assert stamp_pixels(output, number) > 200, f"page {number} shows no stamp"


def test_restores_without_saves_at_the_end_of_a_page_cannot_hide_the_stamp(tmp_path: Path) -> None:
    assert_stamp_shows_on_every_page(stamped(ending_every_page_with(tmp_path / "report.pdf", b"Q Q Q Q"), tmp_path))


@pytest.mark.parametrize("left_behind", [
    pytest.param(b"0 0 0 0 cm", id="collapsed-matrix"),
    pytest.param(b"1 0 0 1 5000 5000 cm", id="matrix-off-the-page"),
    pytest.param(b"0 0 0 0 re W n", id="empty-clipping-path"),
    pytest.param(b"1 1 1 rg 1 1 1 RG 3 Tr", id="white-fill-and-invisible-text"),
])
def test_graphics_state_a_page_leaves_behind_cannot_hide_the_stamp(tmp_path: Path, left_behind: bytes) -> None:
    source = ending_every_page_with(tmp_path / "report.pdf", b"Q Q Q Q " + left_behind)
    assert_stamp_shows_on_every_page(stamped(source, tmp_path))


@pytest.mark.parametrize("unfinished", [
    pytest.param(b"(an unterminated string", id="string"),
    pytest.param(b"[ 1 2", id="array"),
    pytest.param(b"<< /Key", id="dictionary"),
])
def test_an_unfinished_operand_at_the_end_of_a_page_cannot_swallow_the_stamp(tmp_path: Path, unfinished: bytes) -> None:
    assert_stamp_shows_on_every_page(stamped(ending_every_page_with(tmp_path / "report.pdf", unfinished), tmp_path))


def test_a_hidden_layer_a_page_leaves_open_cannot_hide_the_stamp(tmp_path: Path) -> None:
    source = write_pdf(tmp_path / "report.pdf", pages=2)
    with pikepdf.open(source, allow_overwriting_input=True) as pdf:
        layer = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.OCG, Name=pikepdf.String("hidden")))
        pdf.Root.OCProperties = pikepdf.Dictionary(OCGs=[layer], D=pikepdf.Dictionary(OFF=[layer]))
        for page in pdf.pages:
            page.obj.Resources.Properties = pikepdf.Dictionary(Hidden=layer)
            page.contents_add(b"\n/OC /Hidden BDC\n", prepend=False)  # marked content begun, never ended
        pdf.save(source)
    assert_stamp_shows_on_every_page(stamped(source, tmp_path))


def test_rotated_and_cropped_pages_keep_their_own_content_in_place(tmp_path: Path) -> None:
    source = mixed_pdf(tmp_path / "report.pdf")
    output = stamped(source, tmp_path)
    for number in range(1, 5):
        before = next(line for line in page_text(source, number, "-bbox").splitlines() if ">report<" in line)
        after = next(line for line in page_text(output, number, "-bbox").splitlines() if ">report<" in line)
        assert before == after


# ---------------------------------------------------------------- what the copy keeps and what it loses


def owner_restricted(path: Path, allow: pikepdf.Permissions) -> Path:
    """A report that opens without a password but whose owner forbade some uses."""
    write_pdf(path, pages=2)
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        pdf.save(path, encryption=pikepdf.Encryption(owner="owner-secret", user="", allow=allow, R=4))
    return path


NO_PRINTING_OR_COPYING = pikepdf.Permissions(extract=False, print_lowres=False, print_highres=False,
                                             modify_other=False, modify_assembly=False, modify_annotation=False,
                                             modify_form=False, accessibility=True)


def test_the_owners_restrictions_survive_stamping(tmp_path: Path) -> None:
    output = stamped(owner_restricted(tmp_path / "report.pdf", NO_PRINTING_OR_COPYING), tmp_path)
    with pikepdf.open(output) as pdf:  # no password: the recipient can open it
        assert pdf.is_encrypted
        assert pdf.allow == NO_PRINTING_OR_COPYING
    assert STAMP.recipient in page_text(output, 2)


def test_the_copy_of_an_unrestricted_report_is_not_encrypted(tmp_path: Path) -> None:
    with pikepdf.open(stamped(write_pdf(tmp_path / "report.pdf"), tmp_path)) as pdf:
        assert not pdf.is_encrypted


def every_dictionary(pdf: pikepdf.Pdf) -> list[pikepdf.Object]:
    """Every dictionary and stream the saved file holds, direct ones inside others included."""
    found, pending, seen = [], [pdf.trailer], set()
    while pending:
        item = pending.pop()
        if not isinstance(item, pikepdf.Object):  # numbers and booleans arrive as Python values
            continue
        if item.is_indirect:
            if item.objgen in seen:
                continue
            seen.add(item.objgen)
        if isinstance(item, pikepdf.Array):
            pending.extend(item)
        elif isinstance(item, (pikepdf.Dictionary, pikepdf.Stream)):
            found.append(item)
            pending.extend(item.values())
    return found


def test_the_copy_of_a_report_with_an_opening_script_and_an_attachment_has_neither(tmp_path: Path) -> None:
    source = write_pdf(tmp_path / "report.pdf")
    with pikepdf.open(source, allow_overwriting_input=True) as pdf:
        pdf.Root.OpenAction = pdf.make_indirect(pikepdf.Dictionary(S=pikepdf.Name.JavaScript,
                                                                   JS=pikepdf.String("app.alert('hello')")))
        pdf.attachments["payload.exe"] = pikepdf.AttachedFileSpec(pdf, b"MZ not really", mime_type="text/plain")
        pdf.save(source)
    with pikepdf.open(stamped(source, tmp_path)) as pdf:
        dictionaries = every_dictionary(pdf)
        assert "/OpenAction" not in pdf.Root and len(pdf.attachments) == 0
        assert not [d for d in dictionaries if "/JS" in d or d.get("/S") == pikepdf.Name.JavaScript]
        assert not [d for d in dictionaries if d.get("/Type") == pikepdf.Name.EmbeddedFile or "/EF" in d]


def test_the_copy_keeps_no_launch_action_or_additional_actions_but_keeps_web_links(tmp_path: Path) -> None:
    source = write_pdf(tmp_path / "report.pdf", pages=1)
    with pikepdf.open(source, allow_overwriting_input=True) as pdf:
        page = pdf.pages[0].obj
        page.AA = pikepdf.Dictionary(O=pikepdf.Dictionary(S=pikepdf.Name.Named, N=pikepdf.Name.NextPage))
        page.Annots = pdf.make_indirect(pikepdf.Array([
            pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=[72, 700, 200, 720],
                               A=pikepdf.Dictionary(S=pikepdf.Name.Launch, F=pikepdf.String("calc.exe"))),
            pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=[72, 600, 200, 620],
                               A=pikepdf.Dictionary(S=pikepdf.Name.URI, URI=pikepdf.String("https://example.test/"))),
        ]))
        pdf.save(source)
    with pikepdf.open(stamped(source, tmp_path)) as pdf:
        page = pdf.pages[0].obj
        assert "/AA" not in page
        actions = [annotation.get("/A") for annotation in page.Annots]
        assert actions[0] is None and str(actions[1].URI) == "https://example.test/"


def test_the_documents_title_and_author_are_kept(tmp_path: Path) -> None:
    source = tmp_path / "report.pdf"
    drawing = canvas.Canvas(str(source))
    drawing.setTitle("SOC 2 Type II report")
    drawing.setAuthor("Example Audit LLP")
    drawing.drawString(72, 720, "report")
    drawing.showPage()
    drawing.save()
    with pikepdf.open(stamped(source, tmp_path)) as pdf:
        assert str(pdf.docinfo["/Title"]) == "SOC 2 Type II report"
        assert str(pdf.docinfo["/Author"]) == "Example Audit LLP"
        with pdf.open_metadata() as xmp:
            assert xmp["dc:title"] == "SOC 2 Type II report"
            assert xmp["dc:creator"] == ["Example Audit LLP"]


# ---------------------------------------------------------------- `trustcenter check` on gated files


def check(project: Path) -> str:
    result = CliRunner().invoke(main, ["check", "--project", str(project)])
    assert result.exit_code == 1
    return result.output


def stamp_names(pdf: Path) -> set[str]:
    with pikepdf.open(pdf) as opened:
        return {str(name) for page in opened.pages for name in page.resources.get("/XObject", {}).keys()}


def test_the_stamp_has_no_fixed_name_a_script_could_delete_it_by(tmp_path: Path) -> None:
    source = write_pdf(tmp_path / "report.pdf", pages=2)
    first = stamp_names(stamped(source, tmp_path))
    second = stamp_names(stamped(source, tmp_path))
    assert len(first) == 4 and not first & second  # per page, two forms: its own content, then the stamp
    assert not any(name.lower().startswith(("/tc", "/stamp", "/watermark")) for name in first | second)


def test_check_flags_a_missing_gated_file(project: Path) -> None:
    (project / "trust" / "private" / "soc2.pdf").unlink()
    assert "trust/documents.yaml:" in (output := check(project)) and "'private/soc2.pdf' does not exist" in output


def test_check_flags_a_gated_file_that_is_not_a_readable_pdf(project: Path) -> None:
    (project / "trust" / "private" / "soc2.pdf").write_text("this is not a PDF")
    assert "is not a readable PDF" in check(project)


def test_check_flags_a_password_protected_gated_file(project: Path) -> None:
    path = project / "trust" / "private" / "soc2.pdf"
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        pdf.save(path, encryption=pikepdf.Encryption(user="open-sesame", owner="owner-secret"))
    assert "is password-protected" in check(project)


@pytest.mark.parametrize("pages", [1, 3])
def test_the_fixture_project_itself_passes_check(project: Path, pages: int) -> None:
    write_pdf(project / "trust" / "private" / "soc2.pdf", pages=pages)
    result = CliRunner().invoke(main, ["check", "--project", str(project)])
    assert result.exit_code == 0, result.output


def test_a_crop_box_reaching_past_the_page_cannot_put_the_stamp_out_of_sight(tmp_path: Path) -> None:
    source = write_pdf(tmp_path / "report.pdf", pages=2)
    with pikepdf.open(source, allow_overwriting_input=True) as pdf:
        for page in pdf.pages:
            x0, y0, x1, y1 = (float(value) for value in page.mediabox)
            page.obj.CropBox = pikepdf.Array([x0 - 4000, y0 - 4000, x1, y1])
        pdf.save(source)
    assert_stamp_shows_on_every_page(stamped(source, tmp_path))


def test_an_annotation_painted_over_the_page_cannot_cover_the_stamp(tmp_path: Path) -> None:
    source = write_pdf(tmp_path / "report.pdf", pages=2)
    with pikepdf.open(source, allow_overwriting_input=True) as pdf:
        for page in pdf.pages:
            copy = page.as_form_xobject()
            appearance = pdf.make_stream(b"1 g 0 0 10000 10000 re f /P Do", Type=pikepdf.Name.XObject,
                                         Subtype=pikepdf.Name.Form, BBox=page.mediabox,
                                         Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(P=copy)))
            cover = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Square,
                                                         Rect=page.mediabox, F=4 | 128,
                                                         AP=pikepdf.Dictionary(N=appearance)))
            page.obj.Annots = pdf.make_indirect(pikepdf.Array([cover]))
        pdf.save(source)
    assert_stamp_shows_on_every_page(stamped(source, tmp_path))
