"""Rules on documents.yaml: where each file is, that it exists, that a gated one can be watermarked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from generator.content import model
from generator.content.rules import ERROR, Context, Finding, rule

_FILE = "documents.yaml"


def _placed(ctx: Context) -> Iterator[tuple[int, model.Document, Path]]:
    """Each document with its resolved path, when that path is inside the project (others: document-path)."""
    for index, document in enumerate(ctx.tc.documents):
        path = ctx.tc.document_path(document)
        if path.is_relative_to(ctx.project.root):
            yield index, document, path


@rule("document-path", ERROR, "A document's file must be inside the project.")
def document_path(ctx: Context) -> Iterator[Finding]:
    for index, document in enumerate(ctx.tc.documents):
        if not ctx.tc.document_path(document).is_relative_to(ctx.project.root):
            yield Finding(_FILE, ("documents", index, "file"),
                          f"'{document.file}' leads outside the project; keep document files inside the repository "
                          "(gated ones outside the published pages)", document.id)


@rule("gated-file-in-site-source", ERROR, "A gated file inside the hand-written pages folder would be published.")
def gated_file_in_site_source(ctx: Context) -> Iterator[Finding]:
    docs_dir = ctx.project.docs_dir.resolve()
    for index, document, path in _placed(ctx):
        if document.access is model.Access.GATED and path.is_relative_to(docs_dir):
            yield Finding(_FILE, ("documents", index, "file"),
                          f"the gated file '{document.file}' is inside {ctx.project.display(docs_dir)}/, which is "
                          "published; move it, e.g. to private/ in the content folder", document.id)


@rule("document-file-missing", ERROR, "A document's file does not exist.")
def document_file_missing(ctx: Context) -> Iterator[Finding]:
    for index, document, path in _placed(ctx):
        if document.access is model.Access.GATED and not ctx.gated_files:
            continue
        if not path.is_file():
            yield Finding(_FILE, ("documents", index, "file"),
                          f"the file '{document.file}' does not exist (looked in {ctx.project.display(path)}); add it "
                          "or fix the path", document.id)


@rule("public-file-name-clash", ERROR, "Two public documents have the same file name; they are published side by side.")
def public_file_name_clash(ctx: Context) -> Iterator[Finding]:
    names: set[str] = set()
    for index, document, path in _placed(ctx):
        if document.access is not model.Access.PUBLIC or not path.is_file():
            continue
        if document.public_name in names:
            yield Finding(_FILE, ("documents", index, "file"),
                          f"two public documents share the file name '{document.public_name}'; rename one (they are "
                          "published side by side)", document.id)
        names.add(document.public_name)


@rule("gated-file-unusable", ERROR, "A gated file is not a PDF the gate can watermark.")
def gated_file_unusable(ctx: Context) -> Iterator[Finding]:
    if not ctx.gated_files:
        return
    docs_dir = ctx.project.docs_dir.resolve()
    for index, document, path in _placed(ctx):
        if document.access is model.Access.GATED and path.is_file() and not path.is_relative_to(docs_dir):
            problem = _pdf_problem(path)
            if problem:
                yield Finding(_FILE, ("documents", index, "file"), f"the gated file '{document.file}' {problem}",
                              document.id)


def _pdf_problem(path: Path) -> str | None:
    """Why the gate could not watermark this file, or None."""
    import pikepdf  # lazy: only gated documents need it

    try:
        with pikepdf.open(path) as pdf:
            if len(pdf.pages) == 0:
                return "has no pages; export the report again"
    except pikepdf.PasswordError:
        return "is password-protected, so it cannot be watermarked; give the gate an unprotected copy"
    except (pikepdf.PdfError, OSError) as exc:
        return f"is not a readable PDF ({str(exc).splitlines()[0][:80]}); the gate only serves PDFs"
    return None
