"""Rules on documents.yaml: where each file is, that it exists, that a gated one can be watermarked, and that
nothing gated becomes public without a reviewed decision."""

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


@rule("public-file-location", ERROR, "A public document's file must be in documents/ of the content folder, "
                                     "and no part of its path may start with a dot.")
def public_file_location(ctx: Context) -> Iterator[Finding]:
    public_dir = (ctx.tc.root / model.PUBLIC_DIR).resolve()
    for index, document, path in _placed(ctx):
        if document.access is not model.Access.PUBLIC:
            continue
        if any(part.startswith(".") for part in Path(document.file).parts):
            yield Finding(_FILE, ("documents", index, "file"),
                          f"'{document.file}' names a hidden file or folder; public files are ordinary files in "
                          f"{model.PUBLIC_DIR}/", document.id)
        elif not path.is_relative_to(public_dir):
            # resolve() followed any symlink: a link in documents/ to elsewhere is caught here too.
            yield Finding(_FILE, ("documents", index, "file"),
                          f"the public file '{document.file}' is not in {model.PUBLIC_DIR}/ of the content folder; "
                          f"everything a public entry names is published, so keep public files in "
                          f"{model.PUBLIC_DIR}/ (and gated ones in {model.GATED_DIR}/)", document.id)


@rule("made-public-without-review", ERROR, "A document that was gated (at the base revision, or whose file is in "
                                           "private/) is public without a `declassified` decision.")
def made_public_without_review(ctx: Context) -> Iterator[Finding]:
    gated_dir = (ctx.tc.root / model.GATED_DIR).resolve()
    before = ctx.base_documents
    for index, document in enumerate(ctx.tc.documents):
        if document.access is not model.Access.PUBLIC or document.declassified is not None:
            continue
        was = before.get(document.id) or _renamed_from(document, before, ctx)
        if was is not None and was.access is model.Access.GATED:
            why = (f"it was gated at {ctx.base_label}" if was.id == document.id else
                   f"it looks like the gated '{was.id}' of {ctx.base_label} (same title or file name) under a new id")
        elif ctx.tc.document_path(document).is_relative_to(gated_dir) or (was is not None and \
                (ctx.tc.root / was.file).resolve().is_relative_to(gated_dir)):
            why = f"its file is in {model.GATED_DIR}/, where gated files live"
        else:
            continue
        yield Finding(_FILE, ("documents", index, "access"),
                      f"'{document.id}' would be published, but {why}; if making it public is decided, add "
                      "`declassified: {on: YYYY-MM-DD, reason: ...}` to the entry so the review sees it, otherwise "
                      "set access back to gated", document.id)


def _renamed_from(document: model.Document, before: dict[str, model.Document], ctx: Context) -> model.Document | None:
    """A gated document of the base revision that this new public one looks like: the same title or file name."""
    if document.id in before:
        return None
    now = {d.id for d in ctx.tc.documents}
    for old in before.values():
        if old.access is model.Access.GATED and (old.id not in now or ctx.tc.document(old.id) != old) and (
                old.title.casefold() == document.title.casefold()
                or Path(old.file).stem.casefold() == Path(document.file).stem.casefold()):
            return old
    return None


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


@rule("gated-file-unusable", ERROR, "A gated file is not a PDF the gate can watermark, or carries what the gate "
                                   "must not pass on (JavaScript, launch actions, embedded files).")
def gated_file_unusable(ctx: Context) -> Iterator[Finding]:
    if not ctx.gated_files:
        return
    from generator.content.pdf import pdf_problems  # lazy: pikepdf is needed only for gated files

    docs_dir = ctx.project.docs_dir.resolve()
    for index, document, path in _placed(ctx):
        if document.access is model.Access.GATED and path.is_file() and not path.is_relative_to(docs_dir):
            for problem in pdf_problems(path):
                yield Finding(_FILE, ("documents", index, "file"), f"the gated file '{document.file}' {problem}",
                              document.id)
