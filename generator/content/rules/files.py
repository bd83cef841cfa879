"""Rules on the files around the YAML: symlinks that lead out of their folder, raw HTML and scripts in the
hand-written pages."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from generator.content.rules import ERROR, Context, Finding, rule

# Files a browser runs or renders as markup when published as they are.
_ACTIVE_SUFFIXES = {".html", ".htm", ".xhtml", ".js", ".mjs", ".svg", ".xml", ".xsl", ".xslt"}
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"`+[^`\n]*`+")
# A start or end tag, or a comment-free declaration: `<div`, `</p>`, `<script src=...>`; autolinks such as
# <https://example.com> and <name@example.com> are Markdown, not HTML, and do not match.
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?=[\s/>])")


def _walk(folder: Path) -> Iterator[Path]:
    for current, folders, names in os.walk(folder, followlinks=False):
        for name in [*folders, *names]:
            yield Path(current, name)


@rule("symlink-leaves-folder", ERROR, "A symlink in the content, pages or theme folder points outside that folder "
                                      "(MkDocs follows it and would publish what it points to).")
def symlink_leaves_folder(ctx: Context) -> Iterator[Finding]:
    if not ctx.on_disk:
        return
    project = ctx.project
    for folder in (project.trust_dir, project.docs_dir, project.custom_dir):
        if folder is None or not folder.is_dir():
            continue
        root = folder.resolve()
        for path in _walk(folder):
            if path.is_symlink() and not path.resolve().is_relative_to(root):
                yield Finding("", (), f"this symlink points outside {project.display(folder)}/ (to "
                                      f"{os.readlink(path)}); copy the file in instead, or remove the link",
                              display=project.display(path))


@rule("raw-html-in-pages", ERROR, "Raw HTML or a script among the hand-written pages, without the plugin's "
                                  "`allow_raw_html: true` opt-in in mkdocs.yml.")
def raw_html_in_pages(ctx: Context) -> Iterator[Finding]:
    project = ctx.project
    if not ctx.on_disk or project.allow_raw_html or not project.docs_dir.is_dir():
        return
    opt_in = "or opt in with `allow_raw_html: true` under the trustcenter plugin in mkdocs.yml"
    for path in sorted(_walk(project.docs_dir)):
        if not path.is_file():
            continue
        if path.suffix.lower() in _ACTIVE_SUFFIXES:
            yield Finding("", (), f"{path.name} is a file browsers run or render as markup, published from the "
                                  f"pages folder; remove it, {opt_in}", display=project.display(path))
        elif path.suffix.lower() == ".md":
            text = _CODE_SPAN.sub("", _FENCE.sub("", path.read_text(encoding="utf-8", errors="replace")))
            match = _TAG.search(text)
            if match:
                yield Finding("", (), f"the page contains raw HTML ({match[0]}...); write it in Markdown, {opt_in}",
                              display=project.display(path))
