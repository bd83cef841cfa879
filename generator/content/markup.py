"""Render content Markdown to HTML safely: raw HTML shown as text, only http(s)/mailto/relative links."""

from __future__ import annotations

import functools
import html
import re
import xml.etree.ElementTree as etree

import markdown
from markdown.treeprocessors import Treeprocessor
from markupsafe import Markup

from generator.content import urls


class _LinkGuard(Treeprocessor):
    """Drops link targets with other schemes, and images from other hosts (no external requests).

    Links within the site are written relative to the site root (`[feed](feed.xml)`), since a
    text does not know which page shows it; `site_root` (e.g. "../") makes them work from there.
    """

    site_root = ""

    def run(self, root: etree.Element) -> None:
        for element in root.iter():
            if element.tag == "a":
                href = urls.safe_target(element.get("href", ""))
                if href is None:
                    element.attrib.pop("href", None)
                else:
                    element.set("href", self._from_page(href))  # as the browser reads it; escaped on output
                    if not urls.is_local(href):
                        element.set("rel", "noopener")
            elif element.tag == "img":
                src = urls.safe_target(element.get("src", ""))
                if src is None or not urls.is_local(src):
                    alt = element.get("alt", "")
                    element.tag = "span"
                    element.attrib.clear()
                    element.text = alt
                else:
                    element.set("src", self._from_page(src))

    def _from_page(self, target: str) -> str:
        if not urls.is_local(target) or target.startswith("#"):
            return target
        return self.site_root + target.lstrip("/")


def _converter() -> markdown.Markdown:
    converter = markdown.Markdown(extensions=["tables", "sane_lists"], output_format="html")
    # Raw HTML is not passed through: with these gone, Markdown escapes it as text.
    converter.preprocessors.deregister("html_block")
    converter.inlinePatterns.deregister("html")
    converter.treeprocessors.register(_LinkGuard(converter), "trustcenter_link_guard", 0)
    return converter


@functools.cache
def _shared() -> markdown.Markdown:
    return _converter()


def render(text: str, *, heading_offset: int = 0, site_root: str = "") -> Markup:
    """Markdown to HTML. heading_offset shifts headings down (a # in an answer becomes an h3);
    site_root is the way from the page showing the text to the site root (e.g. "../")."""
    converter = _shared()
    converter.reset()
    guard = converter.treeprocessors["trustcenter_link_guard"]
    assert isinstance(guard, _LinkGuard)
    guard.site_root = site_root
    output = converter.convert(text)
    if heading_offset:
        output = re.sub(r"<(/?)h([1-6])\b", lambda m: f"<{m[1]}h{min(6, int(m[2]) + heading_offset)}", output)
    return Markup(output)  # noqa: S704 - produced by Markdown with raw HTML disabled


def inline(text: str, *, site_root: str = "") -> Markup:
    """Markdown for one line (no surrounding paragraph)."""
    output = str(render(text, site_root=site_root))
    if output.startswith("<p>") and output.endswith("</p>") and output.count("<p>") == 1:
        output = output[3:-4]
    return Markup(output)  # noqa: S704 - see render()


def heading_text(text: str) -> str:
    """Plain text made safe for a Markdown heading line: HTML escaped, Markdown syntax neutral."""
    escaped = html.escape(" ".join(text.split()), quote=False)
    return re.sub(r"([\\`*_{}\[\]()#+!|~>-])", r"\\\1", escaped)
