"""Rules on the files around the YAML: folders and symlinks that lead out of the project, what the pages folder
may hold, raw HTML and scripts in hand-written pages, and where gated files live."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from generator.content import model
from generator.content.rules import ERROR, Context, Finding, rule

# What the pages folder may hold without the opt-in: Markdown and passive media. Anything else a browser may
# run, render as markup, or unpack (html, js, svg, xhtml, svgz, archives, PDFs that belong in documents/).
_PASSIVE_SUFFIXES = {".md", ".markdown", ".png", ".jpg", ".jpeg", ".gif", ".webp", ".avif", ".ico", ".css", ".woff",
                     ".woff2", ".txt"}
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"`+[^`\n]*`+")
# A start or end tag, or a comment-free declaration: `<div`, `</p>`, `<script src=...>`; autolinks such as
# <https://example.com> and <name@example.com> are Markdown, not HTML, and do not match.
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9._-]*(?::[A-Za-z][A-Za-z0-9._-]*)?(?=[\s/>])")
_ESCAPED_BACKTICK = re.compile(r"\\`")
# attr_list / md_in_html can put any attribute on an element: an event handler, or a link target.
_ATTRIBUTE_LIST = re.compile(r"\{:?[^}\n]*\b(on[a-z]+|href|src|style)\s*=", re.IGNORECASE)


def _walk(folder: Path) -> Iterator[Path]:
    for current, folders, names in os.walk(folder, followlinks=False):
        for name in [*folders, *names]:
            yield Path(current, name)


@rule("symlink-leaves-folder", ERROR, "A symlink in the content, pages or theme folder leads outside it, or the "
                                      "folder itself is a link (MkDocs would publish its target).")
def symlink_leaves_folder(ctx: Context) -> Iterator[Finding]:
    if not ctx.on_disk:
        return
    project = ctx.project
    for folder in (project.trust_dir, project.docs_dir, project.custom_dir):
        if folder is None or not folder.is_dir():
            continue
        root = folder.resolve()
        if root != folder.absolute() or not root.is_relative_to(project.root.resolve()):
            yield Finding("", (), f"{project.display(folder)}/ is (or lies under) a symlink to {root}; keep the folder "
                                  "itself in the project, not a link to it", display=project.display(folder))
            continue
        for path in _walk(folder):
            if path.is_symlink() and not path.resolve().is_relative_to(root):
                yield Finding("", (), f"this symlink points outside {project.display(folder)}/ (to "
                                      f"{os.readlink(path)}); copy the file in instead, or remove the link",
                              display=project.display(path))


@rule("raw-html-in-pages", ERROR, "Raw HTML, scripts or files other than Markdown and passive media in the "
                                  "pages folder, without `allow_raw_html: true` in mkdocs.yml.")
def raw_html_in_pages(ctx: Context) -> Iterator[Finding]:
    project = ctx.project
    if not ctx.on_disk or project.allow_raw_html or not project.docs_dir.is_dir():
        return
    opt_in = "or opt in with `allow_raw_html: true` under the trustcenter plugin in mkdocs.yml"
    for path in sorted(_walk(project.docs_dir)):
        if not path.is_file():
            continue
        suffix = path.suffix.lower()
        if suffix not in _PASSIVE_SUFFIXES:
            yield Finding("", (), f"{path.name} is not Markdown or a passive image, style or font, and would be "
                                  f"published as is; remove it (public documents go in {model.PUBLIC_DIR}/ of the "
                                  f"content folder), {opt_in}", display=project.display(path))
        elif suffix in (".md", ".markdown"):
            # A quick look for the editor; the build checks what Markdown actually produced (site.pages_check).
            text = path.read_text(encoding="utf-8", errors="replace")
            text = _CODE_SPAN.sub("", _FENCE.sub("", _ESCAPED_BACKTICK.sub("", text)))
            match = _TAG.search(text) or _ATTRIBUTE_LIST.search(text)
            if match:
                yield Finding("", (), f"the page contains raw HTML or attributes ({match[0]}...); write it in "
                                      f"Markdown, {opt_in}", display=project.display(path))


@rule("gated-file-location", ERROR, "A gated file must be in private/ of the content folder, which .gitignore keeps "
                                    "out of the repository.")
def gated_file_location(ctx: Context) -> Iterator[Finding]:
    gated_dir = (ctx.tc.root / model.GATED_DIR).resolve()
    for index, document in enumerate(ctx.tc.documents):
        if document.access is model.Access.GATED and not ctx.tc.document_path(document).is_relative_to(gated_dir):
            yield Finding("documents.yaml", ("documents", index, "file"),
                          f"the gated file '{document.file}' is not in {model.GATED_DIR}/; keep gated files there, "
                          "where .gitignore keeps them out of the repository and the leak check looks", document.id)
