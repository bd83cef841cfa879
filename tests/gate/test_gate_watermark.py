"""The documents the gate serves: every page stamped for the recipient, and `check` refusing what cannot be."""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
from pathlib import Path

import pikepdf
import pytest
from click.testing import CliRunner
from conftest import write_pdf
from reportlab.lib.pagesizes import A4, LETTER, landscape  # type: ignore[import-untyped]
from reportlab.pdfgen import canvas  # type: ignore[import-untyped]

from generator.cli import main
from generator.gate import watermark

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
    assert len(first) == 2 and not first & second
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
