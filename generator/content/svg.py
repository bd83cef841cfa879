"""Refuse an SVG logo that could run code, load other files or expand entities when opened in the site's origin."""

from __future__ import annotations

import re
from collections import Counter
from xml.parsers import expat

MAX_SVG_BYTES = 512 * 1024

_FIX = "export the logo again as a plain SVG or use a PNG"
_SVG = "http://www.w3.org/2000/svg"
_XML = "http://www.w3.org/XML/1998/namespace"
# Inkscape's plain SVG keeps an RDF licence block in <metadata>; these vocabularies only describe.
_METADATA_NAMESPACES = frozenset({
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#", "http://purl.org/dc/elements/1.1/",
    "http://creativecommons.org/ns#", "http://web.resource.org/cc/",
})
# Compared in lower case: <SCRIPT> is refused too, though a browser would not run it.
_CODE_ELEMENTS = frozenset({"script", "handler", "listener"})
_EMBEDDING_ELEMENTS = frozenset({"foreignobject", "iframe", "embed", "object", "audio", "video"})
_ANIMATION_ELEMENTS = frozenset({"animate", "set", "animatetransform", "animatemotion", "animatecolor"})

_SAME_DOCUMENT = re.compile(r"#\S*")
_RASTER_DATA_URI = re.compile(r"data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=\s]*", re.IGNORECASE)
_DECLARATION = re.compile(rb"<!\s*(doctype|entity)", re.IGNORECASE)

_CSS_COMMENT = re.compile(r"/\*.*?(\*/|\Z)", re.DOTALL)
_CSS_ESCAPE = re.compile(r"\\(?:([0-9a-fA-F]{1,6})[ \t\r\n\f]?|\r\n|(.))", re.DOTALL)
_CSS_URL = re.compile(r"url\([\s'\"]*+(?!#)")  # any url( but url(#id); possessive, so linear
_CSS_LOADS = (
    (_CSS_URL, "loads an outside file with url()"),
    (re.compile(r"@import"), "imports a stylesheet with @import"),
    (re.compile(r"image-set\("), "loads an image with image-set()"),
    (re.compile(r"expression\("), "runs code with expression()"),
    (re.compile(r"javascript:"), "has a javascript: URL"),
)


class _Refused(Exception):
    """A problem after which reading on would be unsafe or pointless."""


def svg_problems(data: bytes) -> list[str]:
    """What makes this SVG unsafe to publish, one sentence each ending in what to do; empty if it is safe."""
    if len(data) > MAX_SVG_BYTES:
        return [f"the logo is {len(data) // 1024} KiB, over the {MAX_SVG_BYTES // 1024} KiB limit for an SVG "
                f"logo; {_FIX}"]
    # The parser refuses these too; the byte check also stops them before expat reads a single entity.
    if _DECLARATION.search(data):
        return [_dtd_problem()]
    return _Checker().run(data)


def _dtd_problem() -> str:
    return f"the logo has a DOCTYPE or ENTITY declaration, which can expand entities without limit; {_FIX}"


def _root_problem(local: str) -> str:
    if local == "svg":
        return f'the logo\'s <svg> element is not in the SVG namespace (xmlns="{_SVG}"), so it is not SVG; {_FIX}'
    return f"the logo's root element is <{local}>, not <svg>; {_FIX}"


class _Checker:
    """Expat handlers that note each problem as the parser meets it (no tree: the checks need none)."""

    def __init__(self) -> None:
        self.problems: dict[str, None] = {}  # ordered and without repeats: fifty onclick= make one line
        self.open: list[tuple[str, str]] = []  # (namespace, local name) of the elements around the parser
        self.around: Counter[tuple[str, str]] = Counter()  # the same, counted: deep nesting stays linear
        self.css = ""

    def run(self, data: bytes) -> list[str]:
        parser = expat.ParserCreate(namespace_separator=" ")
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        parser.buffer_text = True
        parser.StartDoctypeDeclHandler = self._refuse_declaration
        parser.EntityDeclHandler = self._refuse_declaration
        parser.UnparsedEntityDeclHandler = self._refuse_declaration
        parser.ExternalEntityRefHandler = self._refuse_declaration
        parser.ProcessingInstructionHandler = self._processing_instruction
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        parser.CharacterDataHandler = self._text
        try:
            parser.Parse(data, True)
        except _Refused as refused:
            return [str(refused)]
        except expat.ExpatError as error:
            return [f"the logo is not well-formed XML at line {error.lineno}, column {error.offset + 1} "
                    f"({expat.ErrorString(error.code)}); {_FIX}"]
        return list(self.problems)

    def _note(self, problem: str) -> None:
        self.problems[f"{problem}; {_FIX}"] = None

    def _refuse_declaration(self, *_: object) -> int:
        raise _Refused(_dtd_problem())

    def _processing_instruction(self, target: str, _data: str) -> None:
        self._note(f"the logo has a processing instruction <?{target}?>, which can load a stylesheet")

    def _start(self, name: str, attributes: dict[str, str]) -> None:
        namespace, local = _split(name)
        if not self.open and (namespace, local) != (_SVG, "svg"):
            raise _Refused(_root_problem(local))
        self._check_element(namespace, local)
        self._check_attributes(local, attributes)
        if namespace == _SVG and local.lower() in _ANIMATION_ELEMENTS:
            self._check_animation(local, attributes)
        self.open.append((namespace, local))
        self.around[namespace, local] += 1

    def _end(self, _name: str) -> None:
        namespace, local = self.open.pop()
        self.around[namespace, local] -= 1
        if (namespace, local) == (_SVG, "style"):
            self._check_css(self.css, "<style> element")
            self.css = ""

    def _text(self, text: str) -> None:
        if self.around[_SVG, "style"]:
            self.css += text

    def _check_element(self, namespace: str, local: str) -> None:
        if local.lower() in _CODE_ELEMENTS:
            self._note(f"the logo has a <{local}> element, which runs code")
        elif local.lower() in _EMBEDDING_ELEMENTS:
            self._note(f"the logo has a <{local}> element, which embeds another document or media")
        elif namespace == _SVG and local == "a":
            self._note("the logo has an <a> link, which a logo does not need and which can lead anywhere")
        elif namespace != _SVG and not (namespace in _METADATA_NAMESPACES and self.around[_SVG, "metadata"]):
            self._note(f"the logo has a <{local}> element outside the SVG namespace "
                       f"({namespace or 'no namespace'}), which a browser may run as HTML")

    def _check_attributes(self, element: str, attributes: dict[str, str]) -> None:
        for name, value in attributes.items():
            namespace, attribute = _split(name)
            kind = attribute.lower()
            if (namespace, kind) == (_XML, "base"):
                # A base URL would make href="#id" point into another file.
                self._note(f"the logo sets a base URL with xml:base on <{element}>")
            elif kind.startswith("on"):
                self._note(f"the logo has an event handler {attribute}= on <{element}>, which runs code")
            elif kind == "href":
                self._check_href(element, value)
            elif kind == "style":
                self._check_css(value, f"style attribute on <{element}>")
            else:
                # Presentation attributes are CSS too: fill="url(https://...)" fetches a file.
                self._check_css(value, f"{attribute} attribute on <{element}>")

    def _check_href(self, element: str, value: str) -> None:
        target = value.strip()
        if not (_SAME_DOCUMENT.fullmatch(target) or _RASTER_DATA_URI.fullmatch(target)):
            self._note(f"the logo's <{element}> has an href that is neither a #fragment of the logo itself nor an "
                       "embedded PNG, JPEG, GIF or WebP image")

    def _check_animation(self, element: str, attributes: dict[str, str]) -> None:
        target = attributes.get("attributeName", "").strip().lower().rpartition(":")[2]
        if target == "href" or target.startswith("on"):
            self._note(f"the logo's <{element}> animates an href or an event handler, which can make it run code")

    def _check_css(self, css: str, where: str) -> None:
        readable = _CSS_ESCAPE.sub(_unescape, _CSS_COMMENT.sub(" ", css)).lower()
        for pattern, what in _CSS_LOADS:
            if pattern.search(readable):
                self._note(f"the logo's {where} {what}")


def _split(name: str) -> tuple[str, str]:
    """Expat's "namespace local" (or just "local") as (namespace, local)."""
    namespace, _, local = name.rpartition(" ")
    return namespace, local


def _unescape(escape: re.Match[str]) -> str:
    """A CSS backslash escape as the character a browser reads (CSS Syntax 4.3.7)."""
    hex_digits, other = escape.groups()
    if hex_digits is None:
        return "" if other is None or other in "\r\n\f" else other  # an escaped newline continues the line
    code = int(hex_digits, 16)
    return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else "\ufffd"
