"""What a hand-written page may contain once Markdown rendered it: no script, no element that embeds or submits,
no event handler, no link to a script scheme. Checked on the rendered HTML, so no Markdown trick (an escaped
backtick, an attribute list, an unusual tag name) gets past it; the opt-in is `allow_raw_html` in mkdocs.yml."""

from __future__ import annotations

from html.parser import HTMLParser

from generator.content import urls

_FORBIDDEN_ELEMENTS = {"script", "iframe", "frame", "frameset", "object", "embed", "applet", "form", "input",
                       "button", "textarea", "select", "base", "meta", "link", "style", "svg", "math", "portal",
                       "template", "noscript", "audio", "video"}
_URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "poster", "srcset", "data", "background",
                   "cite", "ping"}


class _Scanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _FORBIDDEN_ELEMENTS or ":" in tag:
            self.problems.append(f"a <{tag}> element")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"an event handler ({name}=) on <{tag}>")
            elif name in _URL_ATTRIBUTES and value is not None and urls.safe_target(value) is None:
                self.problems.append(f"a link to '{value[:40]}' on <{tag}>")
            elif name == "style" and value and ("url(" in value.lower() or "expression(" in value.lower()):
                self.problems.append(f"a style that loads or runs something on <{tag}>")


def problems(html: str) -> list[str]:
    """What in this rendered page runs, embeds, submits or links to a script, each said once."""
    scanner = _Scanner()
    scanner.feed(html)
    scanner.close()
    return list(dict.fromkeys(scanner.problems))
